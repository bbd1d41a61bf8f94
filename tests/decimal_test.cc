#include "engine/util/decimal.h"

#include <random>

#include "engine/expr/eval.h"
#include "engine/expr/parser.h"
#include "engine/ingest/firm.h"
#include "engine/match/row_program.h"
#include "engine/util/dates.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

Decimal D(const char* s) { return *Decimal::Parse(s); }

TEST(DecimalTest, ParsesAndPrints) {
  EXPECT_EQ(D("12.5").ToString(), "12.5");
  EXPECT_EQ(D("-0.000001").ToString(), "-0.000001");
  EXPECT_EQ(D("+7").ToString(), "7");
  EXPECT_EQ(D("2000000").ToFixed(2), "2000000.00");
  EXPECT_EQ(D("9000000000000").ToString(), "9000000000000");
  EXPECT_EQ(D("-3.5").ToFixed(0), "-4");  // half away from zero
}

TEST(DecimalTest, RejectsBadText) {
  for (const char* bad : {"", "-", "1.", ".5", "1e3", "1,000", "12a", "1.2345678", "9000000000000.1",
                          "99999999999999", " 1"}) {
    EXPECT_FALSE(Decimal::Parse(bad).ok()) << bad;
  }
}

TEST(DecimalTest, MoneyRoundsHalfUpAtTheFen) {
  // The examples: 12345.675 × 20% = 2469.135 → 2469.14; 333.33 × 5% = 16.6665 → 16.67.
  EXPECT_EQ(Mul(D("12345.675"), D("0.2"))->RoundHalfUp(2).ToFixed(2), "2469.14");
  EXPECT_EQ(Mul(D("333.33"), D("0.05"))->RoundHalfUp(2).ToFixed(2), "16.67");
  EXPECT_EQ(D("0.004999").RoundHalfUp(2).ToFixed(2), "0.00");
  EXPECT_EQ(D("0.005").RoundHalfUp(2).ToFixed(2), "0.01");
}

TEST(DecimalTest, ArithmeticIsExact) {
  // 0.1 + 0.2 is exactly 0.3 (no binary floating point).
  EXPECT_EQ(*Add(D("0.1"), D("0.2")), D("0.3"));
  EXPECT_EQ(*Div(D("1"), D("3")), D("0.333333"));
  EXPECT_EQ(*Div(D("2"), D("3")), D("0.666666"));  // rounded down at the 6th digit, by design
  EXPECT_EQ(*Div(D("-2"), D("3")), D("-0.666667"));
  EXPECT_EQ(*Mul(D("-1.5"), D("2")), D("-3"));
  EXPECT_EQ(*Sub(D("1"), D("1.000001")), D("-0.000001"));
}

// The fen of an exact rational num / den (den > 0), rounded half away from zero: what a benefit
// must pay.
int64_t ExactFen(__int128 num, __int128 den) {
  num *= 100;
  __int128 q = num / den, r = num % den;
  if (r < 0) r = -r;
  if (2 * r >= den) q += num < 0 ? -1 : 1;
  return static_cast<int64_t>(q);
}
int64_t Fen(std::optional<Decimal> d) { return d->RoundHalfUp(2).raw() / 10000; }

TEST(DecimalTest, OneRoundingAtTheFen) {
  // Issue 12 item 7: 4.9995 × 0.1% = 0.0049995 is 0.00 at the fen; rounding it to nearest at
  // the 6th digit first (0.005000) paid 0.01.
  EXPECT_EQ(Mul(D("4.9995"), D("0.001"))->RoundHalfUp(2).ToFixed(2), "0.00");
  EXPECT_EQ(Mul(D("4.9995"), D("0.001"))->ToString(), "0.004999");
  EXPECT_EQ(Div(D("0.009999"), D("2"))->RoundHalfUp(2).ToFixed(2), "0.00");  // 0.0049995
  EXPECT_EQ(Div(D("-0.000001"), D("2"))->ToString(), "-0.000001");          // toward −∞
}

TEST(DecimalTest, PropertyMatchesExactRationals) {
  // Random amounts × percentages, their min with a cap, plus an exact amount, and quotients,
  // against the exact rational rounded once at the fen (computed in 128-bit integers).
  std::mt19937_64 rng(20261204);
  auto amount = [&](int64_t max_yuan) {
    // Up to 6 fractional digits, biased towards values whose product lands near half a fen.
    return static_cast<int64_t>(rng() % static_cast<uint64_t>(max_yuan * Decimal::kOne));
  };
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    const int64_t f = amount(i % 2 ? 10 : 100000000);        // fact, yuan × 10⁶
    const int64_t p = static_cast<int64_t>(rng() % 1000000);  // percentage literal /100: 0..0.999999
    const int64_t cap = amount(1000000);
    const int64_t g = amount(1000);
    const int64_t n = Decimal::kOne + static_cast<int64_t>(rng() % (999 * Decimal::kOne));  // 1..1000
    const Decimal F = Decimal::FromRawUnchecked(f), P = Decimal::FromRawUnchecked(p),
                  C = Decimal::FromRawUnchecked(cap), G = Decimal::FromRawUnchecked(g),
                  N = Decimal::FromRawUnchecked(n);
    const __int128 e12 = static_cast<__int128>(Decimal::kOne) * Decimal::kOne;
    // f·p (both in millionths): exact = f·p / 10¹² yuan.
    ASSERT_EQ(Fen(Mul(F, P)), ExactFen(static_cast<__int128>(f) * p, e12)) << f << " " << p;
    // min(f·p, cap)
    const __int128 fp = static_cast<__int128>(f) * p;
    const __int128 capped = std::min(fp, static_cast<__int128>(cap) * Decimal::kOne);
    ASSERT_EQ(Fen(std::min(*Mul(F, P), C)), ExactFen(capped, e12));
    // f·p + g
    ASSERT_EQ(Fen(Add(*Mul(F, P), G)), ExactFen(fp + static_cast<__int128>(g) * Decimal::kOne, e12));
    // f / n: exact = f / n yuan.
    ASSERT_EQ(Fen(Div(F, N)), ExactFen(f, n)) << f << " / " << n;
    // comparisons of a rounded product with a constant hold as for the exact value
    ASSERT_EQ(*Mul(F, P) >= C, fp >= static_cast<__int128>(cap) * Decimal::kOne);
    ASSERT_EQ(*Mul(F, P) < C, fp < static_cast<__int128>(cap) * Decimal::kOne);
    checked += 5;
  }
  EXPECT_EQ(checked, 1000000);
}

