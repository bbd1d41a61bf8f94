// File: dates.h
//
// Calendar dates as absl::CivilDay, parsed strictly from "YYYY-MM-DD" (no normalisation:
// "2023-02-30" is an error, not March 2nd).
#ifndef POLMATCH_UTIL_DATES_H_
#define POLMATCH_UTIL_DATES_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"

namespace polmatch {

absl::StatusOr<absl::CivilDay> ParseDate(absl::string_view text);
std::string FormatDate(absl::CivilDay day);
// Whole years from `from` to `to`, counted as birthdays are: 2020-03-15 → 2023-03-14 is 2.
int64_t YearsBetween(absl::CivilDay from, absl::CivilDay to);
// Today in local time (the default `as_of`).
absl::CivilDay Today();

// Day numbers: days since 1970-01-01, as the store, the snapshot, the state file and the compiled
// programs keep dates (1970-01-01 is 0, 1969-12-31 is -1), and back.
inline constexpr absl::CivilDay kDayZero(1970, 1, 1);
inline int64_t DaysSince1970(absl::CivilDay day) { return day - kDayZero; }
inline absl::CivilDay DayFrom1970(int64_t days) { return kDayZero + days; }

}  // namespace polmatch

#endif  // POLMATCH_UTIL_DATES_H_
