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

}  // namespace polmatch

#endif  // POLMATCH_UTIL_DATES_H_
