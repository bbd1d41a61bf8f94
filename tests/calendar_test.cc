// The working calendar (engine/util/calendar.h) and rules/calendar: the State Council's days off
// and 调休 working days of every covered year, the 公示 counting rule, coverage, and the loader's
// checks (each error at file:line:col).
#include "engine/util/calendar.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using ::testing::HasSubstr;

const WorkingCalendar& Real() {
  static const WorkingCalendar* cal = [] {
    absl::StatusOr<WorkingCalendar> c = WorkingCalendar::Load(testing::RulesDir());
    if (!c.ok()) {
      ADD_FAILURE() << c.status();
      return new WorkingCalendar();
    }
    return new WorkingCalendar(*std::move(c));
  }();
  return *cal;
}

absl::CivilDay Day(int y, int m, int d) { return absl::CivilDay(y, m, d); }

TEST(CalendarTest, CoversTheKnownNoticesAndNotTheUnknownYear) {
  EXPECT_EQ(Real().CoveredYears(), std::make_pair(2018, 2026));
  EXPECT_TRUE(Real().Covers(2018));
  EXPECT_TRUE(Real().Covers(2026));
  EXPECT_FALSE(Real().Covers(2017));
  EXPECT_FALSE(Real().Covers(2027));  // 2027.textproto: notice_unknown
  EXPECT_EQ(Real().CoverageText(), "2018–2026");
}

// A few special days of every year, read off each notice: days off on weekdays, 调休 weekends
// worked, and ordinary days beside them.
TEST(CalendarTest, SpecialDaysOfEveryYear) {
  struct Case {
    absl::CivilDay day;
    bool working;
    const char* why;
  };
  const std::vector<Case> cases = {
      {Day(2018, 1, 1), false, "2018 元旦"},
      {Day(2018, 2, 11), true, "2018 春节 Sunday worked"},
      {Day(2018, 2, 21), false, "2018 春节 last day (Wednesday)"},
      {Day(2018, 2, 22), true, "2018 ordinary Thursday after 春节"},
      {Day(2018, 9, 30), true, "2018 国庆 Sunday worked"},
      {Day(2018, 12, 29), true, "2019 notice: Saturday 2018-12-29 worked"},
      {Day(2018, 12, 31), false, "2019 notice: Monday 2018-12-31 off"},
      {Day(2019, 1, 1), false, "2019 元旦"},
      {Day(2019, 2, 3), true, "2019 春节 Sunday worked"},
      {Day(2019, 5, 3), false, "2019 劳动节 extended to 5-04 (国办发明电〔2019〕3号)"},
      {Day(2019, 5, 5), true, "2019 劳动节 Sunday worked"},
      {Day(2019, 10, 12), true, "2019 国庆 Saturday worked"},
      {Day(2020, 1, 19), true, "2020 春节 Sunday worked"},
      {Day(2020, 1, 31), false, "2020 春节 extended (epidemic): Friday off"},
      {Day(2020, 2, 1), false, "2020 Saturday no longer worked after the extension"},
      {Day(2020, 2, 3), true, "2020 work resumed Monday 2-03"},
      {Day(2020, 6, 28), true, "2020 端午 Sunday worked"},
      {Day(2020, 10, 8), false, "2020 国庆中秋 8th day"},
      {Day(2021, 2, 7), true, "2021 春节 Sunday worked"},
      {Day(2021, 5, 5), false, "2021 劳动节"},
      {Day(2021, 9, 18), true, "2021 中秋 Saturday worked"},
      {Day(2021, 9, 20), false, "2021 中秋 Monday off"},
      {Day(2022, 1, 3), false, "2022 元旦 Monday"},
      {Day(2022, 1, 29), true, "2022 春节 Saturday worked"},
      {Day(2022, 4, 2), true, "2022 清明 Saturday worked"},
      {Day(2022, 10, 9), true, "2022 国庆 Sunday worked"},
      {Day(2022, 12, 31), false, "2023 notice: 2022-12-31 off (a Saturday anyway)"},
      {Day(2023, 1, 2), false, "2023 元旦 Monday"},
      {Day(2023, 1, 28), true, "2023 春节 Saturday worked"},
      {Day(2023, 4, 5), false, "2023 清明 Wednesday"},
      {Day(2023, 6, 25), true, "2023 端午 Sunday worked"},
      {Day(2023, 9, 29), false, "2023 中秋 Friday"},
      {Day(2023, 10, 7), true, "2023 国庆 Saturday worked"},
      {Day(2024, 2, 4), true, "2024 春节 Sunday worked"},
      {Day(2024, 2, 9), true, "2024 除夕 is not a day off"},
      {Day(2024, 2, 18), true, "2024 春节 Sunday worked"},
      {Day(2024, 4, 7), true, "2024 清明 Sunday worked"},
      {Day(2024, 5, 11), true, "2024 劳动节 Saturday worked"},
      {Day(2024, 9, 14), true, "2024 中秋 Saturday worked"},
      {Day(2025, 1, 26), true, "2025 春节 Sunday worked"},
      {Day(2025, 1, 28), false, "2025 除夕 off (new 放假办法)"},
      {Day(2025, 2, 8), true, "2025 春节 Saturday worked"},
      {Day(2025, 4, 27), true, "2025 劳动节 Sunday worked"},
      {Day(2025, 6, 2), false, "2025 端午 Monday"},
      {Day(2025, 10, 8), false, "2025 国庆中秋 8th day"},
      {Day(2025, 10, 11), true, "2025 国庆 Saturday worked"},
      {Day(2026, 1, 2), false, "2026 元旦 Friday"},
      {Day(2026, 1, 4), true, "2026 元旦 Sunday worked"},
      {Day(2026, 2, 23), false, "2026 春节 9th day (Monday)"},
      {Day(2026, 2, 28), true, "2026 春节 Saturday worked"},
      {Day(2026, 5, 9), true, "2026 劳动节 Saturday worked"},
      {Day(2026, 9, 20), true, "2026 国庆 Sunday worked"},
      {Day(2026, 10, 10), true, "2026 国庆 Saturday worked"},
      {Day(2026, 10, 12), true, "2026 ordinary Monday"},
      {Day(2026, 10, 17), false, "2026 ordinary Saturday"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Real().IsWorkingDay(c.day), c.working) << c.day << ": " << c.why;
  }
}

