// File: calendar.h
//
// WorkingCalendar: which days are working days in mainland China, from the State Council's yearly
// notices (rules/calendar/YYYY.textproto, one WorkingCalendarYear each). A day is a working day
// when it is a Monday–Friday that is not a listed holiday, or a listed 调休 workday (a Saturday or
// Sunday worked in exchange for a day off). It counts the working days of a 公示 (publicity period,
// SPEC §7: `grants publish` ends a 公示 `publicity_days` working days after it starts).
//
// Coverage: the years with a known notice, which must be consecutive. A year whose file says
// `notice_unknown: true` (the notice is not yet published or not known) is not covered; neither
// is a year with no file. Outside coverage IsWorkingDay knows only weekends, and PublicityEnd
// refuses: a deadline is never computed from a guessed calendar.
//
// Immutable once loaded; share it between threads.
//
// Example:
//   absl::StatusOr<WorkingCalendar> cal = WorkingCalendar::Load("rules");
//   // 公示 of 5 working days from Thursday 2023-09-28 (中秋+国庆 off 09-29..10-06, the weekend
//   // of 10-07/10-08 worked): 09-28, 10-07, 10-08, 10-09, 10-10.
//   absl::StatusOr<absl::CivilDay> end = cal->PublicityEnd(absl::CivilDay(2023, 9, 28), 5);
//   // *end == absl::CivilDay(2023, 10, 10)
#ifndef POLMATCH_UTIL_CALENDAR_H_
#define POLMATCH_UTIL_CALENDAR_H_

#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "engine/util/diagnostics.h"

namespace polmatch {

class WorkingCalendar {
 public:
  // A calendar that covers no year (every PublicityEnd is an error).
  WorkingCalendar() = default;

  // Reads `rules_dir`/calendar/*.textproto (in name order). Checks, each error as
  // `file:line:col: reason`: the text parses; the file is named after its year; every date is
  // "YYYY-MM-DD" of the file's year, listed once; no day is both holiday and workday; every
  // workday is a Saturday or Sunday; a known year names its source; a notice_unknown year lists
  // no day; no year has two files; the known years are consecutive. At least one year must be
  // known. Returns the first error (and how many there were).
  static absl::StatusOr<WorkingCalendar> Load(const std::filesystem::path& rules_dir);
  // The same, every error added to `diags` (for `polmatch lint`).
  static absl::StatusOr<WorkingCalendar> Load(const std::filesystem::path& rules_dir,
                                              Diagnostics* diags);
  // From file texts already read: (file name used in messages and for the year check, text).
  // Tests and the fuzzer use it.
  static absl::StatusOr<WorkingCalendar> FromTexts(
      const std::vector<std::pair<std::string, std::string>>& files, Diagnostics* diags);

  // A weekday that is not a holiday, or a 调休 workday. Outside coverage: Monday–Friday.
  bool IsWorkingDay(absl::CivilDay day) const;

  // The last day of a 公示 that starts on `from` and lasts `working_days` working days: `from` is
  // day 1 if it is a working day, else counting starts at the next working day. InvalidArgument
  // if working_days < 1; OutOfRange (naming the year) if a day to count falls in a year not
  // covered.
  absl::StatusOr<absl::CivilDay> PublicityEnd(absl::CivilDay from, int working_days) const;

  bool Covers(int year) const { return first_ <= year && year <= last_; }
  // First and last covered year (inclusive); {0, -1} when nothing is covered.
  std::pair<int, int> CoveredYears() const { return {first_, last_}; }
  // The covered range as text for messages: "2018–2026", or "no year".
  std::string CoverageText() const;

 private:
  int first_ = 0;
  int last_ = -1;
  std::set<absl::CivilDay> holidays_;
  std::set<absl::CivilDay> workdays_;
};

}  // namespace polmatch

#endif  // POLMATCH_UTIL_CALENDAR_H_
