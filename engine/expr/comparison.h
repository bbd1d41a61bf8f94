// File: comparison.h
//
// The two rewrites of a comparison operator every consumer of the AST needs, written once:
//   MirroredComparison: the comparison seen from the other side, `a OP b` ⇔ `b Mirrored(OP) a`;
//   NegatedComparison:  its negation on known values, `not (a OP b)` ⇔ `a Negated(OP) b`.
// (On an unknown operand both sides are unknown, so both rewrites also hold in Kleene logic.)
// Arithmetic operators are returned unchanged.
//
// Example:
//   MirroredComparison(Op::kLt) == Op::kGt;   // 3 < x  ⇔  x > 3
//   NegatedComparison(Op::kLt) == Op::kGe;    // not (x < 3)  ⇔  x >= 3
#ifndef POLMATCH_EXPR_COMPARISON_H_
#define POLMATCH_EXPR_COMPARISON_H_

#include "engine/expr/ast.h"

namespace polmatch {

constexpr Op MirroredComparison(Op op) {
  switch (op) {
    case Op::kLt: return Op::kGt;
    case Op::kLe: return Op::kGe;
    case Op::kGt: return Op::kLt;
    case Op::kGe: return Op::kLe;
    default: return op;  // == and != are symmetric
  }
}

constexpr Op NegatedComparison(Op op) {
  switch (op) {
    case Op::kLt: return Op::kGe;
    case Op::kLe: return Op::kGt;
    case Op::kGt: return Op::kLe;
    case Op::kGe: return Op::kLt;
    case Op::kEq: return Op::kNe;
    case Op::kNe: return Op::kEq;
    default: return op;
  }
}

}  // namespace polmatch

#endif  // POLMATCH_EXPR_COMPARISON_H_
