#include "engine/expr/parser.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/util/dates.h"
#include "engine/util/status_macros.h"

namespace polmatch {
namespace {

class Parser {
 public:
  Parser(std::vector<Token> tokens, ExprError* error, const RuleLimits& limits)
      : toks_(std::move(tokens)), error_(error), limits_(limits) {}

  absl::StatusOr<std::unique_ptr<Node>> ParseAll() {
    if (Peek().kind == TokenKind::kEnd) return Fail(0, "empty expression");
    auto root = Or();
    if (!root.ok()) return root;
    if (Peek().kind != TokenKind::kEnd) {
      return Fail(Peek().begin, absl::StrCat("unexpected ", Describe(Peek()),
                                             " after a complete expression"));
    }
    if (nodes_ > limits_.max_expr_nodes) return TooManyNodes(Peek().begin);
    if (const Node* deep = TooDeep(**root)) {
      return Fail(deep->begin,
                  absl::StrCat("expression nested deeper than ", limits_.max_expr_depth,
                               " levels (each operator of a chain such as a + b + … counts as "
                               "one level): split it"));
    }
    return root;
  }

 private:
  using Result = absl::StatusOr<std::unique_ptr<Node>>;

  const Token& Peek() const { return toks_[pos_]; }
  const Token& Next() { return toks_[pos_ < toks_.size() - 1 ? pos_++ : pos_]; }
  bool Accept(TokenKind k) {
    if (Peek().kind != k) return false;
    Next();
    return true;
  }
  static std::string Describe(const Token& t) {
    if (t.kind == TokenKind::kIdent) return absl::StrCat("identifier '", t.text, "'");
    if (t.kind == TokenKind::kNumber) return absl::StrCat("number ", t.number.ToString());
    if (t.kind == TokenKind::kString) return absl::StrCat("string \"", t.text, "\"");
    return std::string(TokenKindName(t.kind));
  }
  absl::Status Fail(size_t offset, std::string message) {
    error_->offset = offset;
    error_->message = std::move(message);
    return absl::InvalidArgumentError(error_->message);
  }
  absl::Status Expect(TokenKind k, absl::string_view context) {
    if (Accept(k)) return absl::OkStatus();
    return Fail(Peek().begin, absl::StrCat("expected ", TokenKindName(k), " ", context,
                                           ", found ", Describe(Peek())));
  }
  std::unique_ptr<Node> Make(NodeKind kind, size_t begin, size_t end) {
    ++nodes_;
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->begin = begin;
    n->end = end;
    return n;
  }
  // The parser's own recursion (parentheses, `not`, `-`, calls) is bounded here; chains of
  // binary operators are parsed by loops, and the depth of the tree they build is measured by
  // TooDeep once the whole expression is read (the node limit bounds it meanwhile).
  absl::Status Enter() {
    if (++depth_ > limits_.max_expr_depth) {
      return Fail(Peek().begin,
                  absl::StrCat("expression nested deeper than ", limits_.max_expr_depth, " levels"));
    }
    return absl::OkStatus();
  }
  absl::Status TooManyNodes(size_t offset) {
    return Fail(offset, absl::StrCat("expression too large: more than ", limits_.max_expr_nodes,
                                     " operators and operands: split it"));
  }
  // The first node (in source order) deeper than the limit, or null. Iterative.
  const Node* TooDeep(const Node& root) const {
    std::vector<std::pair<const Node*, int>> stack = {{&root, 1}};
    while (!stack.empty()) {
      auto [n, depth] = stack.back();
      stack.pop_back();
      if (depth > limits_.max_expr_depth) return n;
      for (auto it = n->children.rbegin(); it != n->children.rend(); ++it) {
        stack.push_back({it->get(), depth + 1});
      }
    }
    return nullptr;
  }

  Result Nary(NodeKind kind, TokenKind op, Result (Parser::*sub)()) {
    auto first = (this->*sub)();
    if (!first.ok()) return first;
    if (Peek().kind != op) return first;
    auto n = Make(kind, (*first)->begin, (*first)->end);
    n->children.push_back(std::move(*first));
    while (Accept(op)) {
      auto next = (this->*sub)();
      if (!next.ok()) return next;
      n->end = (*next)->end;
      n->children.push_back(std::move(*next));
    }
    return n;
  }
  Result Or() {
    if (auto s = Enter(); !s.ok()) return s;
    auto r = Nary(NodeKind::kOr, TokenKind::kOr, &Parser::And);
    --depth_;
    return r;
  }
  Result And() { return Nary(NodeKind::kAnd, TokenKind::kAnd, &Parser::Not); }

