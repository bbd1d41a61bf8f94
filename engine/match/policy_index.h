// File: policy_index.h
//
// PolicyIndex answers one firm against a whole catalog in microseconds (the embedded engine's
// single-firm path, SPEC §6). It is the catalog turned around for one firm at a time:
//
// * Candidates by region scope. A policy with a top-level `region under "X"` condition is
//   INELIGIBLE for every firm outside X (the condition is false and not actionable, so it cannot
//   be a near miss), so policies are listed under their scope and a firm looks up only the lists
//   of its country, province, city and county: most of a province's catalog is never touched.
// * Shared conditions. Every distinct top-level condition of the catalog (structurally equal
//   conditions of different policies are one) is compiled once: tag tests become a bit of the
//   firm's held-tag vector, `fact op constant` an integer comparison, `region/industry under`
//   a prefix test; anything else is evaluated by the reference evaluator once per firm and
//   memoised, however many policies share it.
// * Early exit. A policy's conditions are visited cheapest first, and the visit stops as soon
//   as the status is decided INELIGIBLE: a false non-actionable condition, two false conditions,
//   or a false and an unknown one (a near miss needs every other condition true).
//
// The statuses and benefits equal ReferenceMatcher::EvaluateFirm's (exclusive groups applied;
// limits are a property of the whole registry and are left to the caller); tests check it on
// random catalogs against the reference (tests/bulk_differential_test.cc) and on generated
// catalogs through the engine (tests/engine_differential_test.cc).
//
// Immutable once built and safe to use from any number of threads (per-thread scratch space).
// The catalog must outlive the index.
#ifndef POLMATCH_MATCH_POLICY_INDEX_H_
#define POLMATCH_MATCH_POLICY_INDEX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/catalog/catalog.h"
#include "engine/expr/ast.h"
#include "engine/ingest/firm.h"
#include "engine/match/outcome.h"

namespace polmatch {

// One policy's outcome for the firm; only policies that are not INELIGIBLE are reported.
struct PolicyHit {
  int policy = 0;  // catalog index
  Outcome outcome;
};

class PolicyIndex {
 public:
  explicit PolicyIndex(const Catalog& catalog);

  // The outcome of every policy that is not INELIGIBLE for `view`'s firm on view.AsOf(), by
  // ascending catalog index, exclusive groups applied (limits not). `out` is overwritten.
  void Match(const FirmView& view, std::vector<PolicyHit>* out) const;

  // Every policy's outcome (catalog order), for callers that want the dense form.
  std::vector<Outcome> MatchAll(const FirmView& view) const;

  // Work counters of the last Match on this thread (for benchmarks and tests).
  struct Stats {
    int candidates = 0;        // policies in the firm's scope lists
    int visited = 0;           // of which passed the prefilter
    int generic = 0;           // conditions evaluated by the reference evaluator
    int conditions = 0;        // condition visits
  };
  static Stats LastStats();

  int num_conditions() const { return num_conditions_; }  // distinct top-level conditions
  int num_generic() const { return static_cast<int>(generic_.size()); }

 private:
  enum class CondKind : uint8_t {
    kTag,          // id: tag
    kTagAny,       // k: mask of tags (num_tags <= 64); `a or b or …`
    kTagAll,       // k: mask of tags; `a and b and …` (under a `not`)
    kFactCmp,      // fact id op k (Decimal raw)
    kFactFact,     // fact id op fact k
    kHasFact,      // id: fact
    kRegionUnder,  // id: index of codes_
    kIndustryUnder,
    kGeneric,      // id: memo slot (generic_)
  };
  // One condition of one policy, as visited: 16 bytes, a policy's conditions contiguous.
  struct CondRec {
    CondKind kind = CondKind::kGeneric;
    uint8_t negate = 0;
    uint8_t actionable = 0;
    Op op = Op::kNone;
    int32_t id = 0;
    int64_t k = 0;
  };
  struct PolicyEntry {  // what the visit needs beyond the list entry
    uint8_t has_eligibility = 0;
    int32_t valid_from = INT32_MIN;  // day numbers; open = INT32_MIN / INT32_MAX
    int32_t valid_to = INT32_MAX;
    int32_t group = -1;
  };

  // What a policy's tag conditions require of the firm's held-tag word (tag ids < 64), checked
  // in one pass over a scope's list before any condition is visited: a policy whose
  // non-actionable tag conditions are not met, or two of whose actionable ones are false, is
  // INELIGIBLE. Only rejects what is certain; everything else is decided by the visit.
  struct alignas(64) Prefilter {  // one cache line: the lists are streamed per query
    uint64_t fixed_mask = 0, fixed_want = 0;    // non-actionable `t` / `not t`: (held & m) == w
    uint64_t change_mask = 0, change_want = 0;  // actionable ones: false count = popcount(…)
    uint64_t any_mask = 0;                      // one `a or b or …` of tags: false if none held
    int64_t fact_k = 0;                         // one `fact op constant` (fact_id >= 0)
    int32_t policy = 0;
    uint32_t first = 0;   // into recs_: the conditions left to visit
    uint16_t count = 0;   // conditions visited in scope
    uint16_t total = 0;   // conditions of the policy (a near miss needs two or more)
    int8_t fact_id = -1;
    uint8_t fact_op = 0;  // an Op
    uint8_t flags = 0;    // kScoped | kAnyActionable | kFactActionable
  };
  static constexpr uint8_t kScoped = 1;          // recs_[first + count] is the scope condition
  static constexpr uint8_t kAnyActionable = 2;
  static constexpr uint8_t kFactActionable = 4;
  static_assert(sizeof(Prefilter) == 64, "a list entry is one cache line");

  // The record of a condition; generic ones share a memo slot with their structural twins.
  CondRec Compile(const Node& condition);

  const Catalog& catalog_;
  std::vector<const Node*> generic_;  // by memo slot
  absl::flat_hash_map<std::string, int32_t> generic_by_text_;
  std::vector<std::string> codes_;
  std::vector<PolicyEntry> policies_;
  std::vector<CondRec> recs_;
  // Policies by region scope ("" = unscoped), ascending.
  absl::flat_hash_map<std::string, std::vector<Prefilter>> by_scope_;
  std::vector<Prefilter> all_policies_;  // for firms of unknown region
  int num_groups_ = 0;
  int num_conditions_ = 0;
};

}  // namespace polmatch

#endif  // POLMATCH_MATCH_POLICY_INDEX_H_
