#include "engine/util/decimal.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace polmatch {
namespace {

constexpr int64_t kPow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};

// Divides rounding half away from zero. d > 0.
__int128 DivRoundHalfAway(__int128 n, __int128 d) {
  __int128 q = n / d;
  __int128 r = n % d;
  if (r < 0) r = -r;
  if (2 * r >= d) q += (n < 0) ? -1 : 1;
  return q;
}

// n / d rounded down (toward −∞). d > 0.
__int128 DivFloor(__int128 n, __int128 d) {
  __int128 q = n / d;
  if (n % d != 0 && n < 0) --q;
  return q;
}

}  // namespace

std::optional<Decimal> Decimal::FromRaw(__int128 raw) {
  if (raw > kMaxRaw || raw < -kMaxRaw) return std::nullopt;
  return Decimal(static_cast<int64_t>(raw));
}

std::optional<Decimal> Decimal::FromInt(int64_t v) {
  return FromRaw(static_cast<__int128>(v) * kOne);
}

absl::StatusOr<Decimal> Decimal::Parse(absl::string_view text) {
  absl::string_view s = text;
  if (s.empty()) return absl::InvalidArgumentError("empty number");
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  __int128 whole = 0;
  size_t i = 0;
  size_t int_digits = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++int_digits) {
    whole = whole * 10 + (s[i] - '0');
    if (whole > kMaxRaw) {
      return absl::OutOfRangeError(absl::StrCat("number out of range (|x| ≤ 9e12): ", text));
    }
  }
  int64_t frac = 0;
  int frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      if (frac_digits == kScale) {
        return absl::InvalidArgumentError(
            absl::StrCat("more than 6 fractional digits cannot be held exactly: ", text));
      }
      frac = frac * 10 + (s[i] - '0');
      ++frac_digits;
    }
    if (frac_digits == 0) return absl::InvalidArgumentError(absl::StrCat("not a number: ", text));
  }
  if (int_digits == 0 || i != s.size()) {
    return absl::InvalidArgumentError(absl::StrCat("not a decimal number: \"", text, "\""));
  }
  __int128 raw = whole * kOne + static_cast<__int128>(frac) * kPow10[kScale - frac_digits];
  if (negative) raw = -raw;
  std::optional<Decimal> d = FromRaw(raw);
  if (!d) return absl::OutOfRangeError(absl::StrCat("number out of range (|x| ≤ 9e12): ", text));
  return *d;
}

Decimal Decimal::RoundHalfUp(int places) const {
  if (places >= kScale) return *this;
  if (places < 0) places = 0;
  const int64_t unit = kPow10[kScale - places];
  return Decimal(static_cast<int64_t>(DivRoundHalfAway(raw_, unit) * unit));
}

std::string Decimal::ToString() const {
  std::string out = ToFixed(kScale);
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out;
}

std::string Decimal::ToFixed(int places) const {
  if (places < 0) places = 0;
  if (places > kScale) places = kScale;
  const int64_t r = RoundHalfUp(places).raw_;
  const uint64_t mag = r < 0 ? static_cast<uint64_t>(-(r + 1)) + 1 : static_cast<uint64_t>(r);
  std::string out = r < 0 ? "-" : "";
  absl::StrAppend(&out, mag / kOne);
  if (places > 0) {
    std::string frac = std::to_string(mag % kOne);
    frac.insert(0, kScale - frac.size(), '0');
    absl::StrAppend(&out, ".", frac.substr(0, places));
  }
  return out;
}

std::optional<Decimal> Add(Decimal a, Decimal b) {
  return Decimal::FromRaw(static_cast<__int128>(a.raw()) + b.raw());
}
std::optional<Decimal> Sub(Decimal a, Decimal b) {
  return Decimal::FromRaw(static_cast<__int128>(a.raw()) - b.raw());
}
std::optional<Decimal> Mul(Decimal a, Decimal b) {
  return Decimal::FromRaw(DivFloor(static_cast<__int128>(a.raw()) * b.raw(), Decimal::kOne));
}
std::optional<Decimal> Div(Decimal a, Decimal b) {
  if (b.raw() == 0) return std::nullopt;
  __int128 n = static_cast<__int128>(a.raw()) * Decimal::kOne;
  __int128 d = b.raw();
  if (d < 0) {
    n = -n;
    d = -d;
  }
  return Decimal::FromRaw(DivFloor(n, d));
}
std::optional<Decimal> Neg(Decimal a) { return Decimal::FromRaw(-static_cast<__int128>(a.raw())); }

}  // namespace polmatch
