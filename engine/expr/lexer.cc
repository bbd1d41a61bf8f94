#include "engine/expr/lexer.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "re2/re2.h"

namespace polmatch {
namespace {

absl::Status Fail(ExprError* error, size_t offset, std::string message) {
  error->offset = offset;
  error->message = std::move(message);
  return absl::InvalidArgumentError(error->message);
}

}  // namespace

absl::string_view TokenKindName(TokenKind kind) {
  switch (kind) {
    case TokenKind::kNumber: return "number";
    case TokenKind::kString: return "string";
    case TokenKind::kIdent: return "identifier";
    case TokenKind::kAnd: return "'and'";
    case TokenKind::kOr: return "'or'";
    case TokenKind::kNot: return "'not'";
    case TokenKind::kIn: return "'in'";
    case TokenKind::kUnder: return "'under'";
    case TokenKind::kTrue: return "'true'";
    case TokenKind::kFalse: return "'false'";
    case TokenKind::kLParen: return "'('";
    case TokenKind::kRParen: return "')'";
    case TokenKind::kLBracket: return "'['";
    case TokenKind::kRBracket: return "']'";
    case TokenKind::kComma: return "','";
    case TokenKind::kPlus: return "'+'";
    case TokenKind::kMinus: return "'-'";
    case TokenKind::kStar: return "'*'";
    case TokenKind::kSlash: return "'/'";
    case TokenKind::kLt: return "'<'";
    case TokenKind::kLe: return "'<='";
    case TokenKind::kGt: return "'>'";
    case TokenKind::kGe: return "'>='";
    case TokenKind::kEq: return "'=='";
    case TokenKind::kNe: return "'!='";
    case TokenKind::kEnd: return "end of expression";
  }
  return "?";
}

absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view src, ExprError* error) {
  static const LazyRE2 kSkip = {R"((?:\s|#[^\n]*)+)"};
  static const LazyRE2 kNumber = {R"((\d+(?:\.\d+)?)(%|万|亿)?(元)?)"};
  static const LazyRE2 kString = {R"re("((?:[^"\\\n]|\\.)*)")re"};
  static const LazyRE2 kIdent = {R"([\p{L}_][\p{L}\p{N}_.]*)"};
  static const LazyRE2 kOperator = {R"(<=|>=|==|!=|&&|\|\||[<>!(),\[\]+\-*/])"};

  std::vector<Token> tokens;
  re2::StringPiece in(src.data(), src.size());
  auto offset = [&] { return static_cast<size_t>(in.data() - src.data()); };
  while (true) {
    RE2::Consume(&in, *kSkip);
    if (in.empty()) break;
    Token tok;
    tok.begin = offset();
    re2::StringPiece digits, unit, yuan, body;
    if (RE2::Consume(&in, *kNumber, &digits, &unit, &yuan)) {
      tok.kind = TokenKind::kNumber;
      absl::StatusOr<Decimal> value = Decimal::Parse(absl::string_view(digits.data(), digits.size()));
      if (!value.ok()) return Fail(error, tok.begin, std::string(value.status().message()));
      std::optional<Decimal> scaled = *value;
      if (unit == "%") {
        // x% = x / 100 must itself be exact in 6 fractional digits (0.0001% is the finest).
        if (value->raw() % 100 != 0) {
          return Fail(error, tok.begin,
                      absl::StrCat(absl::string_view(digits.data(), digits.size()),
                                   "% cannot be held exactly (at most 6 fractional digits: the "
                                   "finest percentage is 0.0001%)"));
        }
        scaled = Decimal::FromRaw(value->raw() / 100);
      }
      if (unit == "万") scaled = Mul(*value, *Decimal::FromInt(10000));
      if (unit == "亿") scaled = Mul(*value, *Decimal::FromInt(100000000));
      if (!scaled) return Fail(error, tok.begin, "number out of range (|x| ≤ 9e12)");
      tok.number = *scaled;
    } else if (RE2::Consume(&in, *kString, &body)) {
      tok.kind = TokenKind::kString;
      for (size_t i = 0; i < body.size(); ++i) {
        if (body[i] == '\\' && i + 1 < body.size()) ++i;
        tok.text.push_back(body[i]);
      }
    } else if (RE2::Consume(&in, *kIdent)) {
      tok.text = std::string(src.substr(tok.begin, offset() - tok.begin));
      static const std::pair<const char*, TokenKind> kKeywords[] = {
          {"and", TokenKind::kAnd}, {"or", TokenKind::kOr},       {"not", TokenKind::kNot},
          {"in", TokenKind::kIn},   {"under", TokenKind::kUnder}, {"true", TokenKind::kTrue},
          {"false", TokenKind::kFalse}};
      tok.kind = TokenKind::kIdent;
      for (const auto& [word, kind] : kKeywords) {
        if (tok.text == word) tok.kind = kind;
      }
    } else if (RE2::Consume(&in, *kOperator)) {
      absl::string_view op = src.substr(tok.begin, offset() - tok.begin);
      static const std::pair<const char*, TokenKind> kOps[] = {
          {"<=", TokenKind::kLe},     {">=", TokenKind::kGe},     {"==", TokenKind::kEq},
          {"!=", TokenKind::kNe},     {"&&", TokenKind::kAnd},    {"||", TokenKind::kOr},
          {"<", TokenKind::kLt},      {">", TokenKind::kGt},      {"!", TokenKind::kNot},
          {"(", TokenKind::kLParen},  {")", TokenKind::kRParen},  {",", TokenKind::kComma},
          {"[", TokenKind::kLBracket}, {"]", TokenKind::kRBracket}, {"+", TokenKind::kPlus},
          {"-", TokenKind::kMinus},   {"*", TokenKind::kStar},    {"/", TokenKind::kSlash}};
      for (const auto& [text, kind] : kOps) {
        if (op == text) tok.kind = kind;
      }
    } else if (in[0] == '"') {
      return Fail(error, tok.begin, "unterminated string");
    } else {
      // Report the whole UTF-8 character.
      size_t len = 1;
      while (len < in.size() && (static_cast<unsigned char>(in[len]) & 0xC0) == 0x80) ++len;
      return Fail(error, tok.begin,
                  absl::StrCat("unexpected character '", absl::string_view(in.data(), len), "'"));
    }
    tok.end = offset();
    tokens.push_back(std::move(tok));
  }
  Token end;
  end.kind = TokenKind::kEnd;
  end.begin = end.end = src.size();
  tokens.push_back(end);
  return tokens;
}

}  // namespace polmatch
