// libFuzzer target for the working calendar's loader (rules/calendar/YYYY.textproto). The input
// is split at NUL bytes into up to three files named 2022..2024.textproto. Whatever the bytes,
// loading returns an error or a calendar whose 公示 ends are working days on or after the start.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "engine/util/calendar.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 16)) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  std::vector<std::pair<std::string, std::string>> files;
  size_t start = 0;
  for (int year = 2022; year <= 2024 && start <= bytes.size(); ++year) {
    size_t end = bytes.find('\0', start);
    if (end == std::string::npos || year == 2024) end = bytes.size();
    files.emplace_back(std::to_string(year) + ".textproto", bytes.substr(start, end - start));
    start = end + 1;
  }
  polmatch::Diagnostics diags;
  absl::StatusOr<polmatch::WorkingCalendar> cal = polmatch::WorkingCalendar::FromTexts(files, &diags);
  if (!cal.ok()) {
    if (!diags.has_errors()) std::abort();  // an error is always reported with its position
    return 0;
  }
  const auto [first, last] = cal->CoveredYears();
  if (first > last) std::abort();  // a loaded calendar covers some year
  for (int days : {1, 5, 30}) {
    const absl::CivilDay from(first, 1 + static_cast<int>(size % 12), 1 + static_cast<int>(size % 28));
    absl::StatusOr<absl::CivilDay> end = cal->PublicityEnd(from, days);
    if (end.ok() && (*end < from || !cal->IsWorkingDay(*end))) std::abort();
  }
  return 0;
}
