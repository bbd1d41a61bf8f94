// File: explain.h
//
// Explanations of outcomes for people: each top-level condition with its value and the firm's
// data behind it, and the benefit computation (SPEC §4 `query` and `check`).
#ifndef POLMATCH_MATCH_EXPLAIN_H_
#define POLMATCH_MATCH_EXPLAIN_H_

#include <string>
#include <vector>

#include "engine/catalog/catalog.h"
#include "engine/ingest/firm.h"
#include "engine/match/outcome.h"
#include "proto/polmatch.pb.h"

namespace polmatch {

// The result of one policy for one firm, with conditions traced.
PolicyResult ExplainOutcome(const CompiledPolicy& policy, const Taxonomy& taxonomy,
                            const FirmView& firm, const Outcome& outcome);

// Every policy's result for one firm: ELIGIBLE first (highest benefit first), then NEAR_MISS,
// UNDETERMINED, EXCLUDED, NOT_SELECTED and INELIGIBLE; ties by policy id. `outcomes` is in
// catalog order.
// With `trace_ineligible` false, INELIGIBLE results carry their status but no condition trace
// (the embedded engine's fast form; Explain() traces any one policy on demand).
FirmMatches ExplainFirm(const Catalog& catalog, const FirmView& firm,
                        const std::vector<Outcome>& outcomes, bool trace_ineligible = true);

// "年营业收入 revenue = 12000000" for every fact, tag and built-in `node` reads.
std::string DescribeData(const Node& node, const Taxonomy& taxonomy, const FirmView& firm);

}  // namespace polmatch

#endif  // POLMATCH_MATCH_EXPLAIN_H_
