#include "engine/util/decimal.h"

#include "engine/util/dates.h"
#include "gtest/gtest.h"

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
  EXPECT_EQ(*Div(D("2"), D("3")), D("0.666667"));
  EXPECT_EQ(*Div(D("-2"), D("3")), D("-0.666667"));
  EXPECT_EQ(*Mul(D("-1.5"), D("2")), D("-3"));
  EXPECT_EQ(*Sub(D("1"), D("1.000001")), D("-0.000001"));
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
