#include "engine/analysis/conditions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/expr/comparison.h"
#include "engine/util/dates.h"

namespace polmatch {
namespace {


bool IsOrderedType(Type t) { return t == Type::kNumber || t == Type::kDate; }

bool Holds(Op op, Decimal x, Decimal c) {
  switch (op) {
    case Op::kLt: return x < c;
    case Op::kLe: return x <= c;
    case Op::kGt: return x > c;
    case Op::kGe: return x >= c;
    case Op::kEq: return x == c;
    case Op::kNe: return x != c;
    default: return false;
  }
}

// Points at which membership of any set built from `constants` can be decided: the constants,
// one point between each two, and one beyond each end.
std::vector<Decimal> TestPoints(std::vector<Decimal> constants) {
  std::sort(constants.begin(), constants.end());
  constants.erase(std::unique(constants.begin(), constants.end()), constants.end());
  if (constants.empty()) return {Decimal()};
  std::vector<Decimal> points;
  const Decimal one = *Decimal::FromInt(1);
  const Decimal two = *Decimal::FromInt(2);
  if (auto below = Sub(constants.front(), one)) points.push_back(*below);
  for (size_t i = 0; i < constants.size(); ++i) {
    points.push_back(constants[i]);
    if (i + 1 < constants.size()) {
      // (a + b) / 2 as a + (b − a) / 2, or a/2 + b/2 when b − a leaves the range.
      std::optional<Decimal> mid;
      if (std::optional<Decimal> span = Sub(constants[i + 1], constants[i])) {
        if (std::optional<Decimal> half = Div(*span, two)) mid = Add(constants[i], *half);
      } else {
        std::optional<Decimal> a = Div(constants[i], two);
        std::optional<Decimal> b = Div(constants[i + 1], two);
        if (a && b) mid = Add(*a, *b);
      }
      if (mid) points.push_back(*mid);
    }
  }
  if (auto above = Add(constants.back(), one)) points.push_back(*above);
  // Ascending already, unless a midpoint rounded onto a neighbour; Members binary-searches.
  std::sort(points.begin(), points.end());
  return points;
}

std::string FormatConstant(Decimal c, bool date) {
  if (date && c.raw() % Decimal::kOne == 0) return FormatDate(DayFrom1970(c.raw() / Decimal::kOne));
  return c.ToString();
}

// A numeric constraint `subject OP constants…` from a comparison or `in`, when one side is the
// subject and the others are constants.
std::optional<Constraint> NumericConstraint(const Node& subject, NumericSet values,
                                            const Taxonomy& tax) {
  if (!IsOrderedType(subject.type) || FoldConstant(subject)) return std::nullopt;
  Constraint c;
  c.kind = Constraint::Kind::kNumeric;
  c.key = CanonicalText(subject, tax);
  c.is_date = subject.type == Type::kDate;
  c.values = std::move(values);
  return c;
}

// `x OP y` with one side constant: the subject side and the set; nullopt otherwise.
std::optional<std::pair<const Node*, NumericSet>> ReadComparison(const Node& n, bool negate) {
  if (n.kind != NodeKind::kCompare || !IsOrderedType(n.children[0]->type)) return std::nullopt;
  const Node& a = *n.children[0];
  const Node& b = *n.children[1];
  const Op op = negate ? NegatedComparison(n.op) : n.op;
  std::optional<Decimal> ca = FoldConstant(a);
  std::optional<Decimal> cb = FoldConstant(b);
  if (cb && !ca) return std::make_pair(&a, NumericSet::Of(op, *cb));
  if (ca && !cb) return std::make_pair(&b, NumericSet::Of(MirroredComparison(op), *ca));
  return std::nullopt;
}

// `x in [c1, c2 …]` (or, negated, x != c1 and x != c2 …).
std::optional<std::pair<const Node*, NumericSet>> ReadIn(const Node& n, bool negate) {
  if (n.kind != NodeKind::kIn || !IsOrderedType(n.children[0]->type)) return std::nullopt;
  if (FoldConstant(*n.children[0])) return std::nullopt;
  std::vector<Decimal> values;
  for (size_t i = 1; i < n.children.size(); ++i) {
    std::optional<Decimal> v = FoldConstant(*n.children[i]);
    if (!v) return std::nullopt;
    values.push_back(*v);
  }
  if (!negate) return std::make_pair(n.children[0].get(), NumericSet::OneOf(values));
  NumericSet set;
  for (Decimal v : values) set.Intersect(NumericSet::Of(Op::kNe, v));
  return std::make_pair(n.children[0].get(), set);
}

void ReadInto(const Node& n, const Taxonomy& tax, ConditionReading* out);

void Append(ConditionReading* out, ConditionReading part) {
  for (Constraint& c : part.constraints) out->constraints.push_back(std::move(c));
  out->complete = out->complete && part.complete;
}

ConditionReading ReadNot(const Node& inner, const Taxonomy& tax) {
  ConditionReading r;
  auto numeric = [&](std::optional<std::pair<const Node*, NumericSet>> read) {
    if (!read) return false;
    if (auto c = NumericConstraint(*read->first, std::move(read->second), tax)) {
      r.constraints.push_back(std::move(*c));
      return true;
    }
    return false;
  };
  if (std::optional<bool> b = FoldConstantBool(inner)) {
    if (*b) {
      r.constraints.push_back({Constraint::Kind::kNever});
    } else {
      r.always_true = true;
    }
    return r;
  }
  switch (inner.kind) {
    case NodeKind::kTag: {
      Constraint c;
      c.kind = Constraint::Kind::kNotTag;
      c.tag = inner.tag;
      r.constraints.push_back(c);
      return r;
    }
    case NodeKind::kUnder: {
      const Node& x = *inner.children[0];
      if (x.kind == NodeKind::kBuiltin &&
          (x.builtin == Builtin::kRegion || x.builtin == Builtin::kIndustry)) {
        Constraint c;
        c.kind = x.builtin == Builtin::kRegion ? Constraint::Kind::kRegionNotUnder
                                               : Constraint::Kind::kIndustryNotUnder;
        c.code = inner.text;
        r.constraints.push_back(c);
        return r;
      }
      break;
    }
    case NodeKind::kNot: {
      ReadInto(*inner.children[0], tax, &r);
      return r;
    }
    case NodeKind::kOr:  // not (a or b) = not a and not b
      for (const auto& c : inner.children) Append(&r, ReadNot(*c, tax));
      return r;
    case NodeKind::kCompare:
      if (numeric(ReadComparison(inner, /*negate=*/true))) return r;
      break;
    case NodeKind::kIn:
      if (numeric(ReadIn(inner, /*negate=*/true))) return r;
      break;
    default: break;
  }
  r.complete = false;
  return r;
}

// `or`: comparisons of one subject (a tautology when their union is everything); `t or not t`.
ConditionReading ReadOr(const Node& n, const Taxonomy& tax) {
  ConditionReading r;
  std::vector<NumericSet> sets;
  std::optional<std::string> key;
  const Node* subject = nullptr;
  bool same_subject = true;
  std::vector<TagId> tags, not_tags;
  for (const auto& child : n.children) {
    if (FoldConstantBool(*child).value_or(false)) r.always_true = true;
    if (child->kind == NodeKind::kTag) tags.push_back(child->tag);
    if (child->kind == NodeKind::kNot && child->children[0]->kind == NodeKind::kTag) {
      not_tags.push_back(child->children[0]->tag);
    }
    std::optional<std::pair<const Node*, NumericSet>> read;
    if (child->kind == NodeKind::kCompare) read = ReadComparison(*child, false);
    if (child->kind == NodeKind::kIn) read = ReadIn(*child, false);
    if (child->kind == NodeKind::kNot && child->children[0]->kind == NodeKind::kCompare) {
      read = ReadComparison(*child->children[0], true);
    }
    if (!read || !IsOrderedType(read->first->type)) {
      same_subject = false;
      continue;
    }
    const std::string k = CanonicalText(*read->first, tax);
    if (key && *key != k) same_subject = false;
    key = k;
    subject = read->first;
    sets.push_back(std::move(read->second));
  }
  absl::flat_hash_set<uint32_t> negated;
  for (TagId t : not_tags) negated.insert(t.value);
  for (TagId t : tags) {
    if (negated.contains(t.value)) r.always_true = true;
  }
  if (same_subject && subject != nullptr && sets.size() == n.children.size()) {
    if (NumericSet::UnionIsEverything(sets)) r.always_true = true;
    // The union as one set is representable only when each part is a single clause: keep it
    // simple and constrain nothing unless the `or` is a tautology.
  }
  r.complete = r.always_true;
  return r;
}

void ReadInto(const Node& n, const Taxonomy& tax, ConditionReading* out) {
  if (std::optional<bool> b = FoldConstantBool(n)) {
    if (*b) {
      out->always_true = true;
    } else {
      out->constraints.push_back({Constraint::Kind::kNever});
    }
    return;
  }
  switch (n.kind) {
    case NodeKind::kAnd: {
      bool all_true = true;
      for (const auto& c : n.children) {
        ConditionReading part = ReadCondition(*c, tax);
        all_true = all_true && part.always_true;
        Append(out, std::move(part));
      }
      out->always_true = out->always_true || all_true;
      return;
    }
    case NodeKind::kOr: {
      ConditionReading part = ReadOr(n, tax);
      out->always_true = out->always_true || part.always_true;
      Append(out, std::move(part));
      return;
    }
    case NodeKind::kNot: {
      ConditionReading part = ReadNot(*n.children[0], tax);
      out->always_true = out->always_true || part.always_true;
      Append(out, std::move(part));
      return;
    }
    case NodeKind::kTag: {
      Constraint c;
      c.kind = Constraint::Kind::kTag;
      c.tag = n.tag;
      out->constraints.push_back(c);
      return;
    }
    case NodeKind::kUnder: {
      const Node& x = *n.children[0];
      if (x.kind == NodeKind::kBuiltin &&
          (x.builtin == Builtin::kRegion || x.builtin == Builtin::kIndustry)) {
        Constraint c;
        c.kind = x.builtin == Builtin::kRegion ? Constraint::Kind::kRegionUnder
                                               : Constraint::Kind::kIndustryUnder;
        c.code = n.text;
        out->constraints.push_back(c);
        return;
      }
      break;
    }
    case NodeKind::kCompare: {
      const Node& a = *n.children[0];
      const Node& b = *n.children[1];
      if (IsOrderedType(a.type) && a.Equals(b)) {  // x OP x
        if (n.op == Op::kLe || n.op == Op::kGe || n.op == Op::kEq) {
          out->always_true = true;
        } else {
          out->constraints.push_back({Constraint::Kind::kNever});
        }
        return;
      }
      if (auto read = ReadComparison(n, false)) {
        if (auto c = NumericConstraint(*read->first, std::move(read->second), tax)) {
          out->constraints.push_back(std::move(*c));
          return;
        }
      }
      break;
    }
    case NodeKind::kIn:
      if (auto read = ReadIn(n, false)) {
        if (auto c = NumericConstraint(*read->first, std::move(read->second), tax)) {
          out->constraints.push_back(std::move(*c));
          return;
        }
      }
      break;
    default: break;
  }
  out->complete = false;
}

bool Disjoint(absl::string_view a, absl::string_view b, bool region) {
  return region ? !Taxonomy::RegionUnder(a, b) && !Taxonomy::RegionUnder(b, a)
                : !Taxonomy::IndustryUnder(a, b) && !Taxonomy::IndustryUnder(b, a);
}
bool Under(absl::string_view a, absl::string_view b, bool region) {
  return region ? Taxonomy::RegionUnder(a, b) : Taxonomy::IndustryUnder(a, b);
}

bool IsAncestorOrSelf(const Taxonomy& tax, TagId ancestor, TagId tag) {
  for (TagId a : tax.tag(tag).ancestors) {
    if (a == ancestor) return true;
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::optional<Decimal> FoldConstant(const Node& n) {
  switch (n.kind) {
    case NodeKind::kNumber: return n.number;
    case NodeKind::kCall: {
      if (n.func == Func::kDate && n.type == Type::kDate) {
        return Decimal::FromInt(DaysSince1970(n.date));
      }
      std::vector<Decimal> args;
      if (n.func == Func::kIf) {
        std::optional<bool> c = FoldConstantBool(*n.children[0]);
        if (!c) return std::nullopt;
        return FoldConstant(*n.children[*c ? 1 : 2]);
      }
      for (const auto& c : n.children) {
        std::optional<Decimal> v = FoldConstant(*c);
        if (!v) return std::nullopt;
        args.push_back(*v);
      }
      switch (n.func) {
        case Func::kMin: return args.empty() ? std::nullopt : std::make_optional(*std::min_element(args.begin(), args.end()));
        case Func::kMax: return args.empty() ? std::nullopt : std::make_optional(*std::max_element(args.begin(), args.end()));
        case Func::kAbs: return args[0].is_negative() ? Neg(args[0]) : args[0];
        case Func::kTier: {
          std::optional<Decimal> best;
          Decimal amount;
          for (size_t i = 1; i + 1 < args.size(); i += 2) {
            if (args[i] <= args[0] && (!best || args[i] > *best)) {
              best = args[i];
              amount = args[i + 1];
            }
          }
          return amount;
        }
        default: return std::nullopt;
      }
    }
    case NodeKind::kNeg: {
      std::optional<Decimal> v = FoldConstant(*n.children[0]);
      return v ? Neg(*v) : std::nullopt;
    }
    case NodeKind::kArith: {
      std::optional<Decimal> a = FoldConstant(*n.children[0]);
      std::optional<Decimal> b = a ? FoldConstant(*n.children[1]) : std::nullopt;
      if (!b) return std::nullopt;
      switch (n.op) {
        case Op::kAdd: return Add(*a, *b);
        case Op::kSub: return Sub(*a, *b);
        case Op::kMul: return Mul(*a, *b);
        case Op::kDiv: return Div(*a, *b);
        default: return std::nullopt;
      }
    }
    default: return std::nullopt;
  }
}

std::optional<bool> FoldConstantBool(const Node& n) {
  switch (n.kind) {
    case NodeKind::kBool: return n.boolean;
    case NodeKind::kNot: {
      std::optional<bool> v = FoldConstantBool(*n.children[0]);
      return v ? std::make_optional(!*v) : std::nullopt;
    }
    case NodeKind::kAnd:
    case NodeKind::kOr: {
      const bool is_and = n.kind == NodeKind::kAnd;
      bool all_known = true;
      for (const auto& c : n.children) {
        std::optional<bool> v = FoldConstantBool(*c);
        if (v && *v != is_and) return !is_and;  // a false in an `and`, a true in an `or`
        all_known = all_known && v.has_value();
      }
      return all_known ? std::make_optional(is_and) : std::nullopt;
    }
    case NodeKind::kCompare: {
      if (!IsOrderedType(n.children[0]->type)) return std::nullopt;
      std::optional<Decimal> a = FoldConstant(*n.children[0]);
      std::optional<Decimal> b = a ? FoldConstant(*n.children[1]) : std::nullopt;
      if (!b) return std::nullopt;
      return Holds(n.op, *a, *b);
    }
    case NodeKind::kIn: {
      if (!IsOrderedType(n.children[0]->type)) return std::nullopt;
      std::optional<Decimal> x = FoldConstant(*n.children[0]);
      if (!x) return std::nullopt;
      for (size_t i = 1; i < n.children.size(); ++i) {
        std::optional<Decimal> v = FoldConstant(*n.children[i]);
        if (!v) return std::nullopt;
        if (*v == *x) return true;
      }
      return false;
    }
    default: return std::nullopt;
  }
}

std::string CanonicalText(const Node& n, const Taxonomy& tax) {
  switch (n.kind) {
    case NodeKind::kTag: return tax.tag(n.tag).id;
    case NodeKind::kFact: return tax.fact(n.fact).id;
    case NodeKind::kBuiltin:
      switch (n.builtin) {
        case Builtin::kRegion: return "region";
        case Builtin::kIndustry: return "industry";
        case Builtin::kFounded: return "founded";
        case Builtin::kAsOf: return "as_of";
      }
      return n.text;
    case NodeKind::kNumber:
    case NodeKind::kString:
    case NodeKind::kBool:
    case NodeKind::kIdent: return n.ToString();
    default: break;
  }
  if (n.kind == NodeKind::kCall && n.func == Func::kDate && n.type == Type::kDate) return n.ToString();
  std::string head;
  switch (n.kind) {
    case NodeKind::kCall: head = std::string(FuncName(n.func)); break;
    case NodeKind::kNeg: head = "-"; break;
    case NodeKind::kNot: head = "not"; break;
    case NodeKind::kAnd: head = "and"; break;
    case NodeKind::kOr: head = "or"; break;
    case NodeKind::kIn: head = "in"; break;
    case NodeKind::kUnder: head = "under"; break;
    default: head = std::string(OpText(n.op)); break;
  }
  std::string s = absl::StrCat("(", head);
  for (const auto& c : n.children) absl::StrAppend(&s, " ", CanonicalText(*c, tax));
  if (n.kind == NodeKind::kUnder) absl::StrAppend(&s, " \"", n.text, "\"");
  return s + ")";
}

std::string SourceText(absl::string_view source, const Node& n) {
  std::string out;
  bool space = false;
  for (char c : source.substr(n.begin, n.end - n.begin)) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// NumericSet

NumericSet NumericSet::Of(Op op, Decimal c) {
  NumericSet s;
  s.clauses_.push_back({{op, c}});
  return s;
}

NumericSet NumericSet::OneOf(const std::vector<Decimal>& values) {
  NumericSet s;
  std::vector<Comparison> clause;
  for (Decimal v : values) clause.push_back({Op::kEq, v});
  s.clauses_.push_back(std::move(clause));  // an empty clause: the empty set
  return s;
}

void NumericSet::Intersect(const NumericSet& other) {
  clauses_.insert(clauses_.end(), other.clauses_.begin(), other.clauses_.end());
}

bool NumericSet::Contains(Decimal x) const {
  for (const auto& clause : clauses_) {
    bool any = false;
    for (const Comparison& c : clause) any = any || Holds(c.op, x, c.constant);
    if (!any) return false;
  }
  return true;
}

namespace {
void CollectConstants(const std::vector<std::vector<NumericSet::Comparison>>& clauses,
                      std::vector<Decimal>* out) {
  for (const auto& clause : clauses) {
    for (const auto& c : clause) out->push_back(c.constant);
  }
}

// Which of the ascending `points` lie in the set `clauses` describes, in O(K log K + P) for K
// comparisons and P points: each comparison holds on one run of points (two for !=), the runs of
// a clause are merged, and a point is in the set when every clause covers it.
std::vector<bool> Members(const std::vector<std::vector<NumericSet::Comparison>>& clauses,
                          const std::vector<Decimal>& points) {
  const size_t n = points.size();
  std::vector<int> cover(n + 1, 0);  // difference array of the clauses covering each point
  std::vector<std::pair<size_t, size_t>> runs;  // [from, to) point indexes
  for (const auto& clause : clauses) {
    NumericSet::CountWork(clause.size());
    runs.clear();
    for (const NumericSet::Comparison& c : clause) {
      const size_t lo = std::lower_bound(points.begin(), points.end(), c.constant) - points.begin();
      const size_t hi = std::upper_bound(points.begin(), points.end(), c.constant) - points.begin();
      switch (c.op) {
        case Op::kLt: runs.push_back({0, lo}); break;
        case Op::kLe: runs.push_back({0, hi}); break;
        case Op::kGt: runs.push_back({hi, n}); break;
        case Op::kGe: runs.push_back({lo, n}); break;
        case Op::kEq: runs.push_back({lo, hi}); break;
        case Op::kNe:
          runs.push_back({0, lo});
          runs.push_back({hi, n});
          break;
        default: break;
      }
    }
    std::sort(runs.begin(), runs.end());
    size_t from = 0, to = 0;  // the merged run being extended
    bool open = false;
    for (const auto& [a, b] : runs) {
      if (a >= b) continue;
      if (open && a <= to) {
        to = std::max(to, b);
        continue;
      }
      if (open) {
        ++cover[from];
        --cover[to];
      }
      from = a;
      to = b;
      open = true;
    }
    if (open) {
      ++cover[from];
      --cover[to];
    }
  }
  std::vector<bool> in(n);
  int running = 0;
  for (size_t i = 0; i < n; ++i) {
    running += cover[i];
    in[i] = running == static_cast<int>(clauses.size());
  }
  return in;
}

thread_local uint64_t numeric_work = 0;

// A set whose clauses are all single comparisons (what conjunctions of `x OP c` make: nearly
// every set) as an interval of millionths with excluded and required points: its questions
// are answered in O(K + E log E) for K comparisons and E `!=` points, without test points.
struct Box {
  int64_t lo = -Decimal::kMaxRaw, hi = Decimal::kMaxRaw;  // inclusive, in millionths
  std::vector<int64_t> ne;                                // sorted, unique
  bool empty = false;

  // Narrows the box by more clauses; false (the box is then unusable) for a clause of several
  // comparisons.
  bool Add(const std::vector<std::vector<NumericSet::Comparison>>& clauses) {
    NumericSet::CountWork(clauses.size());
    for (const auto& clause : clauses) {
      if (clause.size() != 1) return false;
      const int64_t c = clause[0].constant.raw();
      switch (clause[0].op) {
        case Op::kLt: hi = std::min(hi, c - 1); break;
        case Op::kLe: hi = std::min(hi, c); break;
        case Op::kGt: lo = std::max(lo, c + 1); break;
        case Op::kGe: lo = std::max(lo, c); break;
        case Op::kEq:
          if (eq && *eq != c) empty = true;
          eq = c;
          break;
        case Op::kNe: ne.push_back(c); break;
        default: return false;
      }
    }
    return true;
  }
  // Once every clause is added.
  void Finish() {
    if (eq) {
      lo = std::max(lo, *eq);
      hi = std::min(hi, *eq);
    }
    std::sort(ne.begin(), ne.end());
    ne.erase(std::unique(ne.begin(), ne.end()), ne.end());
    if (lo > hi) empty = true;
    if (!empty) {
      const auto first = std::lower_bound(ne.begin(), ne.end(), lo);
      const auto last = std::upper_bound(ne.begin(), ne.end(), hi);
      const __int128 excluded = last - first;
      if (static_cast<__int128>(hi) - lo + 1 <= excluded) empty = true;
    }
  }
  static std::optional<Box> Of(const std::vector<std::vector<NumericSet::Comparison>>& clauses) {
    Box b;
    if (!b.Add(clauses)) return std::nullopt;
    b.Finish();
    return b;
  }
  // Every member of the box is in the set `clauses` describes; nullopt when a clause has
  // several comparisons.
  std::optional<bool> Within(const std::vector<std::vector<NumericSet::Comparison>>& clauses) const {
    if (empty) return true;
    for (const auto& clause : clauses) {
      if (clause.size() != 1) return std::nullopt;
    }
    NumericSet::CountWork(clauses.size());
    for (const auto& clause : clauses) {
      if (!AllSatisfy(clause[0].op, clause[0].constant.raw())) return false;
    }
    return true;
  }
  std::optional<int64_t> eq;
  bool Excluded(int64_t x) const { return std::binary_search(ne.begin(), ne.end(), x); }
  // The least and greatest members (the box is not empty).
  int64_t Min() const {
    int64_t x = lo;
    while (Excluded(x)) ++x;
    return x;
  }
  int64_t Max() const {
    int64_t x = hi;
    while (Excluded(x)) --x;
    return x;
  }
  // Every member satisfies `x op c`.
  bool AllSatisfy(Op op, int64_t c) const {
    switch (op) {
      case Op::kLt: return Max() < c;
      case Op::kLe: return Max() <= c;
      case Op::kGt: return Min() > c;
      case Op::kGe: return Min() >= c;
      case Op::kEq: return Min() == c && Max() == c;
      case Op::kNe: return c < lo || c > hi || Excluded(c);
      default: return false;
    }
  }
};
}  // namespace

void NumericSet::CountWork(uint64_t units) { numeric_work += units; }
uint64_t NumericSet::Work() { return numeric_work; }

bool NumericSet::IsEmpty() const {
  if (std::optional<Box> box = Box::Of(clauses_)) return box->empty;
  std::vector<Decimal> constants;
  CollectConstants(clauses_, &constants);
  for (bool in : Members(clauses_, TestPoints(constants))) {
    if (in) return false;
  }
  return true;
}

bool NumericSet::IsEverything() const { return UnionIsEverything({*this}); }

bool NumericSet::SubsetOf(const NumericSet& other) const {
  if (std::optional<Box> box = Box::Of(clauses_)) {
    if (std::optional<bool> within = box->Within(other.clauses_)) return *within;
  }
  std::vector<Decimal> constants;
  CollectConstants(clauses_, &constants);
  CollectConstants(other.clauses_, &constants);
  const std::vector<Decimal> points = TestPoints(constants);
  const std::vector<bool> mine = Members(clauses_, points);
  const std::vector<bool> theirs = Members(other.clauses_, points);
  for (size_t i = 0; i < points.size(); ++i) {
    if (mine[i] && !theirs[i]) return false;
  }
  return true;
}

bool NumericSet::UnionIsEverything(const std::vector<NumericSet>& sets) {
  std::vector<Decimal> constants;
  for (const NumericSet& s : sets) CollectConstants(s.clauses_, &constants);
  const std::vector<Decimal> points = TestPoints(constants);
  std::vector<bool> covered(points.size(), false);
  for (const NumericSet& s : sets) {
    const std::vector<bool> in = Members(s.clauses_, points);
    for (size_t i = 0; i < points.size(); ++i) covered[i] = covered[i] || in[i];
  }
  for (bool c : covered) {
    if (!c) return false;
  }
  return true;
}

std::string NumericSet::ToString(bool dates) const {
  std::vector<std::string> parts;
  for (const auto& clause : clauses_) {
    std::vector<std::string> alts;
    for (const Comparison& c : clause) {
      alts.push_back(absl::StrCat(OpText(c.op), " ", FormatConstant(c.constant, dates)));
    }
    if (alts.empty()) alts.push_back("in []");
    parts.push_back(alts.size() == 1 ? alts[0] : absl::StrCat("(", absl::StrJoin(alts, " or "), ")"));
  }
  return parts.empty() ? "any value" : absl::StrJoin(parts, " and ");
}

// ---------------------------------------------------------------------------------------------

ConditionReading ReadCondition(const Node& condition, const Taxonomy& taxonomy) {
  ConditionReading r;
  ReadInto(condition, taxonomy, &r);
  return r;
}

std::optional<Contradiction> ConstraintSet::Add(const Node& condition, int source) {
  ConditionReading reading = ReadCondition(condition, *taxonomy_);
  if (!reading.complete) incomplete_sources_.insert(source);
  std::optional<Contradiction> first;
  for (Constraint& c : reading.constraints) {
    entries_.push_back({std::move(c), source});
    const Entry& added = entries_.back();
    if (added.constraint.kind == Constraint::Kind::kNumeric) {
      // What all the conditions say of this subject so far, kept up to date as they come.
      Subject& subject = subjects_[added.constraint.key];
      subject.values.Intersect(added.constraint.values);
      if (subject.seen.insert(source).second) subject.sources.push_back(source);
      subject.entries.push_back(entries_.size() - 1);
    }
    if (!first) first = Check(added);
  }
  return first;
}

std::optional<Contradiction> ConstraintSet::Check(const Entry& added) const {
  const Taxonomy& tax = *taxonomy_;
  const Constraint& a = added.constraint;
  using K = Constraint::Kind;
  auto region_name = [&](const std::string& code, bool region) {
    absl::string_view name = region ? tax.RegionName(code) : tax.IndustryName(code);
    return name.empty() ? absl::StrCat("\"", code, "\"") : absl::StrCat("\"", code, "\" (", name, ")");
  };
  switch (a.kind) {
    case K::kNever:
      return Contradiction{"it can never be true", {added.source}};
    case K::kNumeric: {
      const Subject& subject = subjects_.at(a.key);
      if (!subject.values.IsEmpty()) return std::nullopt;
      return Contradiction{
          absl::StrCat("no value of ", a.key, " is ", subject.values.ToString(a.is_date)),
          subject.sources};
    }
    case K::kRegionUnder:
    case K::kIndustryUnder:
    case K::kRegionNotUnder:
    case K::kIndustryNotUnder: {
      const bool region = a.kind == K::kRegionUnder || a.kind == K::kRegionNotUnder;
      const K under = region ? K::kRegionUnder : K::kIndustryUnder;
      const K not_under = region ? K::kRegionNotUnder : K::kIndustryNotUnder;
      const char* what = region ? "region" : "industry";
      for (const Entry& e : entries_) {
        if (&e == &added) continue;
        const Constraint& b = e.constraint;
        if (a.kind == under && b.kind == under && Disjoint(a.code, b.code, region)) {
          return Contradiction{absl::StrCat(what, " cannot be under both ", region_name(b.code, region),
                                            " and ", region_name(a.code, region)),
                               {e.source, added.source}};
        }
        const Constraint* in = a.kind == under ? &a : &b;
        const Constraint* out = a.kind == under ? &b : &a;
        if (in->kind == under && out->kind == not_under && Under(in->code, out->code, region)) {
          return Contradiction{absl::StrCat(what, " under ", region_name(in->code, region),
                                            " is also under ", region_name(out->code, region),
                                            ", which is excluded"),
                               {e.source, added.source}};
        }
      }
      return std::nullopt;
    }
    case K::kTag:
    case K::kNotTag: {
      for (const Entry& e : entries_) {
        if (&e == &added) continue;
        const Constraint& b = e.constraint;
        const Constraint* held = a.kind == K::kTag ? &a : &b;
        const Constraint* not_held = a.kind == K::kTag ? &b : &a;
        if (held->kind != K::kTag || not_held->kind != K::kNotTag) continue;
        if (!IsAncestorOrSelf(tax, not_held->tag, held->tag)) continue;
        const TagInfo& h = tax.tag(held->tag);
        const TagInfo& n = tax.tag(not_held->tag);
        return Contradiction{
            held->tag == not_held->tag
                ? absl::StrCat("a firm cannot both hold and not hold ", h.id, " (", h.name, ")")
                : absl::StrCat("holding ", h.id, " (", h.name, ") implies holding ", n.id, " (",
                               n.name, "), which is excluded"),
            {e.source, added.source}};
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<std::vector<int>> ConstraintSet::ImpliedByOthers(int source,
                                                               const std::vector<int>& ignore) const {
  if (incomplete_sources_.contains(source)) return std::nullopt;
  const absl::flat_hash_set<int> ignored(ignore.begin(), ignore.end());
  auto skipped = [&](const Entry& e) { return e.source == source || ignored.contains(e.source); };
  const Taxonomy& tax = *taxonomy_;
  using K = Constraint::Kind;
  std::vector<int> from;
  bool any = false;
  for (const Entry& mine : entries_) {
    if (mine.source != source) continue;
    any = true;
    const Constraint& c = mine.constraint;
    std::vector<int> used;
    bool implied = false;
    switch (c.kind) {
      case K::kNever: return std::nullopt;
      case K::kNumeric: {
        // Nearly always every set is a conjunction of single comparisons: fold them into a box
        // without copying them; otherwise intersect them and ask the general question.
        Box box;
        bool simple = true;
        for (size_t index : subjects_.at(c.key).entries) {
          const Entry& e = entries_[index];
          if (skipped(e)) continue;
          simple = simple && box.Add(e.constraint.values.clauses());
          used.push_back(e.source);
        }
        if (used.empty()) break;
        std::optional<bool> within;
        if (simple) {
          box.Finish();
          within = box.Within(c.values.clauses());
        }
        if (!within) {
          NumericSet others;
          for (size_t index : subjects_.at(c.key).entries) {
            if (!skipped(entries_[index])) others.Intersect(entries_[index].constraint.values);
          }
          within = others.SubsetOf(c.values);
        }
        implied = *within;
        break;
      }
      default:
        for (const Entry& e : entries_) {
          if (skipped(e)) continue;
          const Constraint& o = e.constraint;
          bool follows = false;
          switch (c.kind) {
            case K::kRegionUnder:
            case K::kIndustryUnder:
              follows = o.kind == c.kind && Under(o.code, c.code, c.kind == K::kRegionUnder);
              break;
            case K::kRegionNotUnder:
            case K::kIndustryNotUnder: {
              const bool region = c.kind == K::kRegionNotUnder;
              follows = (o.kind == (region ? K::kRegionUnder : K::kIndustryUnder) &&
                         Disjoint(o.code, c.code, region)) ||
                        (o.kind == c.kind && Under(c.code, o.code, region));
              break;
            }
            case K::kTag:
              follows = o.kind == K::kTag && IsAncestorOrSelf(tax, c.tag, o.tag);
              break;
            case K::kNotTag:
              follows = o.kind == K::kNotTag && IsAncestorOrSelf(tax, o.tag, c.tag);
              break;
            default: break;
          }
          if (follows) {
            implied = true;
            used = {e.source};
            break;
          }
        }
    }
    if (!implied) return std::nullopt;
    from.insert(from.end(), used.begin(), used.end());
  }
  if (!any) return std::nullopt;
  std::sort(from.begin(), from.end());
  from.erase(std::unique(from.begin(), from.end()), from.end());
  return from;
}

}  // namespace polmatch
