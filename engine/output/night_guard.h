// File: night_guard.h
//
// The nightly job's guards (SPEC §5): a bad export must not tell a province's firms that everything
// was withdrawn. With --previous, a night is refused when the registry shrank by more than a
// fraction of the previous night's firms, or when more than a fraction of the input records were
// rejected. Fractions are exact (millionths), never floating point.
//
// Example:
//   NightGuards guards;  // 5% shrink, 1% rejects
//   absl::Status ok = CheckNightGuards(guards, /*previous_firms=*/18483, /*firms=*/0,
//                                      /*records=*/1, /*rejected=*/1);
//   // FailedPrecondition: "the registry shrank from 18483 to 0 firms (100%, more than
//   // --max-shrink 5%) …"
#ifndef POLMATCH_OUTPUT_NIGHT_GUARD_H_
#define POLMATCH_OUTPUT_NIGHT_GUARD_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polmatch {

// A fraction in millionths: 50000 = 5%.
struct NightGuards {
  int64_t max_shrink_ppm = 50'000;      // --max-shrink 5%
  int64_t max_reject_ppm = 10'000;      // --max-reject-rate 1%
};

// "5%", "0.5%", "0.05" or "1" (a fraction of one, 0 to 1; at most 4 decimals with %, 6 without):
// the fraction in millionths. Errors name the reason.
absl::StatusOr<int64_t> ParseFraction(absl::string_view text);
// 50000 → "5%", 12345 → "1.2345%".
std::string FormatFraction(int64_t ppm);

// OK, or FailedPrecondition with one line saying which guard refused the night and by how much.
// `records` and `rejected` are the input records read and rejected (nullopt when the registry came
// from a snapshot, whose rejects index reported).
absl::Status CheckNightGuards(const NightGuards& guards, int64_t previous_firms, int64_t firms,
                              std::optional<int64_t> records, std::optional<int64_t> rejected);

}  // namespace polmatch

#endif  // POLMATCH_OUTPUT_NIGHT_GUARD_H_
