// File: plan_eval.h
//
// BlockEvaluator evaluates MatchPlan nodes over one block of a FirmStore (kBlockRows rows) for
// one as_of date, three ways:
//   * densely (Bool, Num): whole-block (T, F) bitsets and value columns, memoised per block so a
//     shared node is computed once; comparisons and industry tests use SSE4.2/SSE2 kernels where
//     the CPU has them (portable loops otherwise; DisableSimdForTesting forces those);
//   * over a selection (SelectedNum): a numeric node for a list of rows, operation by operation —
//     benefits and rank_by of the eligible rows;
//   * for one row (RowBool, RowNum): the fallback for anything else.
// All use the same scalar operations, which are those of the reference evaluator
// (engine/expr/eval.cc): exact Decimal arithmetic with overflow and division by zero giving
// unknown, Kleene logic, the same tier/min/max/if evaluation order.
//
// Not thread-safe: each matcher thread owns one evaluator (its scratch is the per-block working set).
#ifndef POLMATCH_MATCH_PLAN_EVAL_H_
#define POLMATCH_MATCH_PLAN_EVAL_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/time/civil_time.h"
#include "engine/index/bitset.h"
#include "engine/index/firm_store.h"
#include "engine/match/plan.h"
#include "engine/util/decimal.h"
#include "engine/util/truth.h"

namespace polmatch {

// A three-valued row result.
using Tri = Truth;  // (util/truth.h)

// Scalar operations on Decimal raw values; false = unknown (overflow, division by zero).
namespace plan_internal {
inline bool InDecimalRange(int64_t v) { return v <= Decimal::kMaxRaw && v >= -Decimal::kMaxRaw; }
inline bool AddRaw(int64_t a, int64_t b, int64_t* out) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r) || !InDecimalRange(r)) return false;
  *out = r;
  return true;
}
inline bool SubRaw(int64_t a, int64_t b, int64_t* out) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r) || !InDecimalRange(r)) return false;
  *out = r;
  return true;
}
bool MulRawWide(int64_t a, int64_t b, int64_t* out);  // the 128-bit path
// a·b / 10⁶ rounded toward −∞ (Decimal Mul).
inline bool MulRaw(int64_t a, int64_t b, int64_t* out) {
  int64_t p;
  if (__builtin_mul_overflow(a, b, &p)) return MulRawWide(a, b, out);
  int64_t q = p / Decimal::kOne;
  if (p % Decimal::kOne < 0) --q;
  if (!InDecimalRange(q)) return false;
  *out = q;
  return true;
}
bool DivRaw(int64_t a, int64_t b, int64_t* out);
// Forces the portable comparison kernels (tests cover both paths on SIMD machines).
void DisableSimdForTesting(bool disabled);
bool SimdDisabled();  // by DisableSimdForTesting (the policy index's prefilter obeys it too)
bool CompareRaw(Op op, int64_t a, int64_t b);
int64_t YearsBetweenDays(int64_t from_day, int64_t to_day);

// years_between against one fixed date (as_of, a date literal) for many days, by the fixed
// date's anniversaries instead of a calendar conversion per row. Same results as YearsBetween.
class FixedDateYears {
 public:
  explicit FixedDateYears(int64_t day);
  int64_t YearsFrom(int64_t x);  // years_between(x, day)
  int64_t YearsTo(int64_t x);    // years_between(day, x)

 private:
  static constexpr int kCache = 512;
  static constexpr int64_t kUnset = INT64_MIN;
  int64_t UpTo(int64_t x);
  int64_t From(int64_t x);
  int64_t Back(int64_t k);
  int64_t Forward(int64_t k);
  int64_t day_, y_;
  int m_, d_;
  std::vector<int64_t> back_ = std::vector<int64_t>(kCache, kUnset);
  std::vector<int64_t> forward_ = std::vector<int64_t>(kCache, kUnset);
};
}  // namespace plan_internal

class BlockEvaluator {
 public:
  struct BoolView {
    const uint64_t* t;
    const uint64_t* f;
  };
  // A numeric block: `v` null means every row has the value `scalar` (and is known).
  struct NumView {
    const int64_t* v;
    const uint64_t* known;
    int64_t scalar;
  };

  BlockEvaluator(const MatchPlan& plan, const FirmStore& store, absl::CivilDay as_of);

  // Starts a block; views of the previous block become invalid.
  void SetBlock(uint32_t block);
  uint32_t block_begin() const { return block_begin_; }
  // Rows of the block that exist (the last block is padded).
  const uint64_t* valid() const { return valid_; }

  BoolView Bool(int32_t node);
  NumView Num(int32_t node);

  // One row; `i` is the row's offset in the block.
  Tri RowBool(int32_t node, uint32_t i);
  bool RowNum(int32_t node, uint32_t i, int64_t* out);

  // A numeric node for the selected rows `sel[0..n)` (block offsets): v[k], known[k] (0 or 1) of
  // row sel[k]. Operation by operation over the selection (no per-row tree walk), for benefits and
  // rank_by of the eligible rows. Same results as RowNum.
  void SelectedNum(int32_t node, const uint32_t* sel, uint32_t n, int64_t* v, uint8_t* known);

  // Dense node evaluations so far (each is one node over one block).
  int64_t dense_evaluations() const { return dense_evaluations_; }

 private:
  bool Evaluated(int32_t node) const { return stamp_[node] == stamp_now_; }
  uint64_t* BoolSlotT(int32_t slot) { return &bool_slots_[size_t(slot) * 2 * kBlockWords]; }
  uint64_t* BoolSlotF(int32_t slot) { return BoolSlotT(slot) + kBlockWords; }
  int64_t* NumSlotV(int32_t slot) { return &num_values_[size_t(slot) * kBlockRows]; }
  uint64_t* NumSlotK(int32_t slot) { return &num_known_[size_t(slot) * kBlockWords]; }

  BoolView EvalBool(const PlanNode& n);
  NumView EvalNum(const PlanNode& n);
  void TagHeld(TagId tag, uint64_t* t);
  // valid_from / valid_to of the holding grant (FirmView::HoldingGrant) for each held row.
  void TagValidity(TagId tag, bool want_to, int64_t* v, uint64_t* known);
  bool RowTagGrant(TagId tag, uint32_t row, int32_t* from, int32_t* to) const;
  void SelectedNumImpl(int32_t node, const uint32_t* sel, uint32_t n, int64_t* v, uint8_t* known);
  // Scratch for SelectedNum, used as a stack.
  int64_t* PushValues(uint32_t n);
  uint8_t* PushKnown(uint32_t n);

  const MatchPlan& plan_;
  const FirmStore& store_;
  const Taxonomy* taxonomy_ = nullptr;
  int32_t as_of_ = 0;
  uint32_t block_begin_ = 0;
  uint32_t stamp_now_ = 0;
  int64_t dense_evaluations_ = 0;
  std::vector<uint32_t> stamp_;
  std::vector<BoolView> bool_views_;
  std::vector<NumView> num_views_;
  std::vector<uint64_t> bool_slots_;
  std::vector<int64_t> num_values_;
  std::vector<uint64_t> num_known_;
  uint64_t valid_[kBlockWords];
  std::vector<int32_t> scratch_from_, scratch_to_;
  std::vector<int64_t> sel_values_;
  std::vector<uint8_t> sel_known_;
  size_t sel_values_top_ = 0, sel_known_top_ = 0;
};

}  // namespace polmatch

#endif  // POLMATCH_MATCH_PLAN_EVAL_H_