TEST(DecimalTest, TheEvaluatorsRoundOnce) {
  // The same through the rule language: the reference evaluator and the row program (the
  // single-firm index's fast path) on fact revenue = 4.9995 and benefit revenue * 0.1%.
  FirmProfile profile = testing::MakeProfile("441502", 7);
  (*profile.mutable_facts())["revenue"] = "4.9995";
  const Firm firm = testing::MakeFirm(profile);
  ExprError err;
  auto node = CompileExpr("revenue * 0.1%", testing::RealTaxonomy(), Type::kNumber, &err);
  ASSERT_TRUE(node.ok()) << err.message;
  FirmView view(firm, testing::RealTaxonomy(), absl::CivilDay(2023, 6, 30));
  const Value v = Evaluate(**node, view);
  ASSERT_EQ(v.kind, Value::Kind::kNumber);
  EXPECT_EQ(v.number.RoundHalfUp(2).ToFixed(2), "0.00");
  std::optional<RowProgram> program = RowProgram::Compile(**node);
  ASSERT_TRUE(program.has_value());
  std::vector<std::optional<Decimal>> facts(testing::RealTaxonomy().num_facts());
  facts[testing::RealTaxonomy().FindFact("revenue")->value] = D("4.9995");
  RowProgram::Row row;
  row.facts = facts.data();
  const RowProgram::Result r = program->Run(row);
  ASSERT_TRUE(r.known);
  EXPECT_EQ(r.raw, v.number.raw());
}

TEST(DecimalTest, InexactLiteralsAreRefused) {
  ExprError err;
  // 0.000001% = 10⁻⁸ cannot be held in 6 fractional digits: refused (it silently became 0).
  EXPECT_FALSE(CompileExpr("revenue * 0.000001%", testing::RealTaxonomy(), Type::kNumber, &err).ok());
  EXPECT_EQ(err.offset, 10u);
  EXPECT_NE(err.message.find("0.000001% cannot be held exactly"), std::string::npos) << err.message;
  EXPECT_FALSE(CompileExpr("revenue * 0.0000001", testing::RealTaxonomy(), Type::kNumber, &err).ok());
  EXPECT_FALSE(CompileExpr("revenue * 0.00001%", testing::RealTaxonomy(), Type::kNumber, &err).ok());
  auto finest = CompileExpr("0.0001%", testing::RealTaxonomy(), Type::kNumber, &err);
  ASSERT_TRUE(finest.ok()) << err.message;
  EXPECT_EQ((*finest)->number.ToString(), "0.000001");
  auto yi = CompileExpr("0.000001亿", testing::RealTaxonomy(), Type::kNumber, &err);
  ASSERT_TRUE(yi.ok()) << err.message;
  EXPECT_EQ((*yi)->number.ToString(), "100");
}

TEST(DecimalTest, OverflowAndDivisionByZeroAreUnknown) {
  EXPECT_FALSE(Mul(D("9000000000000"), D("2")).has_value());
  EXPECT_FALSE(Add(D("9000000000000"), D("0.000001")).has_value());
  EXPECT_FALSE(Sub(D("-9000000000000"), D("1")).has_value());
  EXPECT_FALSE(Div(D("1"), D("0")).has_value());
  EXPECT_FALSE(Div(D("9000000000000"), D("0.5")).has_value());
  EXPECT_TRUE(Mul(D("3000000"), D("3000000")).has_value());  // 9e12 exactly fits
  EXPECT_FALSE(Mul(D("3000000"), D("3000000.000001")).has_value());
}

TEST(DatesTest, ParsesStrictly) {
  EXPECT_TRUE(ParseDate("2024-02-29").ok());
  EXPECT_FALSE(ParseDate("2023-02-29").ok());
  EXPECT_FALSE(ParseDate("2023-13-01").ok());
  EXPECT_FALSE(ParseDate("2023-1-01").ok());
  EXPECT_FALSE(ParseDate("20230101").ok());
  EXPECT_EQ(FormatDate(*ParseDate("2021-06-30")), "2021-06-30");
}

TEST(DatesTest, YearsBetweenCountsBirthdays) {
  auto y = [](const char* a, const char* b) { return YearsBetween(*ParseDate(a), *ParseDate(b)); };
  EXPECT_EQ(y("2020-03-15", "2023-03-14"), 2);
  EXPECT_EQ(y("2020-03-15", "2023-03-15"), 3);
  EXPECT_EQ(y("2020-02-29", "2021-02-28"), 0);
  EXPECT_EQ(y("2020-02-29", "2021-03-01"), 1);
  EXPECT_EQ(y("2023-03-15", "2020-03-15"), -3);
}

}  // namespace
}  // namespace polmatch
