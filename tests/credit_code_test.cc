// Tests of GB 32100-2015 credit code validation (engine/ingest/credit_code.h).
#include "engine/ingest/credit_code.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using ::testing::HasSubstr;

constexpr absl::string_view kAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";

// Codes shaped like real ones: registration authority + kind, six-digit region, nine-character
// organisation code, computed check character.
std::string WithCheckChar(const std::string& first17) {
  return first17 + *CreditCodeCheckChar(first17);
}

TEST(CreditCodeTest, CheckCharFollowsTheStandardWeights) {
  // Weights 3^i mod 31, check = 31 - (sum mod 31), value 31 written as '0'.
  const std::string first17 = "91440802MA4W1234Q";
  constexpr int kWeights[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
  int sum = 0;
  for (int i = 0; i < 17; ++i) {
    sum += static_cast<int>(kAlphabet.find(first17[i])) * kWeights[i];
  }
  EXPECT_EQ(*CreditCodeCheckChar(first17), kAlphabet[(31 - sum % 31) % 31]);
  // The example code cited in descriptions of the standard.
  EXPECT_EQ(CreditCodeCheckChar("91350100M000100Y4"), '3');
}

TEST(CreditCodeTest, AcceptsValidCodesOfEveryKind) {
  for (const std::string& first17 : {
           std::string("91440802MA4W1234Q"),  // enterprise (工商), 湛江市赤坎区
           std::string("92420100MA4K00001"),  // individual business
           std::string("12100000400000624"),  // public institution (事业单位)
           std::string("51441500MJL000001"),  // social organisation (民政)
           std::string("Y1440800000000001"),  // other authority
       }) {
    EXPECT_TRUE(ValidateCreditCode(WithCheckChar(first17)).ok()) << first17;
  }
  EXPECT_TRUE(ValidateCreditCode("91350100M000100Y43").ok());
  EXPECT_TRUE(ValidateCreditCode(testing::MakeCreditCode("420100", 7)).ok());
}

TEST(CreditCodeTest, RejectsWrongCheckDigitNamingBothCharacters) {
  const std::string code = WithCheckChar("91440802MA4W1234Q");
  const char right = code[17];
  const char wrong = right == '0' ? '1' : '0';
  absl::Status s = ValidateCreditCode(code.substr(0, 17) + wrong);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(std::string("bad check digit: expected '") + right + "', found '" + wrong +
                        "'"));
}

TEST(CreditCodeTest, DetectsEverySingleCharacterSubstitution) {
  // 31 is prime and no weight is 0 mod 31, so changing any one character changes the check sum.
  const std::string code = WithCheckChar("91440802MA4W1234Q");
  for (size_t pos = 0; pos < code.size(); ++pos) {
    for (char c : kAlphabet) {
      if (c == code[pos]) continue;
      std::string changed = code;
      changed[pos] = c;
      EXPECT_FALSE(ValidateCreditCode(changed).ok()) << changed;
    }
  }
}

TEST(CreditCodeTest, RejectsWrongLength) {
  const std::string code = WithCheckChar("91440802MA4W1234Q");
  absl::Status shorter = ValidateCreditCode(code.substr(0, 17));
  EXPECT_THAT(std::string(shorter.message()), HasSubstr("has 17 characters, want 18"));
  absl::Status longer = ValidateCreditCode(code + "0");
  EXPECT_THAT(std::string(longer.message()), HasSubstr("has 19 characters, want 18"));
  EXPECT_THAT(std::string(ValidateCreditCode("").message()), HasSubstr("missing credit_code"));
}

TEST(CreditCodeTest, RejectsForbiddenLettersLowercaseAndNonAscii) {
  for (char forbidden : {'I', 'O', 'S', 'V', 'Z'}) {
    std::string code = WithCheckChar("91440802MA4W1234Q");
    code[10] = forbidden;
    absl::Status s = ValidateCreditCode(code);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.message()),
                HasSubstr(std::string("invalid character '") + forbidden + "' at position 11"));
    EXPECT_EQ(CreditCodeCheckChar(code.substr(0, 17)), std::nullopt);
  }
  std::string lower = WithCheckChar("91440802MA4W1234Q");
  lower[8] = 'm';
  EXPECT_THAT(std::string(ValidateCreditCode(lower).message()),
              HasSubstr("invalid character 'm' at position 9"));
  // 18 bytes, one of them half of a multi-byte character.
  std::string wide = "91440802MA4W1234\xE4\xB8";
  EXPECT_THAT(std::string(ValidateCreditCode(wide).message()), HasSubstr("byte 0xe4"));
  // Characters, not bytes: "中" is one character (issue 12), shown as itself.
  EXPECT_THAT(std::string(ValidateCreditCode("中").message()), HasSubstr("\"中\" has 1 character, want 18"));
  EXPECT_THAT(std::string(ValidateCreditCode("91440802MA4W1234中").message()),
              HasSubstr("has 17 characters, want 18"));
  EXPECT_THAT(std::string(ValidateCreditCode("91440802MA4W1234Q中").message()),
              HasSubstr("invalid character '中' at position 18"));
}

TEST(CreditCodeTest, CheckCharNeedsSeventeenCharacters) {
  EXPECT_EQ(CreditCodeCheckChar("91440802MA4W1234"), std::nullopt);
  EXPECT_EQ(CreditCodeCheckChar("91440802MA4W1234QQ"), std::nullopt);
  EXPECT_EQ(CreditCodeCheckChar(""), std::nullopt);
}

}  // namespace
}  // namespace polmatch
