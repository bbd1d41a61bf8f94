#include "engine/output/night_guard.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "engine/util/decimal.h"

namespace polmatch {
namespace {

constexpr int64_t kMillion = 1'000'000;

// `part` of `whole` in millionths, rounded down; whole > 0.
int64_t Ppm(int64_t part, int64_t whole) {
  return static_cast<int64_t>(static_cast<__int128>(part) * kMillion / whole);
}

}  // namespace

absl::StatusOr<int64_t> ParseFraction(absl::string_view text) {
  absl::string_view number = text;
  const bool percent = absl::ConsumeSuffix(&number, "%");
  absl::StatusOr<Decimal> value = Decimal::Parse(number);
  if (!value.ok() || number.empty() || number[0] == '+' || number[0] == '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a fraction (write 5% or 0.05)"));
  }
  int64_t ppm = value->raw();  // the value in millionths
  if (percent) {
    if (ppm % 100 != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\" has more than 4 decimals (write 0.0001% at the finest)"));
    }
    ppm /= 100;
  }
  if (ppm > kMillion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\" is more than 100%", percent ? "" : " (a fraction is 0 to 1: write 5% or 0.05)"));
  }
  return ppm;
}

std::string FormatFraction(int64_t ppm) {
  // Percent with up to 4 decimals, trailing zeros dropped.
  std::string out = absl::StrFormat("%d.%04d", ppm / 10'000, ppm % 10'000);
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out + "%";
}

absl::Status CheckNightGuards(const NightGuards& guards, int64_t previous_firms, int64_t firms,
                              std::optional<int64_t> records, std::optional<int64_t> rejected) {
  if (previous_firms > 0 && firms < previous_firms) {
    const int64_t lost = previous_firms - firms;
    // Exactly: lost / previous > max ⇔ lost × 10⁶ > max × previous.
    if (static_cast<__int128>(lost) * kMillion >
        static_cast<__int128>(guards.max_shrink_ppm) * previous_firms) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the registry shrank from ", previous_firms, " to ", firms, " firms (",
          FormatFraction(Ppm(lost, previous_firms)), ", more than --max-shrink ",
          FormatFraction(guards.max_shrink_ppm),
          "): a bad export would tell those firms everything was withdrawn; check the firm data "
          "or run with --force"));
    }
  }
  if (records && rejected && *records > 0 &&
      static_cast<__int128>(*rejected) * kMillion >
          static_cast<__int128>(guards.max_reject_ppm) * *records) {
    return absl::FailedPreconditionError(absl::StrCat(
        *rejected, " of ", *records, " input records were rejected (",
        FormatFraction(Ppm(*rejected, *records)), ", more than --max-reject-rate ",
        FormatFraction(guards.max_reject_ppm),
        "); see --rejects, fix the firm data or run with --force"));
  }
  return absl::OkStatus();
}

}  // namespace polmatch
