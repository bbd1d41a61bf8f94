// File: amounts.h
//
// Exact totals of money over a whole registry, and numbers written for people. A sum of fen-rounded
// benefits over ten million firms can pass Decimal's ±9×10¹² bound, so totals are kept in
// 128 bits of millionths (the same unit as Decimal::raw()) and printed exactly.
//
// Example:
//   YuanTotal t;
//   t.Add(*Decimal::Parse("1200000.5"));
//   t.ToFixed2();                                  // "1200000.50"
//   WithThousands("9000000");                      // "9,000,000"
#ifndef POLMATCH_UTIL_AMOUNTS_H_
#define POLMATCH_UTIL_AMOUNTS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "engine/util/decimal.h"

namespace polmatch {

class YuanTotal {
 public:
  void Add(Decimal d) { raw_ += d.raw(); }
  void Add(const YuanTotal& t) { raw_ += t.raw_; }
  void Subtract(const YuanTotal& t) { raw_ -= t.raw_; }
  __int128 raw() const { return raw_; }
  // "-1234.50": two places, rounded half away from zero.
  std::string ToFixed2() const;
  friend bool operator==(const YuanTotal& a, const YuanTotal& b) { return a.raw_ == b.raw_; }

 private:
  __int128 raw_ = 0;  // millionths of a yuan
};

// Inserts thousands separators into the integer part of a decimal text: "-1234567.5" →
// "-1,234,567.5".
std::string WithThousands(absl::string_view decimal_text);

}  // namespace polmatch

#endif  // POLMATCH_UTIL_AMOUNTS_H_
