// File: night_internal.h
//
// What the night's writers share (night_csv.cc, night_pushes.cc): not part of the engine's API.
#ifndef POLMATCH_OUTPUT_NIGHT_INTERNAL_H_
#define POLMATCH_OUTPUT_NIGHT_INTERNAL_H_

#include <cstdint>
#include <string>

#include "engine/util/amounts.h"
#include "engine/util/decimal.h"

namespace polmatch::night_internal {

// FormatYuan(Decimal::FromRawUnchecked(raw)) appended, without allocating for the common case of
// a non-negative whole number of fen (benefits are rounded to the fen).
inline void AppendYuan(std::string* out, int64_t raw) {
  constexpr int64_t kFen = Decimal::kOne / 100;
  if (raw < 0 || raw % kFen != 0) {
    out->append(FormatYuan(Decimal::FromRawUnchecked(raw)));
    return;
  }
  char buf[32];
  char* end = buf + sizeof buf;
  char* p = end;
  const int64_t fen = raw / kFen;
  *--p = static_cast<char>('0' + fen % 10);
  *--p = static_cast<char>('0' + fen / 10 % 10);
  *--p = '.';
  int64_t yuan = fen / 100;
  do {
    *--p = static_cast<char>('0' + yuan % 10);
    yuan /= 10;
  } while (yuan > 0);
  out->append(p, static_cast<size_t>(end - p));
}

}  // namespace polmatch::night_internal

#endif  // POLMATCH_OUTPUT_NIGHT_INTERNAL_H_
