// Tests of the nightly job's guards (engine/output/night_guard.h, SPEC §5): exact fractions, the
// shrink and reject-rate refusals and their one-line reasons.
#include "engine/output/night_guard.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polmatch {
namespace {

using ::testing::HasSubstr;

TEST(NightGuardTest, ParsesPercentOrFraction) {
  EXPECT_EQ(*ParseFraction("5%"), 50'000);
  EXPECT_EQ(*ParseFraction("0.05"), 50'000);
  EXPECT_EQ(*ParseFraction("0.5%"), 5'000);
  EXPECT_EQ(*ParseFraction("100%"), 1'000'000);
  EXPECT_EQ(*ParseFraction("1"), 1'000'000);
  EXPECT_EQ(*ParseFraction("0"), 0);
  EXPECT_EQ(*ParseFraction("0.0001%"), 1);
  for (const char* bad : {"", "%", "5%%", "-1%", "+5%", "abc", "101%", "5", "1.5", "0.00001%",
                          "0.0000001", "5 %", "1e-2"}) {
    EXPECT_FALSE(ParseFraction(bad).ok()) << bad;
  }
  EXPECT_THAT(std::string(ParseFraction("5").status().message()), HasSubstr("write 5% or 0.05"));
  EXPECT_EQ(FormatFraction(50'000), "5%");
  EXPECT_EQ(FormatFraction(12'345), "1.2345%");
  EXPECT_EQ(FormatFraction(1'000'000), "100%");
  EXPECT_EQ(FormatFraction(0), "0%");
}

TEST(NightGuardTest, RefusesAShrunkRegistryExactlyAboveTheLimit) {
  const NightGuards guards;  // 5%, 1%
  // The night: 18,483 firms, then a GBK export that gave none.
  absl::Status gone = CheckNightGuards(guards, 18483, 0, 1, 1);
  EXPECT_EQ(gone.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(gone.message()),
              HasSubstr("the registry shrank from 18483 to 0 firms (100%, more than --max-shrink 5%)"));
  EXPECT_EQ(std::string(gone.message()).find('\n'), std::string::npos);
  EXPECT_TRUE(CheckNightGuards(guards, 200, 190, std::nullopt, std::nullopt).ok());  // exactly 5%
  EXPECT_FALSE(CheckNightGuards(guards, 200, 189, std::nullopt, std::nullopt).ok());
  EXPECT_TRUE(CheckNightGuards(guards, 200, 5000, std::nullopt, std::nullopt).ok());  // growth
  EXPECT_TRUE(CheckNightGuards(guards, 0, 0, std::nullopt, std::nullopt).ok());
  NightGuards none;
  none.max_shrink_ppm = 0;
  EXPECT_FALSE(CheckNightGuards(none, 1'000'000'000, 999'999'999, std::nullopt, std::nullopt).ok());
}

TEST(NightGuardTest, RefusesTooManyRejectedRecords) {
  const NightGuards guards;
  EXPECT_TRUE(CheckNightGuards(guards, 100, 100, 100, 1).ok());  // exactly 1%
  absl::Status many = CheckNightGuards(guards, 100, 100, 101, 2);
  EXPECT_EQ(many.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(many.message()),
              HasSubstr("2 of 101 input records were rejected (1.9801%, more than --max-reject-rate 1%)"));
  // From a snapshot the input records are not known: only the shrink guard applies.
  EXPECT_TRUE(CheckNightGuards(guards, 100, 100, std::nullopt, std::nullopt).ok());
  EXPECT_TRUE(CheckNightGuards(guards, 100, 100, 0, 0).ok());
}

}  // namespace
}  // namespace polmatch
