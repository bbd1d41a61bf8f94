// File: rule_checks.h
//
// Rule checks of `polmatch lint`: mistakes a catalog can hold that the parser and type checker
// cannot see, each reported as a Diagnostic at `file:line:col` with a message that says what is
// wrong and why, ending in the check's name in brackets:
//
//   [unsatisfiable]  error    the top-level conditions can never all be true
//                             (`revenue > 100万 and revenue < 50万`, `region under "441500" and
//                             region under "440800"`, `t and not t`): the policy matches nobody
//   [always-true]    warning  a condition that is true for every firm with its data
//                             (`revenue > 1 or revenue <= 1`, `1 < 2`), or one implied by the
//                             other conditions (`revenue > 0` beside `revenue >= 1000万`)
//   [tier-order]     warning  tier() thresholds that do not rise;
//                    error    a repeated threshold (the later amount never applies)
//   [unit-mismatch]  error    a yuan amount compared with, added to or bounded by persons or a
//                             count (a fact against a literal is fine: literals carry no unit)
//   [undated]        warning  no valid_from: the policy applies on any date, however early
//   [expired]        warning  valid_to before --as-of: the policy matches nobody (past policies
//                             are kept for reference and audits, so this is not an error)
//   [group]          warning  an exclusive group whose members can never both apply (disjoint
//                             regions, contradictory conditions, validity windows that do not
//                             overlap) or with one member: 就高不重复 never has to choose
//   [duplicate]      warning  two policies with structurally equal eligibility and benefit in
//                             force at the same time
//   [calendar]       warning  publicity_days > 0, but rules/calendar does not cover every year
//                             of the policy's validity (an open end counts up to --as-of's
//                             year): its 公示 could not be counted in working days
//
// The condition reasoning (engine/analysis/conditions.h) is sound but not complete: a finding is
// always real; some problems hidden in opaque expressions are not found.
#ifndef POLMATCH_ANALYSIS_RULE_CHECKS_H_
#define POLMATCH_ANALYSIS_RULE_CHECKS_H_

#include "absl/time/civil_time.h"
#include "engine/catalog/catalog.h"
#include "engine/util/calendar.h"
#include "engine/util/diagnostics.h"

namespace polmatch {

struct RuleCheckOptions {
  absl::CivilDay as_of;  // [expired] is relative to this date
  bool undated = true;   // report [undated] (off only for fixtures that test other checks)
  // rules/calendar for [calendar]; null when there is none (or it did not load): then every
  // policy with publicity_days is reported.
  const WorkingCalendar* calendar = nullptr;
};

// Runs every check over `catalog` and adds the findings to `diags`.
void CheckRules(const Catalog& catalog, const RuleCheckOptions& options, Diagnostics* diags);

}  // namespace polmatch

#endif  // POLMATCH_ANALYSIS_RULE_CHECKS_H_
