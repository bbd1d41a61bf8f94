// The shared decision rules (engine/match/semantics.h) pinned against the contract's words, and
// their vectorised forms checked exhaustively against them.
#include "engine/match/semantics.h"

#include <vector>

#include "gtest/gtest.h"

namespace polmatch::semantics {
namespace {

using T = Truth;

TEST(SemanticsTest, StatusOfFollowsTheContract) {
  auto status = [](std::vector<std::pair<Truth, bool>> conditions) {
    Tally t;
    for (auto [v, actionable] : conditions) t.Add(v, actionable);
    return StatusOf(t);
  };
  EXPECT_EQ(status({{T::kTrue, true}}), ELIGIBLE);
  EXPECT_EQ(status({{T::kTrue, true}, {T::kTrue, false}}), ELIGIBLE);
  EXPECT_EQ(status({{T::kUnknown, true}}), UNDETERMINED);
  EXPECT_EQ(status({{T::kTrue, true}, {T::kUnknown, false}}), UNDETERMINED);
  EXPECT_EQ(status({{T::kFalse, true}}), INELIGIBLE);  // one condition: not "one step away"
  EXPECT_EQ(status({{T::kFalse, true}, {T::kTrue, false}}), NEAR_MISS);
  EXPECT_EQ(status({{T::kTrue, false}, {T::kFalse, true}, {T::kTrue, true}}), NEAR_MISS);
  EXPECT_EQ(status({{T::kFalse, false}, {T::kTrue, true}}), INELIGIBLE);  // not actionable
  EXPECT_EQ(status({{T::kFalse, true}, {T::kFalse, true}}), INELIGIBLE);  // two false
  EXPECT_EQ(status({{T::kFalse, true}, {T::kUnknown, true}}), INELIGIBLE);  // others not all true
  EXPECT_EQ(status({{T::kFalse, true}, {T::kUnknown, true}, {T::kTrue, true}}), INELIGIBLE);
}

TEST(SemanticsTest, AmountsGroupsAndRanks) {
  EXPECT_EQ(GrantAmount(*Decimal::Parse("-5")).ToFixed(2), "0.00");
  EXPECT_EQ(GrantAmount(*Decimal::Parse("1.005")).ToFixed(2), "1.01");  // half-up
  EXPECT_EQ(GrantAmount(*Decimal::Parse("1.004999")).ToFixed(2), "1.00");
  for (int64_t raw : std::vector<int64_t>{-20000, -1, 0, 4999, 5000, 14999, 15000, 123456789, Decimal::kMaxRaw}) {
    EXPECT_EQ(GrantAmountRaw(raw), GrantAmount(Decimal::FromRawUnchecked(raw)).raw()) << raw;
  }
  EXPECT_EQ(WithBenefit(ELIGIBLE, /*auto_grant=*/true, /*states=*/true, /*known=*/false), UNDETERMINED);
  EXPECT_EQ(WithBenefit(ELIGIBLE, true, false, false), ELIGIBLE);   // non-monetary grant
  EXPECT_EQ(WithBenefit(ELIGIBLE, false, true, false), ELIGIBLE);   // APPLY: decided on application
  EXPECT_EQ(WithBenefit(NEAR_MISS, true, true, false), NEAR_MISS);
  // Groups: only a larger known benefit replaces the winner (ties keep the smaller id).
  EXPECT_TRUE(BeatsGroupWinner(true, 2, true, 1));
  EXPECT_FALSE(BeatsGroupWinner(true, 1, true, 1));
  EXPECT_TRUE(BeatsGroupWinner(true, 0, false, 0));
  EXPECT_FALSE(BeatsGroupWinner(false, 0, true, 0));
  EXPECT_FALSE(BeatsGroupWinner(false, 0, false, 0));
  // Limits: higher rank first, unknown last, ties to the smaller credit code.
  EXPECT_TRUE(RanksBefore<std::string_view>(true, 5, "B", true, 4, "A"));
  EXPECT_TRUE(RanksBefore<std::string_view>(true, 4, "A", true, 4, "B"));
  EXPECT_FALSE(RanksBefore<std::string_view>(true, 4, "B", true, 4, "A"));
  EXPECT_TRUE(RanksBefore<std::string_view>(true, -100, "Z", false, 0, "A"));
  EXPECT_TRUE(RanksBefore<std::string_view>(false, 7, "A", false, 3, "B"));  // unknown: by code
}

// Every sequence of up to 5 conditions (each true, false or unknown; actionable or not), in every
// order: the early exit never decides INELIGIBLE when the whole tally says otherwise, and decides
// it by the end whenever the whole tally says INELIGIBLE for a policy of ≥ 2 conditions.
TEST(SemanticsTest, EarlyExitAgreesWithStatusOfExhaustively) {
  int cases = 0;
  for (int n = 1; n <= 5; ++n) {
    int total = 1;
    for (int i = 0; i < n; ++i) total *= 6;
    for (int code = 0; code < total; ++code) {
      Tally t;
      bool decided = false;
      int c = code;
      for (int i = 0; i < n; ++i, c /= 6) {
        const Truth v = static_cast<Truth>(c % 3);
        const bool actionable = (c % 6) >= 3;
        t.Add(v, actionable);
        const bool now = DecidedIneligible(t.falses, t.unknowns, t.false_actionable, n == 1);
        ASSERT_TRUE(!decided || now) << "not monotone";
        decided = now;
        // The branch-free form used by the prefilter.
        ASSERT_EQ(DecidedIneligibleBits(t.falses, t.unknowns, !t.false_actionable, n == 1),
                  static_cast<uint32_t>(now));
      }
      const MatchStatus whole = StatusOf(t);
      if (decided) {
        ASSERT_EQ(whole, INELIGIBLE) << "decided early against the tally, case " << code;
      }
      if (whole == INELIGIBLE) {
        ASSERT_TRUE(decided) << "case " << code;
      }
      ++cases;
    }
  }
  EXPECT_EQ(cases, 6 + 36 + 216 + 1296 + 7776);
}

// The bulk matcher's bit-parallel form, 64 firms a word: every firm of a word gets its own
// random-free assignment (all 3^k × 2^k combinations for k ≤ 4 conditions spread over words).
TEST(SemanticsTest, TallyWordsAgreeWithStatusOfExhaustively) {
  for (int k = 2; k <= 4; ++k) {
    int combos = 1;
    for (int i = 0; i < k; ++i) combos *= 3;
    for (int act_mask = 0; act_mask < (1 << k); ++act_mask) {
      for (int base = 0; base < combos; base += 64) {
        uint64_t t[4] = {}, f[4] = {}, e_false = 0;
        std::vector<Tally> tallies(64);
        for (int bit = 0; bit < 64 && base + bit < combos; ++bit) {
          int c = base + bit;
          for (int i = 0; i < k; ++i, c /= 3) {
            const Truth v = static_cast<Truth>(c % 3);
            if (v == Truth::kTrue) t[i] |= uint64_t{1} << bit;
            if (v == Truth::kFalse) f[i] |= uint64_t{1} << bit;
            tallies[bit].Add(v, (act_mask >> i) & 1);
          }
          if (tallies[bit].falses > 0) e_false |= uint64_t{1} << bit;  // Kleene `and` is false
        }
        uint64_t one = 0, two = 0, act = 0, unk = 0;
        for (int i = 0; i < k; ++i) {
          AddToTallyWords(t[i], f[i], ((act_mask >> i) & 1) ? ~uint64_t{0} : 0, one, two, act, unk);
        }
        const uint64_t nm = NearMissWord(one, two, act, unk, e_false);
        for (int bit = 0; bit < 64 && base + bit < combos; ++bit) {
          ASSERT_EQ((nm >> bit) & 1, StatusOf(tallies[bit]) == NEAR_MISS ? 1u : 0u)
              << "k " << k << " combination " << base + bit << " actionable mask " << act_mask;
        }
      }
    }
  }
}

}  // namespace
}  // namespace polmatch::semantics
