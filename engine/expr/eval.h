// File: eval.h
//
// The reference evaluator of the rule language: a plain tree walk over one firm at a time,
// with Kleene three-valued logic and exact decimal arithmetic (SPEC §3). It is the oracle that
// the bitset engine is tested against, so it favours being obviously right over being fast.
#ifndef POLMATCH_EXPR_EVAL_H_
#define POLMATCH_EXPR_EVAL_H_

#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/time/civil_time.h"
#include "engine/expr/ast.h"
#include "engine/util/decimal.h"
#include "engine/util/strong_id.h"

namespace polmatch {

// What an expression can ask of a firm. Implementations answer for one firm on one date.
class FirmEnv {
 public:
  virtual ~FirmEnv() = default;
  virtual std::optional<Decimal> Fact(FactId id) const = 0;      // nullopt = unknown
  virtual bool HoldsTag(TagId id) const = 0;                     // on as_of, hierarchy closed
  // Validity of the grant by which the firm holds the tag; nullopt if open or not held.
  virtual std::optional<absl::CivilDay> TagValidFrom(TagId id) const = 0;
  virtual std::optional<absl::CivilDay> TagValidTo(TagId id) const = 0;
  virtual absl::string_view Region() const = 0;                   // "" = unknown
  virtual absl::string_view Industry() const = 0;                 // "" = unknown
  virtual std::optional<absl::CivilDay> Founded() const = 0;
  virtual absl::CivilDay AsOf() const = 0;
};

// A value of the language. kUnknown carries whether it came from an arithmetic fault (overflow,
// division by zero) rather than from missing data.
struct Value {
  enum class Kind { kUnknown, kBool, kNumber, kDate, kCode };
  Kind kind = Kind::kUnknown;
  bool boolean = false;
  Decimal number;
  absl::CivilDay date;
  absl::string_view code;  // region/industry code or string literal (points into env or AST)
  bool arithmetic_fault = false;

  static Value Unknown(bool fault = false) {
    Value v;
    v.arithmetic_fault = fault;
    return v;
  }
  static Value Bool(bool b) {
    Value v;
    v.kind = Kind::kBool;
    v.boolean = b;
    return v;
  }
  static Value Number(Decimal d) {
    Value v;
    v.kind = Kind::kNumber;
    v.number = d;
    return v;
  }
  static Value Date(absl::CivilDay d) {
    Value v;
    v.kind = Kind::kDate;
    v.date = d;
    return v;
  }
  static Value Code(absl::string_view c) {
    Value v;
    v.kind = Kind::kCode;
    v.code = c;
    return v;
  }
  bool is_unknown() const { return kind == Kind::kUnknown; }
  bool is_true() const { return kind == Kind::kBool && boolean; }
  bool is_false() const { return kind == Kind::kBool && !boolean; }
  std::string ToString() const;  // "TRUE", "FALSE", "UNKNOWN", "12.5", "2023-01-01", "440802"
};

// Evaluates a checked expression for one firm.
Value Evaluate(const Node& node, const FirmEnv& env);

}  // namespace polmatch

#endif  // POLMATCH_EXPR_EVAL_H_