  Result Not() {
    if (Peek().kind == TokenKind::kNot) {
      size_t begin = Next().begin;
      if (auto s = Enter(); !s.ok()) return s;
      auto operand = Not();
      --depth_;
      if (!operand.ok()) return operand;
      auto n = Make(NodeKind::kNot, begin, (*operand)->end);
      n->children.push_back(std::move(*operand));
      return n;
    }
    return Cmp();
  }

  Result Cmp() {
    auto lhs = Sum();
    if (!lhs.ok()) return lhs;
    static const std::pair<TokenKind, Op> kCmp[] = {
        {TokenKind::kLt, Op::kLt}, {TokenKind::kLe, Op::kLe}, {TokenKind::kGt, Op::kGt},
        {TokenKind::kGe, Op::kGe}, {TokenKind::kEq, Op::kEq}, {TokenKind::kNe, Op::kNe}};
    for (const auto& [tk, op] : kCmp) {
      if (Peek().kind != tk) continue;
      Next();
      auto rhs = Sum();
      if (!rhs.ok()) return rhs;
      auto n = Make(NodeKind::kCompare, (*lhs)->begin, (*rhs)->end);
      n->op = op;
      n->children.push_back(std::move(*lhs));
      n->children.push_back(std::move(*rhs));
      return n;
    }
    if (Accept(TokenKind::kIn)) {
      auto n = Make(NodeKind::kIn, (*lhs)->begin, 0);
      n->children.push_back(std::move(*lhs));
      if (auto s = Expect(TokenKind::kLBracket, "after 'in'"); !s.ok()) return s;
      do {
        auto item = Sum();
        if (!item.ok()) return item;
        n->children.push_back(std::move(*item));
      } while (Accept(TokenKind::kComma));
      n->end = Peek().end;
      if (auto s = Expect(TokenKind::kRBracket, "to close the 'in' list"); !s.ok()) return s;
      return n;
    }
    if (Accept(TokenKind::kUnder)) {
      if (Peek().kind != TokenKind::kString) {
        return Fail(Peek().begin, absl::StrCat("expected a code string after 'under', found ",
                                               Describe(Peek())));
      }
      const Token& code = Next();
      auto n = Make(NodeKind::kUnder, (*lhs)->begin, code.end);
      n->text = code.text;
      n->children.push_back(std::move(*lhs));
      return n;
    }
    return lhs;
  }

  Result Binary(Result (Parser::*sub)(), std::initializer_list<std::pair<TokenKind, Op>> ops) {
    auto lhs = (this->*sub)();
    if (!lhs.ok()) return lhs;
    while (true) {
      Op op = Op::kNone;
      for (const auto& [tk, o] : ops) {
        if (Peek().kind == tk) op = o;
      }
      if (op == Op::kNone) return lhs;
      Next();
      auto rhs = (this->*sub)();
      if (!rhs.ok()) return rhs;
      auto n = Make(NodeKind::kArith, (*lhs)->begin, (*rhs)->end);
      n->op = op;
      n->children.push_back(std::move(*lhs));
      n->children.push_back(std::move(*rhs));
      lhs = std::move(n);
    }
  }
  Result Sum() {
    return Binary(&Parser::Term, {{TokenKind::kPlus, Op::kAdd}, {TokenKind::kMinus, Op::kSub}});
  }
  Result Term() {
    return Binary(&Parser::Unary, {{TokenKind::kStar, Op::kMul}, {TokenKind::kSlash, Op::kDiv}});
  }
  Result Unary() {
    if (Peek().kind == TokenKind::kMinus) {
      size_t begin = Next().begin;
      if (auto s = Enter(); !s.ok()) return s;
      auto operand = Unary();
      --depth_;
      if (!operand.ok()) return operand;
      auto n = Make(NodeKind::kNeg, begin, (*operand)->end);
      n->children.push_back(std::move(*operand));
      return n;
    }
    return Atom();
  }

