// File: bulk_matcher.h
//
// BulkMatcher computes every firm × policy outcome of a FirmStore on one date — the nightly batch's
// matching phase — with exactly the semantics of ReferenceMatcher::EvaluateAll (SPEC §3): the same
// statuses and benefits for every pair, exclusive groups applied per firm, then limits ranked by
// rank_by across firms (ties: smaller credit code).
//
// How: the catalog is compiled once into a MatchPlan (a DAG of predicates shared by all policies;
// see plan.h). Match() walks the store block by block (kBlockRows firms; both cores take blocks
// in turn); on each block it evaluates only the policies whose region scope touches it, each shared
// predicate once, as (T, F) bitsets — so everything a block needs stays in L2. Near misses come
// from bit-parallel counting over the top-level conditions; benefits and rank_by values are
// computed exactly only for the firms that are eligible.
//
// Results are kept per policy and status as Roaring bitmaps of store rows: most pairs are
// INELIGIBLE (not stored), and the rest cluster in the rows of the policy's region, which Roaring
// compresses well. Dense bitsets would cost num_rows/8 bytes per policy and status whatever the
// counts — 0.6 GB for 1M firms × 1,000 policies × 5 statuses, and 60 GB at 10M × 10,000.
//
// Example:
//   absl::StatusOr<BulkMatcher> m = BulkMatcher::Create(catalog, store);
//   BulkResult r = m->Match(as_of, /*threads=*/2);
//   r.policy(p).eligible.cardinality();
//   Outcome o = r.Get(row, p);
#ifndef POLMATCH_MATCH_BULK_MATCHER_H_
#define POLMATCH_MATCH_BULK_MATCHER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/match/outcome.h"
#include "engine/match/plan.h"
#include "roaring/roaring.hh"

namespace polmatch {

// The rows of one policy by status, and the benefits.
struct BulkPolicyResult {
  Roaring eligible;
  Roaring undetermined;
  Roaring near_miss;
  Roaring excluded;
  Roaring not_selected;
  // INELIGIBLE is every other row.

  // Benefits (rounded to the fen, ≥ 0) of the rows that were eligible before groups and limits —
  // ELIGIBLE, EXCLUDED and NOT_SELECTED — whose benefit is known, ascending by row.
  std::vector<uint32_t> benefit_rows;
  std::vector<Decimal> benefits;

  // Counts by MatchStatus value (index 0 unused).
  std::array<int64_t, 7> count = {};

  const Roaring* rows(MatchStatus status) const;
  std::optional<Decimal> Benefit(uint32_t row) const;
};

// Where a Match() spent its time (wall clock).
struct BulkMatchStats {
  double evaluate_seconds = 0;  // blocks: predicates, statuses, benefits, groups
  double finish_seconds = 0;    // merging the threads' rows, limits, Roaring bitmaps
  double evaluate_cpu_seconds = 0;  // CPU time of all threads in the two phases (a busy
  double finish_cpu_seconds = 0;    // machine inflates wall time, not these)
  double evaluate_max_thread_cpu_seconds = 0;  // the busiest thread: balance across threads
  int64_t policy_blocks = 0;    // (policy, block) pairs evaluated
  int64_t node_blocks = 0;      // (plan node, block) pairs evaluated densely
  int64_t benefit_rows = 0;     // rows whose benefit or rank was computed
};

class BulkResult {
 public:
  uint32_t num_rows() const { return num_rows_; }
  int num_policies() const { return static_cast<int>(policies_.size()); }
  const BulkPolicyResult& policy(int index) const { return policies_[index]; }  // catalog order
  // For taking the results over without a copy (the batch moves the bitmaps into its outputs).
  BulkPolicyResult* mutable_policy(int index) { return &policies_[index]; }
  // The outcome of one pair (rank is not kept).
  Outcome Get(uint32_t row, int policy) const;
  const BulkMatchStats& stats() const { return stats_; }

 private:
  friend class BulkMatcher;
  uint32_t num_rows_ = 0;
  BulkMatchStats stats_;
  std::vector<BulkPolicyResult> policies_;
};

class BulkMatcher {
 public:
  // Compiles the catalog against the store. Both must outlive the matcher.
  static absl::StatusOr<BulkMatcher> Create(const Catalog& catalog, const FirmStore& store);

  // Every firm × policy on `as_of`, using `threads` threads (≥ 1). Thread-safe (const).
  BulkResult Match(absl::CivilDay as_of, int threads) const;

  const MatchPlan& plan() const { return *plan_; }

 private:
  BulkMatcher(const Catalog& catalog, const FirmStore& store, std::unique_ptr<MatchPlan> plan)
      : catalog_(&catalog), store_(&store), plan_(std::move(plan)) {}

  const Catalog* catalog_;
  const FirmStore* store_;
  std::unique_ptr<MatchPlan> plan_;
};

}  // namespace polmatch

#endif  // POLMATCH_MATCH_BULK_MATCHER_H_
