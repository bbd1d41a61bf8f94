#include "engine/match/plan.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/expr/comparison.h"
#include "engine/util/truth.h"
#include "engine/util/status_macros.h"

namespace polmatch {

bool IsBoolOp(PlanOp op) { return op <= PlanOp::kIfBool; }

const char* PlanOpName(PlanOp op) {
  switch (op) {
    case PlanOp::kBoolConst: return "bool";
    case PlanOp::kTagHeld: return "tag";
    case PlanOp::kHasFact: return "has_fact";
    case PlanOp::kRegionSet: return "region_set";
    case PlanOp::kIndustrySet: return "industry_set";
    case PlanOp::kNot: return "not";
    case PlanOp::kAnd: return "and";
    case PlanOp::kOr: return "or";
    case PlanOp::kCompare: return "cmp";
    case PlanOp::kBoolEq: return "bool_eq";
    case PlanOp::kIfBool: return "if";
    case PlanOp::kNumConst: return "const";
    case PlanOp::kFact: return "fact";
    case PlanOp::kFounded: return "founded";
    case PlanOp::kAsOf: return "as_of";
    case PlanOp::kValidFrom: return "valid_from";
    case PlanOp::kValidTo: return "valid_to";
    case PlanOp::kNeg: return "neg";
    case PlanOp::kAbs: return "abs";
    case PlanOp::kAdd: return "+";
    case PlanOp::kSub: return "-";
    case PlanOp::kMul: return "*";
    case PlanOp::kDiv: return "/";
    case PlanOp::kMin: return "min";
    case PlanOp::kMax: return "max";
    case PlanOp::kIfNum: return "if";
    case PlanOp::kTier: return "tier";
    case PlanOp::kYearsBetween: return "years_between";
    case PlanOp::kDaysBetween: return "days_between";
  }
  return "?";
}

namespace {

// ---- Row range algebra (sorted, disjoint, non-empty ranges) ---------------------------------

std::vector<RowRange> Normalize(std::vector<RowRange> r) {
  std::sort(r.begin(), r.end(), [](RowRange a, RowRange b) { return a.begin < b.begin; });
  std::vector<RowRange> out;
  for (RowRange x : r) {
    if (x.empty()) continue;
    if (!out.empty() && x.begin <= out.back().end) {
      out.back().end = std::max(out.back().end, x.end);
    } else {
      out.push_back(x);
    }
  }
  return out;
}

std::vector<RowRange> Union(const std::vector<RowRange>& a, const std::vector<RowRange>& b) {
  std::vector<RowRange> all = a;
  all.insert(all.end(), b.begin(), b.end());
  return Normalize(std::move(all));
}

std::vector<RowRange> Intersect(const std::vector<RowRange>& a, const std::vector<RowRange>& b) {
  std::vector<RowRange> out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    RowRange x{std::max(a[i].begin, b[j].begin), std::min(a[i].end, b[j].end)};
    if (!x.empty()) out.push_back(x);
    if (a[i].end < b[j].end) ++i; else ++j;
  }
  return out;
}

// [lo, hi) minus `a`.
std::vector<RowRange> Complement(const std::vector<RowRange>& a, uint32_t lo, uint32_t hi) {
  std::vector<RowRange> out;
  uint32_t at = lo;
  for (RowRange x : a) {
    if (x.begin > at) out.push_back({at, std::min(x.begin, hi)});
    at = std::max(at, x.end);
  }
  if (at < hi) out.push_back({at, hi});
  return Normalize(std::move(out));
}

// Kleene values of industry sets, stored as Truth's byte (util/truth.h: 0 false, 1 true, 2 unknown).
uint8_t KAnd(uint8_t a, uint8_t b) { return static_cast<uint8_t>(KleeneAnd(Truth{a}, Truth{b})); }
uint8_t KOr(uint8_t a, uint8_t b) { return static_cast<uint8_t>(KleeneOr(Truth{a}, Truth{b})); }
uint8_t KNot(uint8_t a) { return static_cast<uint8_t>(KleeneNot(Truth{a})); }

}  // namespace