// The number of weekend days worked per year, as each notice lists them (the 2019 December days
// counted in 2018, where they fall; 2020 without 2-01, given back by the extension).
TEST(CalendarTest, WorkedWeekendsPerYearMatchTheNotices) {
  const std::map<int, int> expected = {{2018, 7}, {2019, 6}, {2020, 6}, {2021, 7}, {2022, 7},
                                       {2023, 7}, {2024, 8}, {2025, 5}, {2026, 6}};
  for (const auto& [year, n] : expected) {
    int worked = 0;
    for (absl::CivilDay d(year, 1, 1); d.year() == year; ++d) {
      const absl::Weekday w = absl::GetWeekday(d);
      if ((w == absl::Weekday::saturday || w == absl::Weekday::sunday) && Real().IsWorkingDay(d)) {
        ++worked;
      }
    }
    EXPECT_EQ(worked, n) << year;
  }
}

TEST(CalendarTest, PublicityOverTheGoldenWeek2023) {
  // Thursday 09-28 is day 1; 09-29..10-06 off; Saturday 10-07 and Sunday 10-08 worked.
  absl::StatusOr<absl::CivilDay> end = Real().PublicityEnd(Day(2023, 9, 28), 5);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(*end, Day(2023, 10, 10));
}

TEST(CalendarTest, PublicityCountingRule) {
  // A working start day counts as day 1.
  EXPECT_EQ(*Real().PublicityEnd(Day(2023, 10, 9), 1), Day(2023, 10, 9));
  EXPECT_EQ(*Real().PublicityEnd(Day(2023, 10, 9), 5), Day(2023, 10, 13));
  // A day off does not: counting starts at the next working day (here a 调休 Saturday).
  EXPECT_EQ(*Real().PublicityEnd(Day(2023, 10, 1), 1), Day(2023, 10, 7));
  // An ordinary weekend: Saturday start, Monday is day 1.
  EXPECT_EQ(*Real().PublicityEnd(Day(2023, 11, 4), 1), Day(2023, 11, 6));
  EXPECT_EQ(*Real().PublicityEnd(Day(2023, 11, 4), 7), Day(2023, 11, 14));
  // Across a year end: Friday 2018-12-28, Saturday 12-29 worked, 12-30..2019-01-01 off.
  EXPECT_EQ(*Real().PublicityEnd(Day(2018, 12, 28), 3), Day(2019, 1, 2));
  // Across the Spring Festival of 2024: Friday 02-09 (除夕, worked), 02-10..17 off, Sunday 02-18
  // worked.
  EXPECT_EQ(*Real().PublicityEnd(Day(2024, 2, 8), 3), Day(2024, 2, 18));
}