  Result Atom() {
    const Token& t = Peek();
    // Every operand passes here, and at most a few nodes are made between two operands.
    if (nodes_ > limits_.max_expr_nodes) return TooManyNodes(t.begin);
    switch (t.kind) {
      case TokenKind::kNumber: {
        Next();
        auto n = Make(NodeKind::kNumber, t.begin, t.end);
        n->number = t.number;
        return n;
      }
      case TokenKind::kString: {
        Next();
        auto n = Make(NodeKind::kString, t.begin, t.end);
        n->text = t.text;
        return n;
      }
      case TokenKind::kTrue:
      case TokenKind::kFalse: {
        Next();
        auto n = Make(NodeKind::kBool, t.begin, t.end);
        n->boolean = t.kind == TokenKind::kTrue;
        return n;
      }
      case TokenKind::kIdent: {
        Next();
        if (!Accept(TokenKind::kLParen)) {
          auto n = Make(NodeKind::kIdent, t.begin, t.end);
          n->text = t.text;
          return n;
        }
        auto n = Make(NodeKind::kCall, t.begin, 0);
        n->text = t.text;
        if (auto s = Enter(); !s.ok()) return s;
        if (Peek().kind != TokenKind::kRParen) {
          do {
            auto arg = Or();
            if (!arg.ok()) return arg;
            n->children.push_back(std::move(*arg));
          } while (Accept(TokenKind::kComma));
        }
        --depth_;
        n->end = Peek().end;
        if (auto s = Expect(TokenKind::kRParen, absl::StrCat("to close the call of '", t.text, "'"));
            !s.ok()) {
          return s;
        }
        return n;
      }
      case TokenKind::kLParen: {
        Next();
        if (auto s = Enter(); !s.ok()) return s;
        auto inner = Or();
        --depth_;
        if (!inner.ok()) return inner;
        if (auto s = Expect(TokenKind::kRParen, "to close '('"); !s.ok()) return s;
        return inner;
      }
      default:
        return Fail(t.begin, absl::StrCat("expected a value, found ", Describe(t)));
    }
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  int nodes_ = 0;
  ExprError* error_;
  const RuleLimits& limits_;
};

// ---- Checking ------------------------------------------------------------------------------

class Checker {
 public:
  Checker(const Taxonomy& taxonomy, ExprError* error) : tax_(taxonomy), error_(error) {}

  absl::Status Check(Node* n) {
    switch (n->kind) {
      case NodeKind::kNumber: n->type = Type::kNumber; return absl::OkStatus();
      case NodeKind::kString: n->type = Type::kString; return absl::OkStatus();
      case NodeKind::kBool: n->type = Type::kBool; return absl::OkStatus();
      case NodeKind::kIdent: return Resolve(n);
      case NodeKind::kTag:
      case NodeKind::kFact:
      case NodeKind::kBuiltin: return absl::OkStatus();
      case NodeKind::kNeg:
        RETURN_IF_ERROR(Want(n->children[0].get(), Type::kNumber, "'-'"));
        n->type = Type::kNumber;
        return absl::OkStatus();
      case NodeKind::kNot:
        RETURN_IF_ERROR(Want(n->children[0].get(), Type::kBool, "'not'"));
        n->type = Type::kBool;
        return absl::OkStatus();
      case NodeKind::kAnd:
      case NodeKind::kOr:
        for (auto& c : n->children) {
          RETURN_IF_ERROR(Want(c.get(), Type::kBool, n->kind == NodeKind::kAnd ? "'and'" : "'or'"));
        }
        n->type = Type::kBool;
        return absl::OkStatus();
      case NodeKind::kArith:
        for (auto& c : n->children) {
          RETURN_IF_ERROR(Want(c.get(), Type::kNumber, absl::StrCat("'", OpText(n->op), "'")));
        }
        n->type = Type::kNumber;
        return absl::OkStatus();
      case NodeKind::kCompare: return CheckCompare(n);
      case NodeKind::kIn: return CheckIn(n);
      case NodeKind::kUnder: return CheckUnder(n);
      case NodeKind::kCall: return CheckCall(n);
    }
    return absl::OkStatus();
  }