class PlanCompiler {
 public:
  PlanCompiler(const Catalog& catalog, const FirmStore& store)
      : catalog_(catalog), tax_(catalog.taxonomy()), store_(store) {}

  absl::StatusOr<MatchPlan> Run() {
    const auto& policies = catalog_.policies();
    plan_.taxonomy_ = catalog_.shared_taxonomy();
    plan_.policies_.resize(policies.size());
    for (size_t i = 0; i < policies.size(); ++i) {
      RETURN_IF_ERROR(CompilePolicy(static_cast<int>(i), policies[i], &plan_.policies_[i]));
    }
    std::vector<std::string> group_names;
    for (const auto& [name, members] : catalog_.groups()) group_names.push_back(name);
    std::sort(group_names.begin(), group_names.end());
    for (const std::string& name : group_names) {
      const std::vector<int>& members = catalog_.groups().at(name);
      for (int p : members) plan_.policies_[p].group = static_cast<int>(plan_.groups_.size());
      plan_.groups_.push_back(members);
    }
    BuildUnits();
    AllocateSlots();
    return std::move(plan_);
  }

 private:
  using Result = absl::StatusOr<int32_t>;

  absl::Status Unsupported(const Node& n) {
    return absl::InvalidArgumentError(
        absl::StrCat("bulk plan: unsupported expression ", n.ToString()));
  }

  int32_t Intern(PlanNode n) {
    std::string key = absl::StrCat(static_cast<int>(n.op), ":", static_cast<int>(n.cmp), ":",
                                   n.imm, ":", n.aux);
    for (int32_t a : n.args) absl::StrAppend(&key, ",", a);
    auto [it, inserted] = interned_.try_emplace(key, static_cast<int32_t>(plan_.nodes_.size()));
    if (inserted) plan_.nodes_.push_back(std::move(n));
    return it->second;
  }
  int32_t Leaf(PlanOp op, int64_t imm) {
    PlanNode n;
    n.op = op;
    n.imm = imm;
    return Intern(std::move(n));
  }
  int32_t Make(PlanOp op, std::vector<int32_t> args, Op cmp = Op::kNone) {
    PlanNode n;
    n.op = op;
    n.cmp = cmp;
    n.args = std::move(args);
    return Intern(std::move(n));
  }
  int32_t RegionNode(std::vector<RowRange> rows) {
    rows = Normalize(std::move(rows));
    std::string key;
    for (RowRange r : rows) absl::StrAppend(&key, r.begin, "-", r.end, ",");
    auto [it, inserted] = region_keys_.try_emplace(key, static_cast<int>(plan_.region_sets_.size()));
    if (inserted) plan_.region_sets_.push_back({std::move(rows)});
    PlanNode n;
    n.op = PlanOp::kRegionSet;
    n.aux = it->second;
    return Intern(std::move(n));
  }
  int32_t IndustryNode(std::vector<uint8_t> value) {
    std::string key(value.begin(), value.end());
    auto [it, inserted] =
        industry_keys_.try_emplace(key, static_cast<int>(plan_.industry_sets_.size()));
    if (inserted) {
      IndustrySet set;
      set.ranges_valid = !value.empty() && value[0] == 2;
      for (size_t id = 1; id < value.size(); ++id) {
        if (value[id] == 2) set.ranges_valid = false;
        if (value[id] != 1) continue;
        if (!set.true_ids.empty() && set.true_ids.back().second == id) {
          ++set.true_ids.back().second;
        } else {
          set.true_ids.push_back({static_cast<uint16_t>(id), static_cast<uint32_t>(id + 1)});
        }
      }
      set.value = std::move(value);
      plan_.industry_sets_.push_back(std::move(set));
    }
    PlanNode n;
    n.op = PlanOp::kIndustrySet;
    n.aux = it->second;
    return Intern(std::move(n));
  }
  const PlanNode& node(int32_t id) const { return plan_.nodes_[id]; }

