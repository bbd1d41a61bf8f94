// File: options.h
//
// GenOptions: what both synthetic generators of `polmatch gen` (firms, policies) are told.
#ifndef POLMATCH_GEN_OPTIONS_H_
#define POLMATCH_GEN_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"

namespace polmatch::gen {

struct GenOptions {
  // Same seed (and the same other options and tag library) → byte-identical output.
  uint64_t seed = 1;
  // Six-digit GB/T 2260 codes (province, city or county) that firms and policy scopes are drawn
  // under; empty = kDefaultRegions. See ParseRegionList.
  std::vector<std::string> regions;
  // Anchor of every date: firms are founded and qualified before it, certificates expire around
  // it, policies are valid around it.
  absl::CivilDay as_of = absl::CivilDay(2025, 6, 30);
};

// 广东, 湖北, 河南 (the seed documents' provinces), 江苏, 浙江, 四川.
inline const std::vector<std::string>& DefaultRegions() {
  static const std::vector<std::string> kRegions = {"440000", "420000", "410000",
                                                    "320000", "330000", "510000"};
  return kRegions;
}

}  // namespace polmatch::gen

#endif  // POLMATCH_GEN_OPTIONS_H_
