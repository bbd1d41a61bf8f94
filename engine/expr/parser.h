// File: parser.h
//
// Parsing (SPEC §3 grammar) and checking of rule expressions. ParseExpr builds the syntax tree;
// CheckExpr resolves identifiers against the tag library, types every node and validates
// function arity, date literals and `under` codes. Errors carry the byte offset in the source.
#ifndef POLMATCH_EXPR_PARSER_H_
#define POLMATCH_EXPR_PARSER_H_

#include <memory>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "engine/expr/ast.h"
#include "engine/expr/lexer.h"
#include "engine/taxonomy/taxonomy.h"
#include "engine/util/rule_limits.h"

namespace polmatch {

// Parses `src`, refusing (with the offset where the limit is passed) an expression longer than
// limits.max_expr_bytes, with more than max_expr_nodes nodes or deeper than max_expr_depth.
absl::StatusOr<std::unique_ptr<Node>> ParseExpr(absl::string_view src, ExprError* error,
                                                const RuleLimits& limits = {});

// Resolves and types `root` in place; `expected` is the type the context needs (kBool for
// eligibility, kNumber for benefit and rank_by).
absl::Status CheckExpr(Node* root, const Taxonomy& taxonomy, Type expected, ExprError* error);

// Parse + check.
absl::StatusOr<std::unique_ptr<Node>> CompileExpr(absl::string_view src, const Taxonomy& taxonomy,
                                                  Type expected, ExprError* error,
                                                  const RuleLimits& limits = {});

// The top-level `and` terms of an eligibility expression (one term if it is not an `and`).
std::vector<const Node*> TopLevelConditions(const Node& root);

// True when the expression names no non-actionable tag or fact and no region, industry or
// founding date: a firm could change its value by its own effort.
bool IsActionable(const Node& node, const Taxonomy& taxonomy);

}  // namespace polmatch

#endif  // POLMATCH_EXPR_PARSER_H_
