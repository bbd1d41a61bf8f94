#include "engine/util/dates.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace polmatch {

absl::StatusOr<absl::CivilDay> ParseDate(absl::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("bad date \"", text, "\" (want YYYY-MM-DD)"));
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  int parts[3] = {0, 0, 0};
  const int starts[3] = {0, 5, 8};
  const int lens[3] = {4, 2, 2};
  for (int p = 0; p < 3; ++p) {
    for (int i = 0; i < lens[p]; ++i) {
      char c = text[starts[p] + i];
      if (c < '0' || c > '9') return bad();
      parts[p] = parts[p] * 10 + (c - '0');
    }
  }
  absl::CivilDay day(parts[0], parts[1], parts[2]);
  if (day.year() != parts[0] || day.month() != parts[1] || day.day() != parts[2] ||
      parts[0] < 1000) {
    return bad();
  }
  return day;
}

std::string FormatDate(absl::CivilDay day) {
  return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
}

int64_t YearsBetween(absl::CivilDay from, absl::CivilDay to) {
  if (to < from) return -YearsBetween(to, from);
  int64_t years = to.year() - from.year();
  if (to.month() < from.month() || (to.month() == from.month() && to.day() < from.day())) {
    --years;
  }
  return years;
}

absl::CivilDay Today() {
  return absl::ToCivilDay(absl::Now(), absl::LocalTimeZone());
}

}  // namespace polmatch
