// The shared helpers of engine/util and expr/comparison.h: Kleene logic, the comparison
// rewrites, day numbers, JSON string escaping and ParallelFor.
#include <atomic>
#include <stdexcept>
#include <vector>

#include "engine/expr/comparison.h"
#include "engine/util/dates.h"
#include "engine/util/json_string.h"
#include "engine/util/parallel.h"
#include "engine/util/truth.h"
#include "gtest/gtest.h"

namespace polmatch {
namespace {

// Kleene's tables, with unknown read as "true or false, not known which": a connective's value
// is known exactly when every completion of the unknowns gives the same answer.
TEST(TruthTest, KleeneConnectivesAreTheCompletionsThatAgree) {
  const Truth all[] = {Truth::kFalse, Truth::kTrue, Truth::kUnknown};
  auto completions = [](Truth t) {
    return t == Truth::kUnknown ? std::vector<bool>{false, true} : std::vector<bool>{t == Truth::kTrue};
  };
  auto expected = [&](Truth a, Truth b, bool is_and) {
    bool seen[2] = {false, false};
    for (bool x : completions(a)) {
      for (bool y : completions(b)) seen[is_and ? (x && y) : (x || y)] = true;
    }
    return seen[0] && seen[1] ? Truth::kUnknown : TruthOf(seen[1]);
  };
  for (Truth a : all) {
    for (Truth b : all) {
      EXPECT_EQ(KleeneAnd(a, b), expected(a, b, true));
      EXPECT_EQ(KleeneOr(a, b), expected(a, b, false));
    }
    EXPECT_EQ(KleeneNot(KleeneNot(a)), a);
  }
  EXPECT_EQ(KleeneNot(Truth::kTrue), Truth::kFalse);
  EXPECT_EQ(KleeneNot(Truth::kUnknown), Truth::kUnknown);
}

bool Holds(Op op, int a, int b) {
  switch (op) {
    case Op::kLt: return a < b;
    case Op::kLe: return a <= b;
    case Op::kGt: return a > b;
    case Op::kGe: return a >= b;
    case Op::kEq: return a == b;
    case Op::kNe: return a != b;
    default: return false;
  }
}

TEST(ComparisonTest, MirrorSwapsSidesAndNegationComplements) {
  for (Op op : {Op::kLt, Op::kLe, Op::kGt, Op::kGe, Op::kEq, Op::kNe}) {
    for (int a = -2; a <= 2; ++a) {
      for (int b = -2; b <= 2; ++b) {
        EXPECT_EQ(Holds(MirroredComparison(op), b, a), Holds(op, a, b)) << OpText(op);
        EXPECT_EQ(Holds(NegatedComparison(op), a, b), !Holds(op, a, b)) << OpText(op);
      }
    }
  }
  EXPECT_EQ(MirroredComparison(Op::kAdd), Op::kAdd);
  EXPECT_EQ(NegatedComparison(Op::kMul), Op::kMul);
}

TEST(DatesTest, DayNumbersCountFrom1970) {
  EXPECT_EQ(DaysSince1970(absl::CivilDay(1970, 1, 1)), 0);
  EXPECT_EQ(DaysSince1970(absl::CivilDay(1969, 12, 31)), -1);
  EXPECT_EQ(DaysSince1970(absl::CivilDay(2000, 3, 1)), 11017);
  for (int64_t n : {-40000, -1, 0, 59, 11016, 20000, 60000}) EXPECT_EQ(DaysSince1970(DayFrom1970(n)), n);
}

TEST(JsonStringTest, EscapesQuotesBackslashesAndControlsOnly) {
  EXPECT_EQ(JsonString("汕尾\"一号\"\\"), "\"汕尾\\\"一号\\\"\\\\\"");
  EXPECT_EQ(JsonString(std::string("a\nb\rc\td\x01\x1f", 9)), "\"a\\nb\\rc\\td\\u0001\\u001f\"");
  EXPECT_EQ(JsonString(""), "\"\"");
  std::string out = "x";
  AppendJsonEscaped("plain", &out);
  EXPECT_EQ(out, "xplain");
}

TEST(ParallelForTest, RunsEveryIndexOnceAndRethrowsAfterJoining) {
  for (int threads : {1, 2, 5}) {
    std::vector<std::atomic<int>> runs(static_cast<size_t>(threads));
    ParallelFor(threads, [&](int t) { runs[static_cast<size_t>(t)]++; });
    for (auto& r : runs) EXPECT_EQ(r.load(), 1);
  }
  std::atomic<int> finished{0};
  EXPECT_THROW(ParallelFor(3,
                           [&](int t) {
                             if (t == 2) throw std::runtime_error("worker");
                             ++finished;
                           }),
               std::runtime_error);
  EXPECT_EQ(finished.load(), 2);  // the others ran to the end before the rethrow
}

}  // namespace
}  // namespace polmatch
