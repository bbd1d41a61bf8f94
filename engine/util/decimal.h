// File: decimal.h
//
// Decimal is polmatch's one number type: exact fixed-point with 6 fractional digits, held in an
// int64 as millionths. Values are bounded by ±9×10¹² (SPEC §3), so every value fits in 63 bits and
// products and quotients are computed in 128 bits. Operations that would leave the range, and
// division by zero, return std::nullopt: the caller treats the result as unknown. No binary
// floating point is used anywhere on a value or money path.
//
// Products and quotients that need more than 6 fractional digits are rounded down (toward −∞)
// at the 6th, never to nearest: the exact value x then lies in [y, y + 10⁻⁶) of the result y,
// and as every fen and half-fen is a whole number of millionths, y rounds half-up to the fen
// exactly as x does, and compares with any constant (<, <=, >=, >) exactly as x would — so a
// money amount is rounded once, at the end, with RoundHalfUp(2) (SPEC §3). Rounding to nearest
// at the 6th digit would round twice: 4.9995 × 0.1% = 0.0049995 would become 0.005000 and pay
// 0.01 instead of 0.00. The guarantee holds for one rounded product or quotient combined with
// exact values by +, min, max, if and tier (what benefits are made of); subtracting or
// multiplying an already rounded value again is within 10⁻⁶ times the factor.
//
// Example:
//   Decimal a = *Decimal::Parse("12345.675");
//   Decimal b = *Decimal::Parse("0.2");
//   Mul(a, b)->RoundHalfUp(2).ToFixed(2);   // "2469.14"
#ifndef POLMATCH_UTIL_DECIMAL_H_
#define POLMATCH_UTIL_DECIMAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace polmatch {

class Decimal {
 public:
  static constexpr int kScale = 6;
  static constexpr int64_t kOne = 1'000'000;
  // The largest magnitude held: 9×10¹² in units of 10⁻⁶.
  static constexpr int64_t kMaxRaw = 9'000'000'000'000LL * kOne;

  constexpr Decimal() = default;

  // From millionths; nullopt when |raw| exceeds kMaxRaw.
  static std::optional<Decimal> FromRaw(__int128 raw);
  static constexpr Decimal FromRawUnchecked(int64_t raw) { return Decimal(raw); }
  // Whole number; nullopt when out of range.
  static std::optional<Decimal> FromInt(int64_t v);

  // Parses "-12", "3.5", "0.000001", "+7". At most 6 fractional digits (more would not be exact),
  // no exponent, no thousands separators. Errors name the reason.
  static absl::StatusOr<Decimal> Parse(absl::string_view text);

  int64_t raw() const { return raw_; }
  bool is_zero() const { return raw_ == 0; }
  bool is_negative() const { return raw_ < 0; }

  // Rounds half away from zero to `places` (0..6) fractional digits.
  Decimal RoundHalfUp(int places) const;
  // Shortest exact form: "12.5", "3", "-0.000001".
  std::string ToString() const;
  // Exactly `places` fractional digits (the value must already be rounded to them, or is
  // rounded half-up first): ToFixed(2) of 2000000 → "2000000.00".
  std::string ToFixed(int places) const;

  friend bool operator==(Decimal a, Decimal b) { return a.raw_ == b.raw_; }
  friend bool operator!=(Decimal a, Decimal b) { return a.raw_ != b.raw_; }
  friend bool operator<(Decimal a, Decimal b) { return a.raw_ < b.raw_; }
  friend bool operator<=(Decimal a, Decimal b) { return a.raw_ <= b.raw_; }
  friend bool operator>(Decimal a, Decimal b) { return a.raw_ > b.raw_; }
  friend bool operator>=(Decimal a, Decimal b) { return a.raw_ >= b.raw_; }

 private:
  constexpr explicit Decimal(int64_t raw) : raw_(raw) {}
  int64_t raw_ = 0;
};

// Exact arithmetic; nullopt on overflow or division by zero.
std::optional<Decimal> Add(Decimal a, Decimal b);
std::optional<Decimal> Sub(Decimal a, Decimal b);
std::optional<Decimal> Mul(Decimal a, Decimal b);
std::optional<Decimal> Div(Decimal a, Decimal b);
std::optional<Decimal> Neg(Decimal a);

}  // namespace polmatch

#endif  // POLMATCH_UTIL_DECIMAL_H_
