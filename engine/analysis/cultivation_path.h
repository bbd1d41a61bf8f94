// File: cultivation_path.h
//
// Cultivation paths (漯河 "小升高", 湖北 高企后备): for one firm, the shortest sequence of
// qualifications from the tag library's ladders (e.g. qual.sme_tech → qual.hitech_reserve →
// qual.hitech → qual.specialized) that unlocks the most benefit, with the policies each step
// unlocks (or closes: a 后备库 is for firms that are not yet 高企).
//
// How: the states are the sets of ladder qualifications the firm does not hold yet that it has
// obtained (all subsets: ladders are short), and an edge adds one of them — a hypercube, searched
// breadth-first with Boost.Graph from the firm as it is. Each state is valued by the reference
// matcher on a hypothetical firm holding the added tags from `as_of` on (exclusive groups applied;
// limits, which rank the whole registry, are not): first the total known benefit of its ELIGIBLE
// policies, then the number of them (many ladder policies grant entry to a programme rather than
// money). The best value reached with the fewest steps wins; ties go to the lower ladder steps,
// and a path is listed in ladder order.
//
// Example:
//   absl::StatusOr<CultivationPath> path = FindCultivationPath(catalog, firm, {as_of});
//   for (const PathStep& s : path->steps) { s.tag; s.gained; }
#ifndef POLMATCH_ANALYSIS_CULTIVATION_PATH_H_
#define POLMATCH_ANALYSIS_CULTIVATION_PATH_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "engine/util/amounts.h"
#include "engine/catalog/catalog.h"
#include "engine/ingest/firm.h"
#include "engine/util/decimal.h"

namespace polmatch {

struct UnlockedPolicy {
  std::string id;
  std::string title;
  bool auto_grant = false;
  std::optional<Decimal> benefit;  // nullopt: no amount stated (see note) or unknown
  std::string note;                // benefit_note when there is no amount
};

struct PathStep {
  std::string tag;                     // the qualification obtained at this step
  std::string tag_name;
  std::vector<UnlockedPolicy> gained;  // ELIGIBLE after this step, not before
  std::vector<UnlockedPolicy> lost;    // ELIGIBLE before this step, not after
  YuanTotal total;                     // the firm's known benefit total after this step
  int eligible = 0;                    // its ELIGIBLE policies after this step
};

struct CultivationPath {
  std::vector<std::string> ladders;  // ids of the ladders searched
  std::vector<std::string> steps_considered;  // their qualifications, ladder order
  std::vector<std::string> held;     // … of which the firm holds on as_of
  YuanTotal start_total;
  int start_eligible = 0;
  std::vector<PathStep> steps;       // empty when no qualification would add anything
  int states = 0;                    // states evaluated
};

struct PathOptions {
  absl::CivilDay as_of;
  std::string ladder;  // a ladder id; empty = every ladder of the tag library
  // The search is exhaustive over subsets: refuse more unheld qualifications than this.
  int max_unheld = 16;
};

// The best cultivation path of `firm`. Errors: an unknown ladder, no ladders, too many steps.
absl::StatusOr<CultivationPath> FindCultivationPath(const Catalog& catalog, const Firm& firm,
                                                    const PathOptions& options);

}  // namespace polmatch

#endif  // POLMATCH_ANALYSIS_CULTIVATION_PATH_H_
