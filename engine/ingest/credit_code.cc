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
  if (code.size() != 18) {
    return absl::InvalidArgumentError(
        absl::StrCat("credit_code \"", code, "\" has ", code.size(), " characters, want 18"));
  }
  for (size_t i = 0; i < code.size(); ++i) {
    if (ValueOf(code[i]) < 0) {
      const unsigned char c = static_cast<unsigned char>(code[i]);
      const std::string shown =
          c >= 0x21 && c < 0x7F ? absl::StrCat("'", std::string(1, code[i]), "'")
                               : absl::StrFormat("byte 0x%02x", c);
      return absl::InvalidArgumentError(absl::StrCat(
          "credit_code \"", code, "\" has invalid character ", shown, " at position ", i + 1,
          " (allowed: 0-9 and A-Y except I, O, S, V, Z)"));
    }
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
