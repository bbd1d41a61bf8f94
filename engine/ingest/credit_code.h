// File: credit_code.h
//
// GB 32100-2015 unified social credit codes (统一社会信用代码): 18 characters from the 31-symbol
// alphabet 0-9 A-Y without I, O, S, V, Z; the last is a check character over the first 17 with
// weights 3^i mod 31.
#ifndef POLMATCH_INGEST_CREDIT_CODE_H_
#define POLMATCH_INGEST_CREDIT_CODE_H_

#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace polmatch {

// The check character for 17 leading characters; nullopt if one is outside the alphabet.
std::optional<char> CreditCodeCheckChar(absl::string_view first17);

// Ok for a well-formed code with a correct check character; otherwise InvalidArgument saying
// what is wrong ("bad check digit: expected 'X', found 'Y'").
absl::Status ValidateCreditCode(absl::string_view code);

}  // namespace polmatch

#endif  // POLMATCH_INGEST_CREDIT_CODE_H_