  absl::Status Want(Node* n, Type want, absl::string_view context) {
    RETURN_IF_ERROR(Check(n));
    if (n->type != want) {
      return Fail(n->begin, absl::StrCat("type error: ", context, " needs a ", TypeName(want),
                                         ", but this is a ", TypeName(n->type)));
    }
    return absl::OkStatus();
  }

  absl::Status Fail(size_t offset, std::string message) {
    error_->offset = offset;
    error_->message = std::move(message);
    return absl::InvalidArgumentError(error_->message);
  }

 private:

  absl::Status Resolve(Node* n) {
    static const std::pair<const char*, std::pair<Builtin, Type>> kBuiltins[] = {
        {"region", {Builtin::kRegion, Type::kRegion}},
        {"industry", {Builtin::kIndustry, Type::kIndustry}},
        {"founded", {Builtin::kFounded, Type::kDate}},
        {"as_of", {Builtin::kAsOf, Type::kDate}}};
    for (const auto& [name, bt] : kBuiltins) {
      if (n->text == name) {
        n->kind = NodeKind::kBuiltin;
        n->builtin = bt.first;
        n->type = bt.second;
        return absl::OkStatus();
      }
    }
    if (auto tag = tax_.FindTag(n->text)) {
      n->kind = NodeKind::kTag;
      n->tag = *tag;
      n->type = Type::kBool;
      return absl::OkStatus();
    }
    if (auto fact = tax_.FindFact(n->text)) {
      n->kind = NodeKind::kFact;
      n->fact = *fact;
      n->type = Type::kNumber;
      return absl::OkStatus();
    }
    return Fail(n->begin, absl::StrCat("unknown identifier '", n->text,
                                       "' (not a tag, fact or built-in of the tag library)"));
  }

  // Two operand types that may be compared with `op`.
  static bool Comparable(Type a, Type b, Op op) {
    const bool equality = op == Op::kEq || op == Op::kNe;
    if (a == b) {
      if (a == Type::kNumber || a == Type::kDate) return true;
      return equality && a == Type::kBool;
    }
    auto code = [](Type t) { return t == Type::kRegion || t == Type::kIndustry; };
    return equality && ((code(a) && b == Type::kString) || (code(b) && a == Type::kString));
  }

  absl::Status CheckCodeLiteral(Type code_type, const Node& lit) {
    if (code_type == Type::kRegion && !tax_.IsKnownRegion(lit.text)) {
      return Fail(lit.begin, absl::StrCat("\"", lit.text, "\" is not a GB/T 2260 region code of the tag library"));
    }
    if (code_type == Type::kIndustry && !tax_.IsValidIndustry(lit.text)) {
      return Fail(lit.begin, absl::StrCat("\"", lit.text, "\" is not a GB/T 4754-2017 industry code"));
    }
    return absl::OkStatus();
  }

  absl::Status CheckCompare(Node* n) {
    Node* a = n->children[0].get();
    Node* b = n->children[1].get();
    RETURN_IF_ERROR(Check(a));
    RETURN_IF_ERROR(Check(b));
    if (!Comparable(a->type, b->type, n->op)) {
      return Fail(n->begin, absl::StrCat("type error: cannot compare a ", TypeName(a->type),
                                         " with a ", TypeName(b->type), " using '", OpText(n->op), "'"));
    }
    if (a->type == Type::kString) RETURN_IF_ERROR(CheckCodeLiteral(b->type, *a));
    if (b->type == Type::kString) RETURN_IF_ERROR(CheckCodeLiteral(a->type, *b));
    n->type = Type::kBool;
    return absl::OkStatus();
  }

  absl::Status CheckIn(Node* n) {
    Node* x = n->children[0].get();
    RETURN_IF_ERROR(Check(x));
    for (size_t i = 1; i < n->children.size(); ++i) {
      Node* item = n->children[i].get();
      RETURN_IF_ERROR(Check(item));
      if (!Comparable(x->type, item->type, Op::kEq) || item->type == Type::kRegion ||
          item->type == Type::kIndustry) {
        return Fail(item->begin, absl::StrCat("type error: 'in' list item is a ", TypeName(item->type),
                                              ", the value tested is a ", TypeName(x->type)));
      }
      if (item->type == Type::kString) RETURN_IF_ERROR(CheckCodeLiteral(x->type, *item));
    }
    n->type = Type::kBool;
    return absl::OkStatus();
  }

