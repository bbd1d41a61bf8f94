#include "engine/util/amounts.h"

#include "absl/strings/str_cat.h"

namespace polmatch {

std::string YuanTotal::ToFixed2() const {
  const bool negative = raw_ < 0;
  unsigned __int128 mag = negative ? -static_cast<unsigned __int128>(raw_) : raw_;
  unsigned __int128 fen = (mag + 5000) / 10000;  // half away from zero
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(fen % 10)));
    fen /= 10;
  } while (fen > 0);
  while (digits.size() < 3) digits.insert(digits.begin(), '0');
  digits.insert(digits.end() - 2, '.');
  return negative && digits != "0.00" ? "-" + digits : digits;
}

std::string WithThousands(absl::string_view text) {
  size_t start = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  size_t end = text.find('.');
  if (end == absl::string_view::npos) end = text.size();
  std::string out(text.substr(0, start));
  for (size_t i = start; i < end; ++i) {
    out.push_back(text[i]);
    const size_t left = end - i - 1;
    if (left > 0 && left % 3 == 0) out.push_back(',');
  }
  absl::StrAppend(&out, text.substr(end));
  return out;
}

}  // namespace polmatch