  // A region or industry test of a code against a literal: exact equality or `under`.
  int32_t CodeTest(Type type, const std::string& literal, bool under) {
    if (type == Type::kRegion) {
      return RegionNode({under ? store_.RegionRange(literal) : store_.RegionExactRange(literal)});
    }
    std::vector<uint8_t> value(store_.num_industry_codes(), 0);
    value[0] = 2;  // unknown industry
    for (int id = 1; id < store_.num_industry_codes(); ++id) {
      absl::string_view code = store_.industry_code(id);
      value[id] = under ? Taxonomy::IndustryUnder(code, literal) : code == literal;
    }
    return IndustryNode(std::move(value));
  }

  // Kleene and/or/not, folding region and industry tests into one set node.
  int32_t Logic(PlanOp op, std::vector<int32_t> args) {
    if (op == PlanOp::kNot) {
      const PlanNode& c = node(args[0]);
      if (c.op == PlanOp::kNot) return c.args[0];
      if (c.op == PlanOp::kRegionSet) {
        return RegionNode(Complement(plan_.region_sets_[c.aux].true_rows,
                                     store_.UnknownRegionRange().end, store_.num_rows()));
      }
      if (c.op == PlanOp::kIndustrySet) {
        std::vector<uint8_t> v = plan_.industry_sets_[c.aux].value;
        for (uint8_t& x : v) x = KNot(x);
        return IndustryNode(std::move(v));
      }
      return Make(PlanOp::kNot, std::move(args));
    }
    if (args.size() == 1) return args[0];
    bool all_region = true, all_industry = true;
    for (int32_t a : args) {
      all_region = all_region && node(a).op == PlanOp::kRegionSet;
      all_industry = all_industry && node(a).op == PlanOp::kIndustrySet;
    }
    if (all_region) {
      std::vector<RowRange> acc = plan_.region_sets_[node(args[0]).aux].true_rows;
      for (size_t i = 1; i < args.size(); ++i) {
        const auto& r = plan_.region_sets_[node(args[i]).aux].true_rows;
        acc = op == PlanOp::kAnd ? Intersect(acc, r) : Union(acc, r);
      }
      return RegionNode(std::move(acc));
    }
    if (all_industry) {
      std::vector<uint8_t> acc = plan_.industry_sets_[node(args[0]).aux].value;
      for (size_t i = 1; i < args.size(); ++i) {
        const auto& v = plan_.industry_sets_[node(args[i]).aux].value;
        for (size_t k = 0; k < acc.size(); ++k) acc[k] = op == PlanOp::kAnd ? KAnd(acc[k], v[k]) : KOr(acc[k], v[k]);
      }
      return IndustryNode(std::move(acc));
    }
    return Make(op, std::move(args));
  }

  // x == item (or !=), for two nodes of the same value type.
  Result Equality(const Node& x, const Node& item, Op op) {
    auto code = [](Type t) { return t == Type::kRegion || t == Type::kIndustry; };
    if (code(x.type) || code(item.type)) {
      const Node& c = code(x.type) ? x : item;
      const Node& lit = code(x.type) ? item : x;
      if (c.kind != NodeKind::kBuiltin || lit.kind != NodeKind::kString) return Unsupported(x);
      const int32_t eq = CodeTest(c.type, lit.text, /*under=*/false);
      return op == Op::kNe ? Logic(PlanOp::kNot, {eq}) : eq;
    }
    ASSIGN_OR_RETURN(int32_t a, Compile(x));
    ASSIGN_OR_RETURN(int32_t b, Compile(item));
    if (x.type == Type::kBool) return Make(PlanOp::kBoolEq, {a, b}, op);
    return CompareNodes(a, b, op);
  }

  int32_t CompareNodes(int32_t a, int32_t b, Op op) {
    if (node(a).op == PlanOp::kNumConst && node(b).op != PlanOp::kNumConst) {
      std::swap(a, b);
      op = MirroredComparison(op);
    }
    return Make(PlanOp::kCompare, {a, b}, op);
  }

