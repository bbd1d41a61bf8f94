// File: polmatch/options.h
//
// EngineOptions: what an embedded polmatch::Engine loads and the limits it enforces.
#ifndef POLMATCH_OPTIONS_H_
#define POLMATCH_OPTIONS_H_

#include <cstddef>
#include <string>

namespace polmatch {

struct EngineOptions {
  // A rules directory (taxonomy/, policies/), as `polmatch lint` checks it.
  std::string rules_dir;
  // A snapshot written by `polmatch index`. Empty: no registry (only Evaluate() of profiles).
  std::string snapshot_path;
  // Threads used to place a firm within a policy's `limit` (which ranks the whole registry).
  int limit_threads = 2;
  // Largest firm profile accepted by Evaluate(), in facts + tags (a request-size guard).
  size_t max_profile_items = 1000;
};

}  // namespace polmatch

#endif  // POLMATCH_OPTIONS_H_
