// File: lexer.h
//
// Tokenizes a rule expression with RE2 (SPEC §3): numbers with units (20%, 1000万元, 1.5亿),
// strings, identifiers (ASCII or CJK letters, digits, '_' and '.'), keywords and operators.
// Whitespace and '#' comments are skipped.
#ifndef POLMATCH_EXPR_LEXER_H_
#define POLMATCH_EXPR_LEXER_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "engine/util/decimal.h"

namespace polmatch {

enum class TokenKind {
  kNumber, kString, kIdent,
  kAnd, kOr, kNot, kIn, kUnder, kTrue, kFalse,
  kLParen, kRParen, kLBracket, kRBracket, kComma,
  kPlus, kMinus, kStar, kSlash,
  kLt, kLe, kGt, kGe, kEq, kNe,
  kEnd,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t begin = 0;     // byte offsets in the source
  size_t end = 0;
  std::string text;     // identifier, or string value (escapes resolved)
  Decimal number;       // kNumber, with its unit applied
};

// Position and message of the first problem in an expression.
struct ExprError {
  size_t offset = 0;
  std::string message;
};

// Tokens of `src`, ending with kEnd. On failure, fills `error` and returns InvalidArgument.
absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view src, ExprError* error);

absl::string_view TokenKindName(TokenKind kind);

}  // namespace polmatch

#endif  // POLMATCH_EXPR_LEXER_H_