  Result Compile(const Node& n) {
    switch (n.kind) {
      case NodeKind::kNumber: return Leaf(PlanOp::kNumConst, n.number.raw());
      case NodeKind::kBool: return Leaf(PlanOp::kBoolConst, n.boolean ? 1 : 0);
      case NodeKind::kTag: return Leaf(PlanOp::kTagHeld, n.tag.value);
      case NodeKind::kFact: return Leaf(PlanOp::kFact, n.fact.value);
      case NodeKind::kBuiltin:
        if (n.builtin == Builtin::kFounded) return Leaf(PlanOp::kFounded, 0);
        if (n.builtin == Builtin::kAsOf) return Leaf(PlanOp::kAsOf, 0);
        return Unsupported(n);  // a bare code outside a comparison
      case NodeKind::kString:
      case NodeKind::kIdent: return Unsupported(n);
      case NodeKind::kNeg: {
        ASSIGN_OR_RETURN(int32_t c, Compile(*n.children[0]));
        return Make(PlanOp::kNeg, {c});
      }
      case NodeKind::kNot:
      case NodeKind::kAnd:
      case NodeKind::kOr: {
        std::vector<int32_t> args;
        for (const auto& c : n.children) {
          ASSIGN_OR_RETURN(int32_t a, Compile(*c));
          args.push_back(a);
        }
        const PlanOp op = n.kind == NodeKind::kNot ? PlanOp::kNot
                          : n.kind == NodeKind::kAnd ? PlanOp::kAnd : PlanOp::kOr;
        return Logic(op, std::move(args));
      }
      case NodeKind::kCompare: {
        const Node& a = *n.children[0];
        const Node& b = *n.children[1];
        if (n.op == Op::kEq || n.op == Op::kNe) return Equality(a, b, n.op);
        ASSIGN_OR_RETURN(int32_t x, Compile(a));
        ASSIGN_OR_RETURN(int32_t y, Compile(b));
        return CompareNodes(x, y, n.op);
      }
      case NodeKind::kIn: {
        std::vector<int32_t> items;
        for (size_t i = 1; i < n.children.size(); ++i) {
          ASSIGN_OR_RETURN(int32_t e, Equality(*n.children[0], *n.children[i], Op::kEq));
          items.push_back(e);
        }
        return Logic(PlanOp::kOr, std::move(items));
      }
      case NodeKind::kUnder: {
        const Node& x = *n.children[0];
        if (x.kind != NodeKind::kBuiltin) return Unsupported(n);
        return CodeTest(x.type, n.text, /*under=*/true);
      }
      case NodeKind::kArith: {
        ASSIGN_OR_RETURN(int32_t a, Compile(*n.children[0]));
        ASSIGN_OR_RETURN(int32_t b, Compile(*n.children[1]));
        static const PlanOp kOps[] = {PlanOp::kAdd, PlanOp::kSub, PlanOp::kMul, PlanOp::kDiv};
        if (n.op < Op::kAdd || n.op > Op::kDiv) return Unsupported(n);
        return Make(kOps[static_cast<int>(n.op) - static_cast<int>(Op::kAdd)], {a, b});
      }
      case NodeKind::kCall: return CompileCall(n);
    }
    return Unsupported(n);
  }

  Result CompileCall(const Node& n) {
    std::vector<int32_t> args;
    auto compile_args = [&]() -> absl::Status {
      for (const auto& c : n.children) {
        ASSIGN_OR_RETURN(int32_t a, Compile(*c));
        args.push_back(a);
      }
      return absl::OkStatus();
    };
    switch (n.func) {
      case Func::kMin:
      case Func::kMax:
        RETURN_IF_ERROR(compile_args());
        return Make(n.func == Func::kMin ? PlanOp::kMin : PlanOp::kMax, std::move(args));
      case Func::kAbs:
        RETURN_IF_ERROR(compile_args());
        return Make(PlanOp::kAbs, std::move(args));
      case Func::kIf:
        RETURN_IF_ERROR(compile_args());
        return Make(n.type == Type::kBool ? PlanOp::kIfBool : PlanOp::kIfNum, std::move(args));
      case Func::kTier:
        RETURN_IF_ERROR(compile_args());
        return Make(PlanOp::kTier, std::move(args));
      case Func::kDate: return Leaf(PlanOp::kNumConst, DayNumber(n.date));
      case Func::kYearsBetween:
      case Func::kDaysBetween:
        RETURN_IF_ERROR(compile_args());
        return Make(n.func == Func::kYearsBetween ? PlanOp::kYearsBetween : PlanOp::kDaysBetween,
                    std::move(args));
      case Func::kValidFrom:
      case Func::kValidTo:
        return Leaf(n.func == Func::kValidFrom ? PlanOp::kValidFrom : PlanOp::kValidTo,
                    n.children[0]->tag.value);
      case Func::kHasFact: return Leaf(PlanOp::kHasFact, n.children[0]->fact.value);
      case Func::kUnknownFunc: return Unsupported(n);
    }
    return Unsupported(n);
  }

