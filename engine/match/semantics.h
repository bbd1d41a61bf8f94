// File: semantics.h
//
// The rules that decide a firm's outcome for a policy beyond evaluating expressions, written
// once, as pure functions: the status from the tally of the top-level conditions, the amount a
// benefit grants, the winner of an exclusive group (就高不重复) and the order that places a
// policy's `limit` (SPEC §3). Every matcher — the reference matcher, the bitset bulk matcher and
// the single-firm policy index — decides through these functions, or through a vectorised form
// of them that tests/semantics_test.cc checks exhaustively against them (the input space is
// small).
//
// Example:
//   semantics::Tally t;
//   for (each top-level condition c) t.Add(value(c), actionable(c));
//   MatchStatus s = semantics::StatusOf(t);       // ELIGIBLE, UNDETERMINED, NEAR_MISS, INELIGIBLE
//   s = semantics::WithBenefit(s, auto_grant, has_benefit, amount_known);
#ifndef POLMATCH_MATCH_SEMANTICS_H_
#define POLMATCH_MATCH_SEMANTICS_H_

#include <cstdint>
#include <string_view>

#include "engine/expr/eval.h"
#include "engine/util/decimal.h"
#include "engine/util/truth.h"
#include "proto/polmatch.pb.h"

namespace polmatch::semantics {

// A condition's value in Kleene logic (util/truth.h), and the reference evaluator's Value as one.
using Truth = ::polmatch::Truth;
inline Truth TruthOf(const Value& v) {
  return v.is_true() ? Truth::kTrue : v.is_false() ? Truth::kFalse : Truth::kUnknown;
}

// What a policy's top-level `and` conditions came to for one firm (a policy whose eligibility is
// not an `and` has one condition: the whole of it).
struct Tally {
  int conditions = 0;             // how many were counted
  int falses = 0;
  int unknowns = 0;
  bool false_actionable = true;   // every false condition so far names only actionable data

  void Add(Truth v, bool actionable) {
    ++conditions;
    if (v == Truth::kFalse) {
      ++falses;
      false_actionable = false_actionable && actionable;
    } else if (v == Truth::kUnknown) {
      ++unknowns;
    }
  }
};

// The status of a policy in force, from the whole tally, before benefits, groups and limits:
//   no false and no unknown condition                          → ELIGIBLE
//   no false, some unknown                                      → UNDETERMINED
//   ≥ 2 conditions, exactly one false, it actionable, the rest true → NEAR_MISS
//   otherwise                                                   → INELIGIBLE
MatchStatus StatusOf(const Tally& t);

// Whether a partial tally (some conditions not yet counted) already decides INELIGIBLE, whatever
// the others are: the early exit of the fast matchers. `single` = the policy has one condition.
// Monotone: once true, counting more conditions keeps it true.
inline bool DecidedIneligible(int falses, int unknowns, bool false_actionable, bool single) {
  return falses > 1 || (falses == 1 && (unknowns > 0 || !false_actionable || single));
}

// DecidedIneligible without branches, on 0/1 flags: `nonactionable_false` = some false condition
// names non-actionable data. The single-firm prefilter's form (PolicyIndex::Verdict).
inline uint32_t DecidedIneligibleBits(uint32_t falses, uint32_t unknowns, uint32_t nonactionable_false,
                                      uint32_t single) {
  return (falses > 1) | ((falses != 0) & ((unknowns != 0) | single | nonactionable_false));
}

// StatusOf for 64 firms at once, one bit each (the bulk matcher's form). Each top-level
// condition is added as its true and false words; `one`/`two` saturate the count of false
// conditions at two, `act` marks a false actionable condition, `unk` an unknown one.
struct TallyWords {
  uint64_t one = 0, two = 0, act = 0, unk = 0;
};
inline void AddToTallyWords(uint64_t t, uint64_t f, uint64_t actionable_mask, uint64_t& one,
                            uint64_t& two, uint64_t& act, uint64_t& unk) {
  two |= one & f;
  one |= f;
  act |= f & actionable_mask;
  unk |= ~(t | f);
}
// The NEAR_MISS firms among those whose eligibility is false (`e_false`), for a policy of ≥ 2
// conditions: exactly one false, it actionable, none unknown.
inline uint64_t NearMissWord(uint64_t one, uint64_t two, uint64_t act, uint64_t unk, uint64_t e_false) {
  return one & ~two & act & ~unk & e_false;
}

// ELIGIBLE becomes UNDETERMINED for a 免申即享 (AUTO_GRANT) policy that states an amount the data
// cannot compute: granting without application needs the amount.
inline MatchStatus WithBenefit(MatchStatus s, bool auto_grant, bool states_amount, bool amount_known) {
  return s == ELIGIBLE && auto_grant && states_amount && !amount_known ? UNDETERMINED : s;
}

// The amount a benefit's exact value grants: never negative, rounded half-up to the fen once.
Decimal GrantAmount(const Decimal& exact);
// The same on Decimal's raw representation (millionths), for the vectorised paths.
inline int64_t GrantAmountRaw(int64_t raw) {
  constexpr int64_t kFen = Decimal::kOne / 100;
  return raw < 0 ? 0 : (raw + kFen / 2) / kFen * kFen;
}

// Exclusive groups (就高不重复): members are visited in catalog order (ascending policy id); a
// member replaces the current winner only with a known benefit larger than the winner's, so ties
// and unknown benefits keep the smaller id. The losers become EXCLUDED.
inline bool BeatsGroupWinner(bool known, int64_t raw, bool winner_known, int64_t winner_raw) {
  return known && (!winner_known || raw > winner_raw);
}

// Limits: a policy's ELIGIBLE firms are ranked by `rank_by`, highest first, an unknown rank
// last, ties to the smaller credit code; those beyond `limit` become NOT_SELECTED. `Code` is the
// credit code or anything ordered as the codes are (the bulk matcher's precomputed code ranks).
template <typename Code>
inline bool RanksBefore(bool known_a, int64_t raw_a, const Code& code_a, bool known_b,
                        int64_t raw_b, const Code& code_b) {
  if (known_a != known_b) return known_a;
  if (known_a && raw_a != raw_b) return raw_a > raw_b;
  return code_a < code_b;
}

}  // namespace polmatch::semantics

#endif  // POLMATCH_MATCH_SEMANTICS_H_
