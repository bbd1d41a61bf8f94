// File: rule_limits.h
//
// RuleLimits bounds what a rules directory may ask of the loaders, as RE2's Options bound a
// pattern: a hostile or mistaken catalog (a 15,000-term sum, a 1 MB `1+1+…`, a 16,000-deep tag
// chain) is refused with its `file:line:col` instead of exhausting the stack, the memory or the
// time of `lint`, `test`, `batch`, `query` and `serve`. Every recursive walk of a rule
// expression (checker, evaluators, plan and program compilers, printers, lint) is bounded by
// `max_expr_depth`; the defaults are far above any real policy.
//
// Example:
//   RuleLimits limits;
//   limits.max_expr_nodes = 2000;
//   absl::StatusOr<Catalog> c = Catalog::LoadDir("rules", &diags, limits);
#ifndef POLMATCH_UTIL_RULE_LIMITS_H_
#define POLMATCH_UTIL_RULE_LIMITS_H_

#include <cstddef>

namespace polmatch {

struct RuleLimits {
  // Source text of one expression (eligibility, benefit or rank_by), in bytes.
  size_t max_expr_bytes = 64 * 1024;
  // Syntax-tree nodes of one expression (each literal, identifier, operator and call is one).
  int max_expr_nodes = 10000;
  // Syntax-tree depth of one expression, every level counted: `a + b + c` is 3 deep (operators
  // associate to the left, so a chain of N operators is N + 1 deep); `not`, unary `-`, calls and
  // comparisons add a level each, parentheses none (but the parser's own nesting of
  // parentheses, `not`, `-` and calls is bounded by the same number).
  int max_expr_depth = 200;
  // Longest parent chain of the tag library (a tag and its ancestors). Each tag stores its
  // ancestors and descendants, so memory grows with tags × depth.
  int max_tag_depth = 64;
};

}  // namespace polmatch

#endif  // POLMATCH_UTIL_RULE_LIMITS_H_