  absl::Status CompilePolicy(int index, const CompiledPolicy& cp, PolicyPlan* pp) {
    pp->policy = index;
    pp->scope = {{0, store_.num_rows()}};
    if (!cp.eligibility) {
      pp->scope.clear();  // matches nobody
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(pp->eligibility, Compile(*cp.eligibility));
    for (size_t i = 0; i < cp.conditions.size(); ++i) {
      ASSIGN_OR_RETURN(int32_t c, Compile(*cp.conditions[i]));
      pp->conditions.push_back(c);
      pp->actionable.push_back(cp.condition_actionable[i]);
      pp->any_actionable = pp->any_actionable || cp.condition_actionable[i];
      // A region condition false for a firm makes the policy INELIGIBLE: it is not actionable,
      // so no near miss can come of it.
      if (node(c).op == PlanOp::kRegionSet && !cp.condition_actionable[i]) {
        pp->scope = Intersect(pp->scope, Union(plan_.region_sets_[node(c).aux].true_rows,
                                               {store_.UnknownRegionRange()}));
      }
    }
    if (cp.benefit) {
      ASSIGN_OR_RETURN(pp->benefit, Compile(*cp.benefit));
    }
    if (cp.rank_by && cp.policy.limit() > 0) {
      ASSIGN_OR_RETURN(pp->rank, Compile(*cp.rank_by));
    }
    return absl::OkStatus();
  }

  void BuildUnits() {
    std::vector<PlanUnit> units;
    for (const std::vector<int>& members : plan_.groups_) units.push_back({members});
    for (const PolicyPlan& p : plan_.policies_) {
      if (p.group < 0) units.push_back({{p.policy}});
    }
    // Policies of one region side by side: their private nodes then live briefly.
    auto start = [&](const PlanUnit& u) {
      uint32_t s = std::numeric_limits<uint32_t>::max();
      for (int p : u.policies) {
        if (!plan_.policies_[p].scope.empty()) s = std::min(s, plan_.policies_[p].scope[0].begin);
      }
      return s;
    };
    std::stable_sort(units.begin(), units.end(), [&](const PlanUnit& a, const PlanUnit& b) {
      const uint32_t sa = start(a), sb = start(b);
      return sa != sb ? sa < sb : a.policies[0] < b.policies[0];
    });
    plan_.units_ = std::move(units);
  }

  void MarkDense(int32_t id) {
    PlanNode& n = plan_.nodes_[id];
    if (n.dense) return;
    n.dense = true;
    for (int32_t a : n.args) MarkDense(a);
  }

  static bool NeedsSlot(const PlanNode& n) {
    switch (n.op) {
      case PlanOp::kBoolConst:
      case PlanOp::kNumConst:
      case PlanOp::kFact:
      case PlanOp::kAsOf:
      case PlanOp::kNot: return false;
      default: return n.dense;
    }
  }

  // Slots: a dense node lives from the first to the last unit (in evaluation order) that reads it;
  // nodes with disjoint lifetimes share a slot (interval colouring, greedy by start).
  void AllocateSlots() {
    for (const PolicyPlan& p : plan_.policies_) {
      if (p.eligibility >= 0) MarkDense(p.eligibility);
    }
    const size_t n = plan_.nodes_.size();
    std::vector<int> first(n, -1), last(n, -1);
    std::vector<int> seen(n, -1);
    for (size_t u = 0; u < plan_.units_.size(); ++u) {
      std::function<void(int32_t)> visit = [&](int32_t id) {
        if (seen[id] == static_cast<int>(u)) return;
        seen[id] = static_cast<int>(u);
        if (plan_.nodes_[id].dense) {
          if (first[id] < 0) first[id] = static_cast<int>(u);
          last[id] = static_cast<int>(u);
        }
        for (int32_t a : plan_.nodes_[id].args) visit(a);
      };
      for (int p : plan_.units_[u].policies) {
        const PolicyPlan& pp = plan_.policies_[p];
        for (int32_t root : {pp.eligibility, pp.benefit, pp.rank}) {
          if (root >= 0) visit(root);
        }
      }
    }
    for (bool want_bool : {true, false}) {
      std::vector<int32_t> ids;
      for (size_t i = 0; i < n; ++i) {
        const PlanNode& node = plan_.nodes_[i];
        if (NeedsSlot(node) && node.is_bool() == want_bool && first[i] >= 0) {
          ids.push_back(static_cast<int32_t>(i));
        }
      }
      std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
        return first[a] != first[b] ? first[a] < first[b] : a < b;
      });
      using Busy = std::pair<int, int32_t>;  // (last unit, slot)
      std::priority_queue<Busy, std::vector<Busy>, std::greater<Busy>> busy;
      std::vector<int32_t> free_slots;
      int32_t count = 0;
      for (int32_t id : ids) {
        while (!busy.empty() && busy.top().first < first[id]) {
          free_slots.push_back(busy.top().second);
          busy.pop();
        }
        int32_t slot;
        if (free_slots.empty()) {
          slot = count++;
        } else {
          slot = free_slots.back();
          free_slots.pop_back();
        }
        plan_.nodes_[id].slot = slot;
        busy.push({last[id], slot});
      }
      (want_bool ? plan_.num_bool_slots_ : plan_.num_num_slots_) = count;
    }
  }

  const Catalog& catalog_;
  const Taxonomy& tax_;
  const FirmStore& store_;
  MatchPlan plan_;
  absl::flat_hash_map<std::string, int32_t> interned_;
  absl::flat_hash_map<std::string, int> region_keys_;
  absl::flat_hash_map<std::string, int> industry_keys_;
};

