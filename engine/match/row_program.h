// File: row_program.h
//
// RowProgram is one expression of the rule language compiled to postfix code for one firm at a
// time: what the single-firm index runs for benefit formulas and for the conditions it cannot
// fold into its prefilter (`rd_expense / revenue >= 3%`, `min(tax_paid * 30%, 100万)`,
// `tier(revenue, 2000万, 10万, …)`, `if(tag, a, b)`). A few contiguous 16-byte instructions and a
// small value stack replace a walk over heap-allocated tree nodes and FirmEnv's virtual calls.
//
// The subset: numbers, facts, tags (held on as_of, hierarchy closed), `has_fact`, `not`, `and`,
// `or`, comparisons of numbers or of dates, + − × ÷, unary minus, `abs`, `min`, `max`, `if`,
// `tier`, `founded`, `as_of`, `date(…)`, `years_between`, `days_between`, and `region/industry
// under`. Anything else (`in`, `valid_from`, code equality, …) does not compile, and the caller
// keeps the reference evaluator for it. Results equal Evaluate()'s (same Decimal
// arithmetic, Kleene logic, and `tier`'s order of unknowns); the policy index's differential
// tests check it against the reference on random catalogs.
#ifndef POLMATCH_MATCH_ROW_PROGRAM_H_
#define POLMATCH_MATCH_ROW_PROGRAM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/expr/ast.h"
#include "engine/util/dates.h"
#include "engine/util/decimal.h"

namespace polmatch {

// A comparison as a mask over the three orders of (a, b): bit 0 a < b, bit 1 a == b, bit 2
// a > b (0 for an operator that is not a comparison).
uint8_t ComparisonMask(Op op);
// Whether `a op b` holds, for op given as a ComparisonMask; no branches.
inline bool CompareByMask(uint8_t mask, int64_t a, int64_t b) {
  const int order = (a > b) - (a < b) + 1;
  return (mask >> order) & 1;
}

class RowProgram {
 public:
  // The firm as the program reads it.
  struct Row {
    const std::optional<Decimal>* facts = nullptr;  // by FactId
    const uint64_t* held = nullptr;                  // tags held, a bit per TagId
    absl::string_view region, industry;              // "" = unknown
    bool founded_known = false;
    int64_t founded = 0;                             // days since 1970-01-01
    int64_t as_of = 0;
  };
  // A value: known, and for booleans 0 or 1. No member initializers: Run's value stack is not
  // zeroed on every run (Result{} is unknown).
  struct Result {
    bool known;
    int64_t raw;  // Decimal raw, 0 / 1, or a day number
  };
  static int64_t DayOf(absl::CivilDay d) { return DaysSince1970(d); }

  // Compiles `n`, or returns nullopt for an expression outside the subset.
  static std::optional<RowProgram> Compile(const Node& n);

  Result Run(const Row& row) const { return Run(0, row); }

  // Many programs in one block of code, each where Append put it: running one reads a few
  // adjacent cache lines (no header, no heap block of its own), and programs appended one after
  // the other lie next to each other. An empty RowProgram is an empty pool.
  RowProgram() = default;
  static constexpr uint32_t kNone = UINT32_MAX;
  // Compiles `n` at the end of the pool: its start for Run, or kNone (and the pool unchanged)
  // for an expression outside the subset.
  uint32_t Append(const Node& n);
  Result Run(uint32_t start, const Row& row) const;

 private:
  enum class Code : uint8_t {
    kConst, kFact, kTag, kHasFact, kNot, kAnd, kOr, kCompare,
    kAdd, kSub, kMul, kDiv, kNeg, kAbs, kMin, kMax, kIf, kTier,
    kFounded, kAsOf, kYearsBetween, kDaysBetween, kRegionUnder, kIndustryUnder,
    kEnd,  // of a program
  };
  struct Instr {
    Code code = Code::kConst;
    uint8_t op_mask = 0;  // kCompare: bit 0 <, bit 1 ==, bit 2 >
    uint16_t n = 0;       // operands popped by n-ary codes
    int32_t id = 0;       // fact, tag, or index of codes_
    int64_t k = 0;        // constant
  };
  static constexpr int kMaxStack = 32;

  bool Emit(const Node& n, int depth);

  std::vector<Instr> code_;         // the programs, each ending with kEnd
  std::vector<std::string> codes_;  // of `under`, all programs'
};

}  // namespace polmatch

#endif  // POLMATCH_MATCH_ROW_PROGRAM_H_
