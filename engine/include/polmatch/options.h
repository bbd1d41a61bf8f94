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
  // Use the snapshot file in place (mapped; its columns are not copied): a faster Create and
  // Reload and no second copy in memory, on the condition that the file is never modified in place
  // while the engine uses it — replace it with a new file and a rename, as `polmatch index` does.
  // Default: the columns are copied, and the engine does not depend on the file afterwards.
  // Either way the engine also keeps each firm's record by row for single-firm queries
  // (16 + 8 × facts bytes, plus 8 per 64 facts, rounded up to 64 per firm: 192 with 19 facts).
  bool snapshot_in_place = false;
  // Threads used to place a firm within a policy's `limit` (which ranks the whole registry).
  int limit_threads = 2;
  // A grant ledger (SQLite, written by `batch --ledger`), opened read-only for Grants(). Empty:
  // none (Grants() is FailedPrecondition).
  std::string ledger_path;
  // Largest firm profile accepted by Evaluate(), in facts + tags (a request-size guard).
  size_t max_profile_items = 1000;
};

}  // namespace polmatch

#endif  // POLMATCH_OPTIONS_H_