absl::StatusOr<MatchPlan> MatchPlan::Compile(const Catalog& catalog, const FirmStore& store) {
  return PlanCompiler(catalog, store).Run();
}

std::string MatchPlan::NodeToString(int32_t id) const {
  const PlanNode& n = nodes_[id];
  switch (n.op) {
    case PlanOp::kBoolConst: return n.imm ? "true" : "false";
    case PlanOp::kNumConst: return absl::StrCat(n.imm);
    case PlanOp::kTagHeld:
    case PlanOp::kHasFact:
    case PlanOp::kFact:
    case PlanOp::kValidFrom:
    case PlanOp::kValidTo: return absl::StrCat(PlanOpName(n.op), "#", n.imm);
    case PlanOp::kRegionSet: {
      std::string s = "region_set[";
      for (RowRange r : region_sets_[n.aux].true_rows) absl::StrAppend(&s, r.begin, "-", r.end, " ");
      return s + "]";
    }
    case PlanOp::kIndustrySet: return absl::StrCat("industry_set#", n.aux);
    case PlanOp::kFounded:
    case PlanOp::kAsOf: return PlanOpName(n.op);
    default: break;
  }
  std::string s = absl::StrCat("(", n.op == PlanOp::kCompare || n.op == PlanOp::kBoolEq
                                        ? std::string(OpText(n.cmp)) : PlanOpName(n.op));
  for (int32_t a : n.args) absl::StrAppend(&s, " ", NodeToString(a));
  return s + ")";
}

}  // namespace polmatch