  absl::Status CheckUnder(Node* n) {
    Node* x = n->children[0].get();
    RETURN_IF_ERROR(Check(x));
    if (x->type != Type::kRegion && x->type != Type::kIndustry) {
      return Fail(x->begin, absl::StrCat("type error: 'under' needs region or industry, but this is a ",
                                         TypeName(x->type)));
    }
    Node lit;
    lit.text = n->text;
    lit.begin = n->end > 0 ? n->end - n->text.size() - 2 : n->begin;
    if (x->type == Type::kRegion && !tax_.IsKnownRegion(n->text)) {
      return Fail(lit.begin, absl::StrCat("\"", n->text, "\" is not a GB/T 2260 region code of the tag library"));
    }
    if (x->type == Type::kIndustry && !tax_.IsKnownIndustry(n->text)) {
      return Fail(lit.begin, absl::StrCat("\"", n->text, "\" is not a GB/T 4754-2017 industry code of the tag library"));
    }
    n->type = Type::kBool;
    return absl::OkStatus();
  }

  absl::Status Arity(Node* n, size_t min, size_t max) {
    const size_t got = n->children.size();
    if (got >= min && got <= max) return absl::OkStatus();
    std::string want = min == max ? absl::StrCat(min)
                       : max == SIZE_MAX ? absl::StrCat("at least ", min)
                                         : absl::StrCat(min, " to ", max);
    return Fail(n->begin, absl::StrCat("'", n->text, "' takes ", want, " argument",
                                       (min == 1 && max == 1) ? "" : "s", ", got ", got));
  }

