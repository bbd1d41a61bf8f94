// File: reference.h
//
// The reference matcher: every status of SPEC §3 computed the plain way, one firm and one policy
// at a time, with the tree-walking evaluator. It is the oracle of the differential tests and
// serves `query` and `check`. Thread-safe (holds only const references).
//
// Example:
//   ReferenceMatcher matcher(catalog);
//   FirmView view(firm, catalog.taxonomy(), as_of);
//   std::vector<Outcome> outcomes = matcher.EvaluateFirm(view);   // groups applied
#ifndef POLMATCH_MATCH_REFERENCE_H_
#define POLMATCH_MATCH_REFERENCE_H_

#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "engine/catalog/catalog.h"
#include "engine/expr/eval.h"
#include "engine/ingest/firm.h"
#include "engine/match/outcome.h"

namespace polmatch {

class ReferenceMatcher {
 public:
  explicit ReferenceMatcher(const Catalog& catalog) : catalog_(catalog) {}

  // One policy alone: ELIGIBLE, UNDETERMINED, NEAR_MISS or INELIGIBLE (inactive policies are
  // INELIGIBLE). For eligible firms of limited policies, `rank` is filled.
  Outcome EvaluatePolicy(const CompiledPolicy& policy, const FirmEnv& env) const;

  // Every policy (catalog order) for one firm, exclusive groups applied (EXCLUDED).
  std::vector<Outcome> EvaluateFirm(const FirmEnv& env) const;

  // Every firm × policy, groups and then limits applied (NOT_SELECTED): result[firm][policy].
  std::vector<std::vector<Outcome>> EvaluateAll(const std::vector<Firm>& firms,
                                                absl::CivilDay as_of) const;

 private:
  const Catalog& catalog_;
};

// Among one firm's ELIGIBLE outcomes in each exclusive group, keeps the highest benefit (unknown
// ranks lowest; ties: smaller policy id) and marks the others EXCLUDED.
void ApplyExclusiveGroups(const Catalog& catalog, std::vector<Outcome>& firm_outcomes);

// For each policy with a limit: ranks its ELIGIBLE firms by rank (highest first, unknown last;
// ties: smaller credit code) and marks those beyond the limit NOT_SELECTED.
void ApplyLimits(const Catalog& catalog, const std::vector<const std::string*>& credit_codes,
                 std::vector<std::vector<Outcome>>& outcomes);

}  // namespace polmatch

#endif  // POLMATCH_MATCH_REFERENCE_H_
