// File: truth.h
//
// The three values of a condition — true, false, unknown (Kleene logic) — in one encoding every
// matcher shares: a byte, 0 false, 1 true, 2 unknown. The bitset forms keep two words instead
// (known-true, known-false; unknown = neither) and say so where they do; the reference
// evaluator's `Value` maps onto it with semantics::TruthOf, the proto's ConditionTrace::Value
// in explain.cc.
//
// Example:
//   Truth t = KleeneAnd(Truth::kTrue, Truth::kUnknown);   // kUnknown
//   t = KleeneOr(t, Truth::kTrue);                        // kTrue
#ifndef POLMATCH_UTIL_TRUTH_H_
#define POLMATCH_UTIL_TRUTH_H_

#include <cstdint>

namespace polmatch {

enum class Truth : uint8_t { kFalse = 0, kTrue = 1, kUnknown = 2 };

constexpr Truth TruthOf(bool b) { return b ? Truth::kTrue : Truth::kFalse; }

// Kleene's connectives: false wins an `and`, true wins an `or`, otherwise unknown is catching.
constexpr Truth KleeneAnd(Truth a, Truth b) {
  if (a == Truth::kFalse || b == Truth::kFalse) return Truth::kFalse;
  return a == Truth::kUnknown || b == Truth::kUnknown ? Truth::kUnknown : Truth::kTrue;
}
constexpr Truth KleeneOr(Truth a, Truth b) {
  if (a == Truth::kTrue || b == Truth::kTrue) return Truth::kTrue;
  return a == Truth::kUnknown || b == Truth::kUnknown ? Truth::kUnknown : Truth::kFalse;
}
constexpr Truth KleeneNot(Truth a) {
  return a == Truth::kUnknown ? a : a == Truth::kTrue ? Truth::kFalse : Truth::kTrue;
}

}  // namespace polmatch

#endif  // POLMATCH_UTIL_TRUTH_H_
