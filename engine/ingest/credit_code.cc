#include "engine/ingest/credit_code.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace polmatch {
namespace {

constexpr absl::string_view kAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
constexpr int kWeights[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};

int ValueOf(char c) {
  size_t p = kAlphabet.find(c);
  return p == absl::string_view::npos ? -1 : static_cast<int>(p);
}

// The bytes of the UTF-8 character `s` starts with (1 for an invalid or truncated sequence).
size_t Utf8Length(absl::string_view s) {
  const unsigned char c = static_cast<unsigned char>(s[0]);
  const size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? (c <= 0xEF ? 3 : 1) : c >= 0xC2 ? 2 : 1;
  if (n == 1 || s.size() < n) return 1;
  for (size_t i = 1; i < n; ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) return 1;
  }
  return n;
}

}  // namespace

std::optional<char> CreditCodeCheckChar(absl::string_view first17) {
  if (first17.size() != 17) return std::nullopt;
  int sum = 0;
  for (int i = 0; i < 17; ++i) {
    int v = ValueOf(first17[i]);
    if (v < 0) return std::nullopt;
    sum += v * kWeights[i];
  }
  return kAlphabet[(31 - sum % 31) % 31];
}

absl::Status ValidateCreditCode(absl::string_view code) {
  if (code.empty()) return absl::InvalidArgumentError("missing credit_code");
  // Counted and shown by characters, not bytes: "中" is one character, not three. A byte that
  // does not start a valid UTF-8 sequence counts as one character of its own.
  size_t count = 0;
  for (size_t i = 0; i < code.size(); i += Utf8Length(code.substr(i))) ++count;
  if (count != 18) {
    return absl::InvalidArgumentError(absl::StrCat("credit_code \"", code, "\" has ", count,
                                                   count == 1 ? " character" : " characters", ", want 18"));
  }
  for (size_t i = 0, position = 1; i < code.size(); ++position) {
    const absl::string_view ch = code.substr(i, Utf8Length(code.substr(i)));
    i += ch.size();
    if (ch.size() == 1 && ValueOf(ch[0]) >= 0) continue;
    const unsigned char c = static_cast<unsigned char>(ch[0]);
    const std::string shown = ch.size() > 1 || (c >= 0x21 && c < 0x7F) ? absl::StrCat("'", ch, "'")
                                                                       : absl::StrFormat("byte 0x%02x", c);
    return absl::InvalidArgumentError(absl::StrCat("credit_code \"", code, "\" has invalid character ", shown,
                                                   " at position ", position,
                                                   " (allowed: 0-9 and A-Y except I, O, S, V, Z)"));
  }
  const char want = *CreditCodeCheckChar(code.substr(0, 17));
  if (code[17] != want) {
    return absl::InvalidArgumentError(absl::StrCat("credit_code \"", code,
                                                   "\": bad check digit: expected '",
                                                   std::string(1, want), "', found '",
                                                   std::string(1, code[17]), "'"));
  }
  return absl::OkStatus();
}

}  // namespace polmatch