TEST(CalendarTest, PublicityRefusesWhatTheCalendarDoesNotCover) {
  absl::StatusOr<absl::CivilDay> end = Real().PublicityEnd(Day(2026, 12, 28), 5);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(end.status().message(), HasSubstr("2027"));
  EXPECT_THAT(end.status().message(), HasSubstr("2018–2026"));
  // Ending on the last covered day is fine: 12-28..12-31 are Monday..Thursday.
  EXPECT_EQ(*Real().PublicityEnd(Day(2026, 12, 28), 4), Day(2026, 12, 31));
  EXPECT_EQ(Real().PublicityEnd(Day(2017, 12, 1), 1).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Real().PublicityEnd(Day(2023, 9, 28), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WorkingCalendar().PublicityEnd(Day(2023, 9, 28), 1).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST(CalendarTest, OutsideCoverageOnlyWeekendsAreKnown) {
  EXPECT_TRUE(Real().IsWorkingDay(Day(2027, 1, 4)));    // a Monday
  EXPECT_FALSE(Real().IsWorkingDay(Day(2027, 1, 2)));   // a Saturday
}

// ---------------------------------------------------------------------------------------------
// The loader's checks

absl::Status LoadOne(const std::string& name, const std::string& text, std::string* errors) {
  Diagnostics diags;
  absl::StatusOr<WorkingCalendar> cal = WorkingCalendar::FromTexts({{name, text}}, &diags);
  errors->clear();
  for (const Diagnostic& d : diags.items()) *errors += d.ToString() + "\n";
  return cal.status();
}

TEST(CalendarLoadTest, AcceptsAGoodYear) {
  std::string errors;
  EXPECT_TRUE(LoadOne("c/2023.textproto",
                      "year: 2023\nsource: \"国办发明电〔2022〕16号\"\n"
                      "holiday: \"2023-10-06\"\nworkday: \"2023-10-07\"\n",
                      &errors)
                  .ok())
      << errors;
}

TEST(CalendarLoadTest, EachMistakeAtItsLine) {
  struct Case {
    const char* name;
    const char* text;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"c/2023.textproto", "year: 2023\nsource: \"x\"\nworkday: \"2023-10-09\"\n",
       "c/2023.textproto:3:1: workday 2023-10-09 is a weekday"},
      {"c/2023.textproto", "year: 2023\nsource: \"x\"\nholiday: \"2022-12-31\"\n",
       "c/2023.textproto:3:1: holiday 2022-12-31 is not in 2023: put it in 2022.textproto"},
      {"c/2023.textproto", "year: 2023\nsource: \"x\"\nholiday: \"2023-10-07\"\nworkday: \"2023-10-07\"\n",
       "c/2023.textproto:4:1: 2023-10-07 is listed both as holiday and as workday"},
      {"c/2023.textproto", "year: 2023\nsource: \"x\"\nholiday: \"2023-10-02\"\nholiday: \"2023-10-02\"\n",
       "c/2023.textproto:4:1: holiday 2023-10-02 is listed twice"},
      {"c/2023.textproto", "year: 2023\nsource: \"x\"\nholiday: \"2023-02-30\"\n",
       "c/2023.textproto:3:1: holiday \"2023-02-30\" is not a date"},
      {"c/2024.textproto", "year: 2023\nsource: \"x\"\n", "c/2024.textproto:1:1: year 2023 in a file named 2024.textproto"},
      {"c/2023.textproto", "year: 2023\n", "c/2023.textproto:1:1: year 2023 names no source"},
      {"c/2023.textproto", "year: 2023\nnotice_unknown: true\nholiday: \"2023-10-02\"\n",
       "c/2023.textproto:1:1: notice_unknown, yet days are listed"},
      {"c/2023.textproto", "year: 2023\nholliday: \"2023-10-02\"\n", "c/2023.textproto:2:"},
      {"c/2023.textproto", "year: 2023\nnotice_unknown: true\n", "no year of the working calendar is known"},
  };
  for (const Case& c : cases) {
    std::string errors;
    absl::Status status = LoadOne(c.name, c.text, &errors);
    EXPECT_FALSE(status.ok()) << c.text;
    EXPECT_THAT(errors, HasSubstr(c.expect)) << c.text;
  }
}

TEST(CalendarLoadTest, CoverageHasNoGapAndNoYearTwice) {
  Diagnostics diags;
  absl::StatusOr<WorkingCalendar> cal = WorkingCalendar::FromTexts(
      {{"c/2022.textproto", "year: 2022\nsource: \"x\"\n"},
       {"c/2023.textproto", "year: 2023\nnotice_unknown: true\n"},
       {"c/2024.textproto", "year: 2024\nsource: \"x\"\n"}},
      &diags);
  ASSERT_FALSE(cal.ok());
  EXPECT_THAT(cal.status().message(),
              HasSubstr("c/2024.textproto:1:1: the calendar covers 2022 and then 2024: year 2023 "
                        "is missing or notice_unknown"));

  Diagnostics twice;
  cal = WorkingCalendar::FromTexts({{"a/2022.textproto", "year: 2022\nsource: \"x\"\n"},
                                    {"b/2022.textproto", "year: 2022\nsource: \"y\"\n"}},
                                   &twice);
  ASSERT_FALSE(cal.ok());
  EXPECT_THAT(cal.status().message(), HasSubstr("year 2022 is also given in a/2022.textproto"));

  // An unknown year after the known ones only ends the coverage.
  Diagnostics ok;
  cal = WorkingCalendar::FromTexts({{"c/2022.textproto", "year: 2022\nsource: \"x\"\n"},
                                    {"c/2023.textproto", "year: 2023\nnotice_unknown: true\n"}},
                                   &ok);
  ASSERT_TRUE(cal.ok()) << cal.status();
  EXPECT_EQ(cal->CoveredYears(), std::make_pair(2022, 2022));
}

TEST(CalendarLoadTest, MissingDirectoryIsNotFound) {
  EXPECT_EQ(WorkingCalendar::Load("/nonexistent-polmatch-rules").status().code(),
            absl::StatusCode::kNotFound);
}

// `polmatch lint` checks the calendar files and fails on an error in them.
TEST(CalendarLintTest, LintReportsCalendarErrors) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(::testing::TempDir()) / ("calendar_lint_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* sub : {"taxonomy", "policies"}) {
    fs::create_directory_symlink(fs::path(testing::RulesDir()) / sub, dir / sub);
  }
  fs::copy(fs::path(testing::RulesDir()) / "calendar", dir / "calendar");
  testing::CmdResult ok = testing::Polmatch("lint " + dir.string() + " --as-of 2023-06-30");
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_THAT(ok.out, ::testing::Not(HasSubstr("/calendar/")));
  EXPECT_THAT(ok.out, ::testing::Not(HasSubstr("[calendar]")));

  std::ofstream(dir / "calendar" / "2024.textproto", std::ios::app) << "workday: \"2024-12-31\"\n";
  testing::CmdResult bad = testing::Polmatch("lint " + dir.string() + " --as-of 2023-06-30");
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_THAT(bad.out, HasSubstr("calendar/2024.textproto:"));
  EXPECT_THAT(bad.out, HasSubstr(": workday 2024-12-31 is a weekday"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace polmatch
