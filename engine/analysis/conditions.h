// File: conditions.h
//
// Reading eligibility conditions statically, without a firm: which values a condition allows.
// The rule checks use it to find conditions that can never hold together (an unsatisfiable
// eligibility; exclusive-group members that can never both apply), conditions that always hold
// (implied by the others, or true for every firm with the data), and the reserve list uses
// FoldConstant to tell a threshold from the firm's value.
//
// What is understood, per top-level `and` term (nested `and`s are flattened):
//   * a comparison or `in` of a numeric or date expression with constants (`revenue >= 1000万`,
//     `founded < date("2020-01-01")`, `employees in [1, 2]`), also under `not`;
//     `or`s of such comparisons on the same expression;
//   * `region under "…"` / `industry under "…"` and their negations;
//   * a tag, or `not` a tag (the tag hierarchy is followed: holding a child implies the parent).
// Anything else is opaque: it constrains nothing, so the checks stay sound (they never claim a
// contradiction or a redundancy that is not there; they may miss some).
//
// Example:
//   ConstraintSet set(taxonomy);
//   for (size_t i = 0; i < p.conditions.size(); ++i) {
//     if (auto c = set.Add(*p.conditions[i], i)) { /* c->reason: no firm meets them all */ }
//   }
#ifndef POLMATCH_ANALYSIS_CONDITIONS_H_
#define POLMATCH_ANALYSIS_CONDITIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "engine/expr/ast.h"
#include "engine/taxonomy/taxonomy.h"
#include "engine/util/decimal.h"

namespace polmatch {

// The value of a subtree made only of literals (numbers, `date("…")`, arithmetic, min, max, abs,
// if, tier over constants); nullopt when it reads firm data or `as_of`, or overflows. Dates fold
// to their day number since 1970-01-01.
std::optional<Decimal> FoldConstant(const Node& node);
// The truth of a boolean subtree made only of literals; nullopt otherwise.
std::optional<bool> FoldConstantBool(const Node& node);


// A canonical text of an expression: like Node::ToString, but identifiers by their ids (an alias
// and the id it stands for print alike), so equal texts mean structurally equal expressions.
std::string CanonicalText(const Node& node, const Taxonomy& taxonomy);

// The source text of `node` inside the expression `source` it was parsed from, runs of
// whitespace collapsed to one space (catalogs split long rules over several lines).
std::string SourceText(absl::string_view source, const Node& node);

// A set of numbers described by comparisons with constants: a conjunction of clauses, each a
// disjunction of `x OP c` (OP one of < <= > >= == !=). Membership changes only at the constants,
// so every question is answered exactly by testing the constants and one point in each gap.
class NumericSet {
 public:
  struct Comparison {
    Op op;
    Decimal constant;
  };

  // Every number.
  NumericSet() = default;
  // {x : x OP c}.
  static NumericSet Of(Op op, Decimal c);
  // {x : x == c1 or x == c2 …}.
  static NumericSet OneOf(const std::vector<Decimal>& values);

  void Intersect(const NumericSet& other);
  bool Contains(Decimal x) const;
  bool IsEmpty() const;
  bool IsEverything() const;
  // this ⊆ other.
  bool SubsetOf(const NumericSet& other) const;
  // The union of `sets` is every number.
  static bool UnionIsEverything(const std::vector<NumericSet>& sets);
  // "> 1000000 and < 500000"; with `dates`, whole constants print as dates (day numbers).
  std::string ToString(bool dates = false) const;

  // Every question above costs O(K log K) for K comparisons. Work() counts the comparisons
  // visited by this thread so far (tests bound lint's cost with it); CountWork adds to it.
  static uint64_t Work();
  static void CountWork(uint64_t units);
  const std::vector<std::vector<Comparison>>& clauses() const { return clauses_; }

 private:
  std::vector<std::vector<Comparison>> clauses_;
};

// What one condition says, as far as it is understood.
struct Constraint {
  enum class Kind {
    kNumeric,         // `subject` ∈ `values`
    kRegionUnder,     // region under `code`
    kRegionNotUnder,
    kIndustryUnder,
    kIndustryNotUnder,
    kTag,             // holds `tag`
    kNotTag,          // does not hold `tag`
    kNever,           // can never be true (a constant false, `x < x`)
  };
  Kind kind = Kind::kNever;
  std::string key;             // kNumeric: CanonicalText of the subject
  bool is_date = false;        // kNumeric: the subject is a date (values are day numbers)
  NumericSet values;
  std::string code;
  TagId tag;
};

// The constraints of one condition (a conjunction). `complete` is false when part of the
// condition was not understood (the constraints are then weaker than the condition).
struct ConditionReading {
  std::vector<Constraint> constraints;
  bool complete = true;
  // The condition is true for every firm that has the data it reads (a constant true,
  // `x <= x`, `revenue > 100 or revenue <= 100`, `t or not t`).
  bool always_true = false;
};
ConditionReading ReadCondition(const Node& condition, const Taxonomy& taxonomy);

// Why a set of conditions can never all be true, and which of them (by the `source` numbers
// given to Add) take part.
struct Contradiction {
  std::string reason;
  std::vector<int> sources;
};

// Accumulates the constraints of conditions that must all hold (the top-level terms of one
// eligibility, or of two policies' eligibilities together).
class ConstraintSet {
 public:
  explicit ConstraintSet(const Taxonomy& taxonomy) : taxonomy_(&taxonomy) {}

  // Adds one condition, numbered `source`. Returns the first contradiction it creates.
  std::optional<Contradiction> Add(const Node& condition, int source);
  // Whether condition `source` (already added) is implied by the other conditions added, leaving
  // out those in `ignore`: it must be fully understood, and each of its constraints follows from
  // the others'. Returns the sources it follows from.
  std::optional<std::vector<int>> ImpliedByOthers(int source,
                                                  const std::vector<int>& ignore = {}) const;

 private:
  struct Entry {
    Constraint constraint;
    int source;
  };
  // The numeric constraints on one subject (by its canonical text), kept as they are added so
  // that each Add tests one intersection instead of rebuilding it from every entry.
  struct Subject {
    NumericSet values;               // all of them intersected
    std::vector<int> sources;        // in order of first appearance
    absl::flat_hash_set<int> seen;
    std::vector<size_t> entries;     // indexes into entries_
  };
  std::optional<Contradiction> Check(const Entry& added) const;

  const Taxonomy* taxonomy_;
  std::vector<Entry> entries_;
  absl::flat_hash_map<std::string, Subject> subjects_;
  absl::flat_hash_set<int> incomplete_sources_;
};

}  // namespace polmatch

#endif  // POLMATCH_ANALYSIS_CONDITIONS_H_
