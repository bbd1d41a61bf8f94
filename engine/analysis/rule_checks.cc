#include "engine/analysis/rule_checks.h"

#include <algorithm>
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/analysis/conditions.h"
#include "engine/analysis/policy_locations.h"
#include "engine/util/dates.h"

namespace polmatch {
namespace {

// Reports findings of one catalog at their source positions.
class Reporter {
 public:
  Reporter(const Catalog& catalog, Diagnostics* diags) : where_(catalog), diags_(diags) {}

  void Report(Diagnostic::Severity severity, const CompiledPolicy& p, absl::string_view field,
              size_t offset, const std::string& message, const char* check) {
    const SourcePosition pos = where_.Of(p, field, offset);
    Diagnostic d;
    d.file = p.file;
    d.line = pos.line;
    d.column = pos.column;
    d.severity = severity;
    d.message = absl::StrCat("policy ", p.id(), ": ", message, " [", check, "]");
    diags_->Add(std::move(d));
  }

 private:
  PolicyLocations where_;
  Diagnostics* diags_;
};

constexpr auto kError = Diagnostic::Severity::kError;
constexpr auto kWarning = Diagnostic::Severity::kWarning;

std::string Quoted(const std::string& source, const Node& n) {
  return absl::StrCat("`", SourceText(source, n), "`");
}

// ---------------------------------------------------------------------------------------------
// [unsatisfiable] and [always-true]

// An eligibility that can never be true; conditions that always are, or follow from others.
void CheckEligibility(const CompiledPolicy& p, const Taxonomy& tax, Reporter& out) {
  if (!p.eligibility) return;
  const std::string& src = p.policy.eligibility();
  ConstraintSet set(tax);
  for (size_t i = 0; i < p.conditions.size(); ++i) {
    std::optional<Contradiction> c = set.Add(*p.conditions[i], static_cast<int>(i));
    if (!c) continue;
    std::vector<std::string> texts;
    for (int s : c->sources) texts.push_back(Quoted(src, *p.conditions[s]));
    const std::string which = texts.size() == 1
                                  ? absl::StrCat("condition ", texts[0])
                                  : absl::StrCat("conditions ", absl::StrJoin(texts, " and "));
    out.Report(kError, p, "eligibility", p.conditions[i]->begin,
               absl::StrCat("eligibility can never be true: ", which, ": ", c->reason,
                            "; the policy matches no firm"),
               "unsatisfiable");
    return;  // the rest would repeat it
  }
  for (size_t i = 0; i < p.conditions.size(); ++i) {
    const Node& c = *p.conditions[i];
    if (!ReadCondition(c, tax).always_true) continue;
    const bool constant = FoldConstantBool(c).has_value();
    out.Report(kWarning, p, "eligibility", c.begin,
               absl::StrCat("condition ", Quoted(src, c),
                            constant ? " is always true: it tests no firm data"
                                     : " is true for every firm that has the data it reads: it "
                                       "only asks for that data to be present",
                            p.conditions.size() == 1
                                ? (constant ? " (the policy applies to every firm)"
                                            : " (the policy applies to every firm with that data)")
                                : ""),
               "always-true");
  }
  std::vector<int> redundant;
  for (int i = static_cast<int>(p.conditions.size()) - 1; i >= 0; --i) {
    std::optional<std::vector<int>> from = set.ImpliedByOthers(i, redundant);
    if (!from) continue;
    redundant.push_back(i);
    // Name at most a few (a policy of thousands of conditions would otherwise print each one
    // thousands of times).
    constexpr size_t kShown = 4;
    std::vector<std::string> texts;
    for (size_t k = 0; k < from->size() && k < kShown; ++k) {
      texts.push_back(Quoted(src, *p.conditions[(*from)[k]]));
    }
    if (from->size() > kShown) texts.push_back(absl::StrCat(from->size() - kShown, " more"));
    out.Report(kWarning, p, "eligibility", p.conditions[i]->begin,
               absl::StrCat("condition ", Quoted(src, *p.conditions[i]), " always holds when ",
                            absl::StrJoin(texts, " and "),
                            texts.size() == 1 ? " does" : " do",
                            ": it is redundant (remove it, or fix the threshold it was meant to have)"),
               "always-true");
  }
}

// ---------------------------------------------------------------------------------------------
// [tier-order]

void ForEachNode(const Node& n, const std::function<void(const Node&)>& f) {
  f(n);
  for (const auto& c : n.children) ForEachNode(*c, f);
}

struct Field {
  const char* name;
  const Node* root;
  const std::string* source;
};

std::vector<Field> Fields(const CompiledPolicy& p) {
  std::vector<Field> fields;
  if (p.eligibility) fields.push_back({"eligibility", p.eligibility.get(), &p.policy.eligibility()});
  if (p.benefit) fields.push_back({"benefit", p.benefit.get(), &p.policy.benefit()});
  if (p.rank_by) fields.push_back({"rank_by", p.rank_by.get(), &p.policy.rank_by()});
  return fields;
}

void CheckTiers(const CompiledPolicy& p, Reporter& out) {
  for (const Field& f : Fields(p)) {
    ForEachNode(*f.root, [&](const Node& n) {
      if (n.kind != NodeKind::kCall || n.func != Func::kTier) return;
      std::optional<Decimal> previous;
      const Node* previous_node = nullptr;
      for (size_t i = 1; i + 1 < n.children.size(); i += 2) {
        const Node& t = *n.children[i];
        std::optional<Decimal> value = FoldConstant(t);
        if (!value) {
          previous.reset();
          continue;
        }
        if (previous && *value == *previous) {
          out.Report(kError, p, f.name, t.begin,
                     absl::StrCat(f.name, ": tier threshold ", Quoted(*f.source, t),
                                  " repeats the one before it: its amount ",
                                  Quoted(*f.source, *n.children[i + 1]),
                                  " never applies (of equal thresholds the first wins)"),
                     "tier-order");
        } else if (previous && *value < *previous) {
          out.Report(kWarning, p, f.name, t.begin,
                     absl::StrCat(f.name, ": tier thresholds do not rise: ", Quoted(*f.source, t),
                                  " comes after ", Quoted(*f.source, *previous_node),
                                  "; tier() pays the amount of the highest threshold reached "
                                  "wherever it is written, so this is probably a typo — write "
                                  "the steps in ascending order"),
                     "tier-order");
        }
        previous = value;
        previous_node = &t;
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------
// [unit-mismatch]

// Dimensions of numeric expressions. kAny: a literal (takes the unit of what it meets); kOpaque:
// not checked (a product or quotient of different units, a fact without a unit).
enum class Dim { kAny, kOpaque, kRatio, kYuan, kPersons, kCount, kYears, kDays };

const char* DimName(Dim d) {
  switch (d) {
    case Dim::kRatio: return "a ratio";
    case Dim::kYuan: return "yuan";
    case Dim::kPersons: return "persons";
    case Dim::kCount: return "a count";
    case Dim::kYears: return "years";
    case Dim::kDays: return "days";
    default: return "a number";
  }
}

bool Concrete(Dim d) { return d != Dim::kAny && d != Dim::kOpaque; }

class UnitChecker {
 public:
  UnitChecker(const CompiledPolicy& p, const Field& field, const Taxonomy& tax, Reporter& out)
      : p_(p), field_(field), tax_(tax), out_(out) {}

  Dim Infer(const Node& n) {
    switch (n.kind) {
      case NodeKind::kNumber: return Dim::kAny;
      case NodeKind::kFact:
        switch (tax_.fact(n.fact).unit) {
          case YUAN: return Dim::kYuan;
          case PERSONS: return Dim::kPersons;
          case COUNT: return Dim::kCount;
          case RATIO: return Dim::kRatio;
          case YEARS: return Dim::kYears;
          default: return Dim::kOpaque;
        }
      case NodeKind::kNeg: return Infer(*n.children[0]);
      case NodeKind::kArith: {
        const Dim a = Infer(*n.children[0]);
        const Dim b = Infer(*n.children[1]);
        switch (n.op) {
          case Op::kAdd:
          case Op::kSub:
            return Unify(n, {n.children[0].get(), n.children[1].get()}, {a, b},
                         n.op == Op::kAdd ? "adds" : "subtracts");
          case Op::kMul:
            if (a == Dim::kAny || a == Dim::kRatio) return b;
            if (b == Dim::kAny || b == Dim::kRatio) return a;
            return Dim::kOpaque;
          case Op::kDiv:
            if (Concrete(a) && a == b) return Dim::kRatio;
            if (b == Dim::kAny || b == Dim::kRatio) return a;
            return Dim::kOpaque;
          default: return Dim::kOpaque;
        }
      }
      case NodeKind::kCall: return InferCall(n);
      case NodeKind::kCompare: {
        if (n.children[0]->type == Type::kNumber) {
          Unify(n, {n.children[0].get(), n.children[1].get()},
                {Infer(*n.children[0]), Infer(*n.children[1])}, "compares");
        } else {
          Walk(n);
        }
        return Dim::kOpaque;
      }
      case NodeKind::kIn: {
        if (n.children[0]->type == Type::kNumber) {
          std::vector<const Node*> nodes;
          std::vector<Dim> dims;
          for (const auto& c : n.children) {
            nodes.push_back(c.get());
            dims.push_back(Infer(*c));
          }
          Unify(n, nodes, dims, "compares");
        } else {
          Walk(n);
        }
        return Dim::kOpaque;
      }
      default:
        Walk(n);
        return Dim::kOpaque;
    }
  }

 private:
  void Walk(const Node& n) {
    for (const auto& c : n.children) Infer(*c);
  }

  Dim InferCall(const Node& n) {
    const auto& args = n.children;
    switch (n.func) {
      case Func::kMin:
      case Func::kMax: {
        std::vector<const Node*> nodes;
        std::vector<Dim> dims;
        for (const auto& a : args) {
          nodes.push_back(a.get());
          dims.push_back(Infer(*a));
        }
        return Unify(n, nodes, dims, n.func == Func::kMin ? "takes the min of" : "takes the max of");
      }
      case Func::kAbs: return Infer(*args[0]);
      case Func::kIf:
        Infer(*args[0]);
        return Unify(n, {args[1].get(), args[2].get()}, {Infer(*args[1]), Infer(*args[2])},
                     "chooses between");
      case Func::kTier: {
        std::vector<const Node*> x_nodes = {args[0].get()};
        std::vector<Dim> x_dims = {Infer(*args[0])};
        std::vector<const Node*> amount_nodes;
        std::vector<Dim> amount_dims;
        for (size_t i = 1; i < args.size(); ++i) {
          const Dim d = Infer(*args[i]);
          if (i % 2 == 1) {
            x_nodes.push_back(args[i].get());
            x_dims.push_back(d);
          } else {
            amount_nodes.push_back(args[i].get());
            amount_dims.push_back(d);
          }
        }
        Unify(n, x_nodes, x_dims, "compares (value against tier thresholds)");
        return Unify(n, amount_nodes, amount_dims, "pays tier amounts in");
      }
      case Func::kYearsBetween:
        Walk(n);
        return Dim::kYears;
      case Func::kDaysBetween:
        Walk(n);
        return Dim::kDays;
      default:
        Walk(n);
        return Dim::kOpaque;
    }
  }

  // The common dimension of `dims`; reports the first two concrete ones that differ.
  Dim Unify(const Node& at, const std::vector<const Node*>& nodes, const std::vector<Dim>& dims,
            const char* verb) {
    int first = -1;
    for (size_t i = 0; i < dims.size(); ++i) {
      if (!Concrete(dims[i])) continue;
      if (first < 0) {
        first = static_cast<int>(i);
      } else if (dims[i] != dims[first]) {
        const std::string& src = *field_.source;
        out_.Report(kError, p_, field_.name, at.begin,
                    absl::StrCat(field_.name, ": ", Quoted(src, at), " ", verb, " ",
                                 Quoted(src, *nodes[first]), " (", DimName(dims[first]), ") and ",
                                 Quoted(src, *nodes[i]), " (", DimName(dims[i]),
                                 "): the units do not match (tags.textproto gives each fact its "
                                 "unit; a literal takes any unit)"),
                    "unit-mismatch");
        return Dim::kOpaque;
      }
    }
    if (first >= 0) return dims[first];
    for (Dim d : dims) {
      if (d == Dim::kOpaque) return Dim::kOpaque;
    }
    return Dim::kAny;
  }

  const CompiledPolicy& p_;
  const Field& field_;
  const Taxonomy& tax_;
  Reporter& out_;
};

void CheckUnits(const CompiledPolicy& p, const Taxonomy& tax, Reporter& out) {
  for (const Field& f : Fields(p)) {
    UnitChecker(p, f, tax, out).Infer(*f.root);
  }
}

// ---------------------------------------------------------------------------------------------
// [undated] and [expired]

void CheckValidity(const CompiledPolicy& p, const RuleCheckOptions& options, Reporter& out) {
  const absl::CivilDay as_of = options.as_of;
  if (options.undated && !p.valid_from) {
    out.Report(kWarning, p, "id", 0,
               "has no valid_from: it applies on any as_of, however early (a batch of a year "
               "before the document existed would grant it); give the date the document was "
               "issued or took effect",
               "undated");
  }
  if (!p.valid_to || *p.valid_to >= as_of) return;
  out.Report(kWarning, p, "valid_to", 0,
             absl::StrCat("ended on ", FormatDate(*p.valid_to), " (valid_to): it matches no firm "
                          "on ", FormatDate(as_of), "; keep it for audits of past grants, or "
                          "extend valid_to if the measure continues"),
             "expired");
}

// ---------------------------------------------------------------------------------------------
// [group]

bool WindowsOverlap(const CompiledPolicy& a, const CompiledPolicy& b) {
  const bool a_before_b = a.valid_to && b.valid_from && *a.valid_to < *b.valid_from;
  const bool b_before_a = b.valid_to && a.valid_from && *b.valid_to < *a.valid_from;
  return !a_before_b && !b_before_a;
}

std::string Window(const CompiledPolicy& p) {
  return absl::StrCat(p.policy.valid_from().empty() ? "…" : p.policy.valid_from(), "..",
                      p.policy.valid_to().empty() ? "…" : p.policy.valid_to());
}

// Why two policies can never both apply to one firm on one day; nullopt when they might, or
// when one of them can never apply on its own (that is reported as [unsatisfiable]).
std::optional<std::string> NeverTogether(const CompiledPolicy& a, const CompiledPolicy& b,
                                         const Taxonomy& tax) {
  if (!a.eligibility || !b.eligibility) return std::nullopt;
  if (!WindowsOverlap(a, b)) {
    return absl::StrCat("their validity windows ", Window(a), " and ", Window(b), " do not overlap");
  }
  ConstraintSet set(tax);
  const int n = static_cast<int>(a.conditions.size());
  for (int i = 0; i < n; ++i) {
    if (set.Add(*a.conditions[i], i)) return std::nullopt;
  }
  for (size_t j = 0; j < b.conditions.size(); ++j) {
    std::optional<Contradiction> c = set.Add(*b.conditions[j], n + static_cast<int>(j));
    if (!c) continue;
    const bool both = std::any_of(c->sources.begin(), c->sources.end(), [&](int s) { return s < n; });
    if (!both) return std::nullopt;
    std::vector<std::string> texts;
    for (int s : c->sources) {
      texts.push_back(s < n ? absl::StrCat(a.id(), " ", Quoted(a.policy.eligibility(), *a.conditions[s]))
                            : absl::StrCat(b.id(), " ", Quoted(b.policy.eligibility(), *b.conditions[s - n])));
    }
    return absl::StrCat(absl::StrJoin(texts, " vs "), ": ", c->reason);
  }
  return std::nullopt;
}

void CheckGroups(const Catalog& catalog, Reporter& out) {
  std::map<std::string, std::vector<int>> groups(catalog.groups().begin(), catalog.groups().end());
  for (const auto& [name, members] : groups) {
    const CompiledPolicy& first = catalog.policies()[members[0]];
    if (members.size() == 1) {
      out.Report(kWarning, first, "exclusive_group", 0,
                 absl::StrCat("exclusive group \"", name, "\" has no other member: 就高不重复 has "
                              "nothing to choose from (a misspelt group name?)"),
                 "group");
      continue;
    }
    std::vector<std::string> reasons;
    bool all_apart = true;
    for (size_t i = 0; i < members.size() && all_apart; ++i) {
      for (size_t j = i + 1; j < members.size() && all_apart; ++j) {
        std::optional<std::string> why = NeverTogether(catalog.policies()[members[i]],
                                                       catalog.policies()[members[j]],
                                                       catalog.taxonomy());
        if (!why) {
          all_apart = false;
        } else if (reasons.size() < 3) {
          reasons.push_back(*why);
        }
      }
    }
    if (!all_apart) continue;
    out.Report(kWarning, first, "exclusive_group", 0,
               absl::StrCat("exclusive group \"", name, "\": its ", members.size(),
                            " members can never both apply to one firm (", absl::StrJoin(reasons, "; "),
                            members.size() > 3 ? "; …" : "",
                            "), so 就高不重复 never has to choose and the group has no effect"),
               "group");
  }
}

// ---------------------------------------------------------------------------------------------
// [duplicate]

void CheckDuplicates(const Catalog& catalog, Reporter& out) {
  const Taxonomy& tax = catalog.taxonomy();
  std::map<std::string, std::vector<int>> buckets;
  const auto& policies = catalog.policies();
  for (size_t i = 0; i < policies.size(); ++i) {
    const CompiledPolicy& p = policies[i];
    if (!p.eligibility) continue;
    buckets[absl::StrCat(CanonicalText(*p.eligibility, tax), "\n",
                         p.benefit ? CanonicalText(*p.benefit, tax) : p.policy.benefit_note())]
        .push_back(static_cast<int>(i));
  }
  for (const auto& [key, members] : buckets) {
    for (size_t j = 1; j < members.size(); ++j) {
      const CompiledPolicy& b = policies[members[j]];
      for (size_t i = 0; i < j; ++i) {
        const CompiledPolicy& a = policies[members[i]];
        // Without an amount, the benefit is what benefit_note says is granted.
        const bool same_benefit =
            a.benefit ? b.benefit && a.benefit->Equals(*b.benefit)
                      : !b.benefit && a.policy.benefit_note() == b.policy.benefit_note();
        if (!a.eligibility->Equals(*b.eligibility) || !same_benefit || !WindowsOverlap(a, b)) continue;
        const bool grouped = !a.policy.exclusive_group().empty() &&
                             a.policy.exclusive_group() == b.policy.exclusive_group();
        out.Report(kWarning, b, "eligibility", 0,
                   absl::StrCat("duplicates policy ", a.id(), " (", a.file, ":", a.line,
                                "): the same eligibility and benefit, in force at the same time; ",
                                grouped ? absl::StrCat("they share exclusive group \"",
                                                       a.policy.exclusive_group(),
                                                       "\", so a firm gets one of them")
                                        : "a firm eligible for one gets both — merge them, or put "
                                          "them in one exclusive_group"),
                   "duplicate");
        break;  // one report per duplicate, against the first
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// [calendar]

// A 公示 is counted in working days: every year in which the policy can be in force (an open
// start or end taken as as_of's year) must be covered by rules/calendar.
void CheckCalendar(const CompiledPolicy& p, const RuleCheckOptions& options, Reporter& out) {
  if (p.policy.publicity_days() <= 0) return;
  const int now = static_cast<int>(options.as_of.year());
  int last = p.valid_to ? static_cast<int>(p.valid_to->year()) : now;
  int first = p.valid_from ? static_cast<int>(p.valid_from->year()) : std::min(now, last);
  last = std::max(first, last);
  std::vector<int> missing;
  for (int y = first; y <= last; ++y) {
    if (options.calendar == nullptr || !options.calendar->Covers(y)) missing.push_back(y);
  }
  if (missing.empty()) return;
  std::string years;  // runs: "2016–2017, 2027"
  for (size_t i = 0; i < missing.size();) {
    size_t j = i;
    while (j + 1 < missing.size() && missing[j + 1] == missing[j] + 1) ++j;
    absl::StrAppend(&years, years.empty() ? "" : ", ", missing[i]);
    if (j > i) absl::StrAppend(&years, "–", missing[j]);
    i = j + 1;
  }
  const std::string why =
      options.calendar == nullptr
          ? absl::StrCat("there is no working calendar (rules/calendar) to count them in (valid ",
                         Window(p), "): add one YYYY.textproto per year")
          : absl::StrCat("rules/calendar covers ", options.calendar->CoverageText(), ", not ",
                         years, " (valid ", Window(p), "): a 公示 there cannot be counted; add "
                         "the year's notice to rules/calendar");
  out.Report(kWarning, p, "publicity_days", 0,
             absl::StrCat("publicity_days ", p.policy.publicity_days(), " (working days), but ",
                          why),
             "calendar");
}

}  // namespace

void CheckRules(const Catalog& catalog, const RuleCheckOptions& options, Diagnostics* diags) {
  Reporter out(catalog, diags);
  for (const CompiledPolicy& p : catalog.policies()) {
    CheckEligibility(p, catalog.taxonomy(), out);
    CheckTiers(p, out);
    CheckUnits(p, catalog.taxonomy(), out);
    CheckValidity(p, options, out);
    CheckCalendar(p, options, out);
  }
  CheckGroups(catalog, out);
  CheckDuplicates(catalog, out);
}

}  // namespace polmatch
