// File: plan.h
//
// MatchPlan is a catalog compiled for one FirmStore: every eligibility, benefit and rank_by
// expression becomes a node of one shared DAG, so a predicate written by many policies
// (`revenue >= 1000万`, `region under "441500"`, `not credit.blacklist`) is one node and is
// evaluated once per block however many policies use it. Region tests become row ranges of the
// store (its rows are sorted by region), industry tests a lookup table over the store's industry
// dictionary; `and`/`or`/`not`/`in` of region (or industry) tests fold into one such node. Each
// policy gets a row scope from its top-level region conditions: outside it the policy is
// INELIGIBLE whatever the other data says, so the matcher skips those blocks.
//
// Boolean nodes yield (T, F) block bitsets; numeric nodes (numbers as Decimal raw millionths,
// dates as day numbers) yield a block of int64 values with a known bitmask. Nodes evaluated
// densely (reachable from an eligibility) get a scratch slot; slots are reused between nodes
// whose lifetimes (ranges of policy units in evaluation order) do not overlap, which keeps the
// per-block working set small. Benefit and rank_by nodes are evaluated per row, only for the
// rows that need them.
//
// The plan is as_of-independent: `as_of`, tag validity and policy validity windows are applied
// by the matcher. Immutable once compiled.
#ifndef POLMATCH_MATCH_PLAN_H_
#define POLMATCH_MATCH_PLAN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/catalog/catalog.h"
#include "engine/expr/ast.h"
#include "engine/index/firm_store.h"

namespace polmatch {

enum class PlanOp : uint8_t {
  // Boolean nodes: (T, F) bitsets.
  kBoolConst,     // imm: 0 or 1
  kTagHeld,       // imm: tag id; held on as_of, closed over the hierarchy
  kHasFact,       // imm: fact id
  kRegionSet,     // aux: index of region_sets(); unknown region → unknown
  kIndustrySet,   // aux: index of industry_sets()
  kNot,
  kAnd,
  kOr,
  kCompare,       // cmp: kLt..kNe; args: two numeric nodes
  kBoolEq,        // cmp: kEq or kNe; args: two boolean nodes
  kIfBool,        // args: condition, then, else
  // Numeric nodes: values + known mask. Numbers are Decimal raw, dates day numbers.
  kNumConst,      // imm: the value
  kFact,          // imm: fact id
  kFounded,
  kAsOf,
  kValidFrom,     // imm: tag id
  kValidTo,       // imm: tag id
  kNeg,
  kAbs,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMin,
  kMax,
  kIfNum,         // args: condition, then, else
  kTier,          // args: x, t1, a1, t2, a2, …
  kYearsBetween,  // args: two dates
  kDaysBetween,
};

bool IsBoolOp(PlanOp op);
const char* PlanOpName(PlanOp op);

struct PlanNode {
  PlanOp op = PlanOp::kBoolConst;
  Op cmp = Op::kNone;
  int64_t imm = 0;
  int32_t aux = -1;
  std::vector<int32_t> args;
  // Evaluated block-wise (reachable from an eligibility). Such a node has a slot unless its view
  // costs nothing (constants, fact columns, `not`).
  bool dense = false;
  int32_t slot = -1;
  bool is_bool() const { return IsBoolOp(op); }
};

// Rows where a region test is true (sorted, disjoint); it is unknown on the store's rows of unknown
// region and false elsewhere.
struct RegionSet {
  std::vector<RowRange> true_rows;
};

// Per industry dictionary id of the store: 0 false, 1 true, 2 unknown. Where unknown is exactly
// id 0 (always, for sets built from codes), `true_ids` lists the ids that are true as ranges
// [first, second) — the store orders its dictionary by code, so an `under` test is one range.
struct IndustrySet {
  std::vector<uint8_t> value;
  std::vector<std::pair<uint16_t, uint32_t>> true_ids;  // empty with ranges_valid: none true
  bool ranges_valid = false;
};

struct PolicyPlan {
  int policy = 0;                   // catalog index
  int32_t eligibility = -1;
  std::vector<int32_t> conditions;  // top-level `and` terms (CompiledPolicy::conditions)
  std::vector<bool> actionable;
  bool any_actionable = false;      // near misses are possible
  int32_t benefit = -1;
  int32_t rank = -1;                // rank_by, only when the policy has a limit
  int group = -1;                   // index into MatchPlan::groups()
  std::vector<RowRange> scope;      // outside these rows the policy is INELIGIBLE
};

// A unit of evaluation: one policy, or all policies of an exclusive group (resolved together).
struct PlanUnit {
  std::vector<int> policies;  // catalog indexes, ascending
};

class MatchPlan {
 public:
  static absl::StatusOr<MatchPlan> Compile(const Catalog& catalog, const FirmStore& store);

  const std::vector<PlanNode>& nodes() const { return nodes_; }
  const std::vector<PolicyPlan>& policies() const { return policies_; }  // by catalog index
  const std::vector<std::vector<int>>& groups() const { return groups_; }
  // Units in evaluation order (slot lifetimes are ranges of this order).
  const std::vector<PlanUnit>& units() const { return units_; }
  const std::vector<RegionSet>& region_sets() const { return region_sets_; }
  const std::vector<IndustrySet>& industry_sets() const { return industry_sets_; }
  const Taxonomy& taxonomy() const { return *taxonomy_; }
  int num_bool_slots() const { return num_bool_slots_; }
  int num_num_slots() const { return num_num_slots_; }

  // "(>= fact#0 10000000)", for tests and debugging.
  std::string NodeToString(int32_t node) const;

 private:
  friend class PlanCompiler;
  std::shared_ptr<const Taxonomy> taxonomy_;
  std::vector<PlanNode> nodes_;
  std::vector<PolicyPlan> policies_;
  std::vector<std::vector<int>> groups_;
  std::vector<PlanUnit> units_;
  std::vector<RegionSet> region_sets_;
  std::vector<IndustrySet> industry_sets_;
  int num_bool_slots_ = 0;
  int num_num_slots_ = 0;
};

}  // namespace polmatch

#endif  // POLMATCH_MATCH_PLAN_H_
