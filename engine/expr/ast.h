// File: ast.h
//
// The rule language's syntax tree (SPEC §3). A Node owns its children; after Check() every node
// carries its type and every identifier is resolved to a tag, a fact or a built-in. Nodes are
// plain values: they can be cloned, compared and printed, so plans are testable as data.
//
// Example:
//   ExprError err;
//   auto node = ParseExpr("revenue >= 1000万 and region under \"441500\"", &err);
//   CheckExpr(node->get(), taxonomy, Type::kBool, &err);
//   (*node)->ToString();   // "(and (>= revenue 10000000) (under region \"441500\"))"
#ifndef POLMATCH_EXPR_AST_H_
#define POLMATCH_EXPR_AST_H_

#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/time/civil_time.h"
#include "engine/util/decimal.h"
#include "engine/util/strong_id.h"

namespace polmatch {

enum class Type { kUnresolved, kBool, kNumber, kDate, kRegion, kIndustry, kString };
absl::string_view TypeName(Type t);

enum class NodeKind {
  kNumber,    // literal; `number`
  kString,    // literal; `text`
  kBool,      // literal; `boolean`
  kIdent,     // `text`; resolved by Check into one of the four kinds below
  kTag,       // `tag`
  kFact,      // `fact`
  kBuiltin,   // `builtin`: region, industry, founded, as_of
  kCall,      // `func`, children = arguments
  kNeg,       // unary minus
  kNot,
  kAnd,       // n-ary, children in source order
  kOr,        // n-ary
  kCompare,   // `op` in {kLt..kNe}, 2 children
  kIn,        // children[0] in children[1..]
  kUnder,     // children[0] under `text`
  kArith,     // `op` in {kAdd..kDiv}, 2 children
};

enum class Op { kNone, kAdd, kSub, kMul, kDiv, kLt, kLe, kGt, kGe, kEq, kNe };
absl::string_view OpText(Op op);

enum class Builtin { kRegion, kIndustry, kFounded, kAsOf };

enum class Func {
  kUnknownFunc,
  kMin, kMax, kAbs, kIf, kTier, kDate, kYearsBetween, kDaysBetween, kValidFrom, kValidTo,
  kHasFact,
};
absl::string_view FuncName(Func f);

struct Node {
  NodeKind kind = NodeKind::kNumber;
  Type type = Type::kUnresolved;
  size_t begin = 0;  // byte range in the expression source
  size_t end = 0;

  Decimal number;
  bool boolean = false;
  std::string text;  // identifier as written, string literal value, or `under` code
  Op op = Op::kNone;
  Func func = Func::kUnknownFunc;
  Builtin builtin = Builtin::kRegion;
  TagId tag;
  FactId fact;
  absl::CivilDay date;  // date("…") literal, once checked
  std::vector<std::unique_ptr<Node>> children;

  Node() = default;
  Node(Node&&) = default;
  Node& operator=(Node&&) = default;
  // Frees the subtree iteratively: a tree as deep as the parser's node limit never recurses.
  ~Node();

  std::unique_ptr<Node> Clone() const;
  // Copies every field but the children (Clone's first step; the policy index's arena uses it).
  void CopyFieldsFrom(const Node& from);
  // Structural equality (positions ignored).
  bool Equals(const Node& other) const;
  // S-expression form, for tests and debugging.
  std::string ToString() const;
};

}  // namespace polmatch

#endif  // POLMATCH_EXPR_AST_H_
