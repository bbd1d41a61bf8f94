// File: simulate.h
//
// What-if simulation of a policy reform over the whole registry (武汉 §三(一) 重大政策评估,
// 湛江 §二(八)6 定期评估): the registry is matched against the baseline catalog and against the
// reform, and the two are compared firm by firm for the policies the reform touches — newly
// eligible, newly ineligible, still eligible (and whose amount changed), and the benefit total
// before and after — overall, per policy, per city, per industry section and per size band.
//
// Only the affected policies are matched: the reformed ones and every member of their exclusive
// groups (in either catalog), since 就高不重复 couples their statuses. Limits rank within one
// policy, so they need nothing more. Outcomes are exactly the bulk matcher's (groups and limits
// applied); "eligible" means ELIGIBLE, and benefit totals are sums of the known ELIGIBLE benefits,
// exact (YuanTotal).
//
// Example:
//   std::vector<std::string> changed;
//   absl::StatusOr<Catalog> reform = ApplyReform(baseline, fragment, "reform.textproto", &diags, &changed);
//   absl::StatusOr<Simulation> s = Simulate(baseline, *reform, changed, store, {as_of, 2}, &diags);
//   s->total.newly_eligible;
#ifndef POLMATCH_ANALYSIS_SIMULATE_H_
#define POLMATCH_ANALYSIS_SIMULATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "engine/util/amounts.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/util/diagnostics.h"

namespace polmatch {

// Counted over (firm, policy) pairs.
struct SimulationCounts {
  int64_t newly_eligible = 0;    // not ELIGIBLE before, ELIGIBLE after
  int64_t newly_ineligible = 0;  // ELIGIBLE before, not after
  int64_t unchanged = 0;         // ELIGIBLE before and after …
  int64_t amount_changed = 0;    // … of which with a different benefit
  YuanTotal benefit_before;      // known benefits of the ELIGIBLE pairs
  YuanTotal benefit_after;

  YuanTotal delta() const {
    YuanTotal d = benefit_after;
    d.Subtract(benefit_before);
    return d;
  }
  bool any_change() const { return newly_eligible + newly_ineligible + amount_changed > 0; }
};

struct SimulationRow {
  std::string key;    // policy id, city code ("440800"), section letter, size band
  std::string label;  // title or name ("湛江市", "信息传输、软件和信息技术服务业", "小型 10–99人")
  SimulationCounts counts;
};

struct Simulation {
  absl::CivilDay as_of;
  uint32_t firms = 0;
  std::vector<std::string> changed;   // the reform's policy ids
  std::vector<std::string> compared;  // changed + their exclusive-group partners, ascending
  int64_t firms_affected = 0;         // firms with any change
  SimulationCounts total;
  std::vector<SimulationRow> by_policy;   // by id
  std::vector<SimulationRow> by_city;     // by code; region's first 4 digits + "00"
  std::vector<SimulationRow> by_section;  // by letter; "?" = unknown industry
  std::vector<SimulationRow> by_size;     // 微型 <10, 小型 10–99, 中型 100–999, 大型 ≥1000, unknown
  double baseline_seconds = 0;            // matching the baseline (affected policies)
  double reform_seconds = 0;
  double compare_seconds = 0;
};

struct SimulationOptions {
  absl::CivilDay as_of;
  int threads = 1;
};

// Compares `baseline` and `reform` (the same catalog with `changed` policies replaced or added)
// over `store`. Both catalogs must share a tag library with the store.
absl::StatusOr<Simulation> Simulate(const Catalog& baseline, const Catalog& reform,
                                    const std::vector<std::string>& changed, const FirmStore& store,
                                    const SimulationOptions& options, Diagnostics* diags);

// The size band of a firm by its employees (nullopt = unknown): "micro", "small", "medium",
// "large", "unknown" keys; labels in Chinese with the bounds.
const char* SizeBandKey(const std::optional<Decimal>& employees);

}  // namespace polmatch

#endif  // POLMATCH_ANALYSIS_SIMULATE_H_