  absl::Status CheckCall(Node* n) {
    static const std::pair<const char*, Func> kFuncs[] = {
        {"min", Func::kMin},   {"max", Func::kMax},   {"abs", Func::kAbs},
        {"if", Func::kIf},     {"tier", Func::kTier}, {"date", Func::kDate},
        {"years_between", Func::kYearsBetween},       {"days_between", Func::kDaysBetween},
        {"valid_from", Func::kValidFrom},             {"valid_to", Func::kValidTo},
        {"has_fact", Func::kHasFact}};
    n->func = Func::kUnknownFunc;
    for (const auto& [name, f] : kFuncs) {
      if (n->text == name) n->func = f;
    }
    auto& args = n->children;
    switch (n->func) {
      case Func::kUnknownFunc:
        return Fail(n->begin, absl::StrCat("unknown function '", n->text, "'"));
      case Func::kMin:
      case Func::kMax:
        RETURN_IF_ERROR(Arity(n, 1, SIZE_MAX));
        for (auto& a : args) RETURN_IF_ERROR(Want(a.get(), Type::kNumber, absl::StrCat("'", n->text, "'")));
        n->type = Type::kNumber;
        return absl::OkStatus();
      case Func::kAbs:
        RETURN_IF_ERROR(Arity(n, 1, 1));
        RETURN_IF_ERROR(Want(args[0].get(), Type::kNumber, "'abs'"));
        n->type = Type::kNumber;
        return absl::OkStatus();
      case Func::kIf:
        RETURN_IF_ERROR(Arity(n, 3, 3));
        RETURN_IF_ERROR(Want(args[0].get(), Type::kBool, "the condition of 'if'"));
        RETURN_IF_ERROR(Check(args[1].get()));
        RETURN_IF_ERROR(Check(args[2].get()));
        if (args[1]->type != args[2]->type ||
            (args[1]->type != Type::kNumber && args[1]->type != Type::kBool &&
             args[1]->type != Type::kDate)) {
          return Fail(args[2]->begin, absl::StrCat("type error: the branches of 'if' must both be numbers, ",
                                                   "booleans or dates; got ", TypeName(args[1]->type),
                                                   " and ", TypeName(args[2]->type)));
        }
        n->type = args[1]->type;
        return absl::OkStatus();
      case Func::kTier:
        if (args.size() < 3 || args.size() % 2 == 0) {
          return Fail(n->begin, absl::StrCat("'tier' takes a value and threshold/amount pairs ",
                                             "(an odd number ≥ 3 of arguments), got ", args.size()));
        }
        for (auto& a : args) RETURN_IF_ERROR(Want(a.get(), Type::kNumber, "'tier'"));
        n->type = Type::kNumber;
        return absl::OkStatus();
      case Func::kDate: {
        RETURN_IF_ERROR(Arity(n, 1, 1));
        if (args[0]->kind != NodeKind::kString) {
          return Fail(args[0]->begin, "'date' takes a string literal \"YYYY-MM-DD\"");
        }
        absl::StatusOr<absl::CivilDay> d = ParseDate(args[0]->text);
        if (!d.ok()) return Fail(args[0]->begin, std::string(d.status().message()));
        args[0]->type = Type::kString;
        n->date = *d;
        n->type = Type::kDate;
        return absl::OkStatus();
      }
      case Func::kYearsBetween:
      case Func::kDaysBetween:
        RETURN_IF_ERROR(Arity(n, 2, 2));
        for (auto& a : args) RETURN_IF_ERROR(Want(a.get(), Type::kDate, absl::StrCat("'", n->text, "'")));
        n->type = Type::kNumber;
        return absl::OkStatus();
      case Func::kValidFrom:
      case Func::kValidTo:
        RETURN_IF_ERROR(Arity(n, 1, 1));
        RETURN_IF_ERROR(Check(args[0].get()));
        if (args[0]->kind != NodeKind::kTag) {
          return Fail(args[0]->begin, absl::StrCat("'", n->text, "' takes a tag"));
        }
        n->type = Type::kDate;
        return absl::OkStatus();
      case Func::kHasFact:
        RETURN_IF_ERROR(Arity(n, 1, 1));
        RETURN_IF_ERROR(Check(args[0].get()));
        if (args[0]->kind != NodeKind::kFact) {
          return Fail(args[0]->begin, "'has_fact' takes a fact id");
        }
        n->type = Type::kBool;
        return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  const Taxonomy& tax_;
  ExprError* error_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Node>> ParseExpr(absl::string_view src, ExprError* error,
                                                const RuleLimits& limits) {
  if (src.size() > limits.max_expr_bytes) {
    size_t at = limits.max_expr_bytes;  // on a character boundary
    while (at > 0 && (static_cast<unsigned char>(src[at]) & 0xC0) == 0x80) --at;
    error->offset = at;
    error->message = absl::StrCat("expression longer than ", limits.max_expr_bytes,
                                  " bytes (", src.size(), "): split it");
    return absl::InvalidArgumentError(error->message);
  }
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(src, error);
  if (!tokens.ok()) return tokens.status();
  return Parser(std::move(*tokens), error, limits).ParseAll();
}

absl::Status CheckExpr(Node* root, const Taxonomy& taxonomy, Type expected, ExprError* error) {
  Checker checker(taxonomy, error);
  return checker.Want(root, expected,
                      expected == Type::kBool ? "an eligibility rule" : "an amount");
}

absl::StatusOr<std::unique_ptr<Node>> CompileExpr(absl::string_view src, const Taxonomy& taxonomy,
                                                  Type expected, ExprError* error,
                                                  const RuleLimits& limits) {
  absl::StatusOr<std::unique_ptr<Node>> node = ParseExpr(src, error, limits);
  if (!node.ok()) return node;
  absl::Status s = CheckExpr(node->get(), taxonomy, expected, error);
  if (!s.ok()) return s;
  return node;
}

std::vector<const Node*> TopLevelConditions(const Node& root) {
  std::vector<const Node*> out;
  if (root.kind == NodeKind::kAnd) {
    for (const auto& c : root.children) out.push_back(c.get());
  } else {
    out.push_back(&root);
  }
  return out;
}

bool IsActionable(const Node& node, const Taxonomy& taxonomy) {
  switch (node.kind) {
    case NodeKind::kTag:
      for (TagId a : taxonomy.tag(node.tag).ancestors) {
        if (!taxonomy.tag(a).actionable) return false;
      }
      return true;
    case NodeKind::kFact: return taxonomy.fact(node.fact).actionable;
    case NodeKind::kBuiltin: return node.builtin == Builtin::kAsOf;
    default:
      for (const auto& c : node.children) {
        if (!IsActionable(*c, taxonomy)) return false;
      }
      return true;
  }
}

}  // namespace polmatch
