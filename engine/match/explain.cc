#include "engine/match/explain.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/expr/eval.h"
#include "engine/match/explain_zh.h"
#include "engine/util/dates.h"

namespace polmatch {
namespace {

void CollectLeaves(const Node& n, std::vector<const Node*>* out) {
  if (n.kind == NodeKind::kTag || n.kind == NodeKind::kFact ||
      (n.kind == NodeKind::kBuiltin && n.builtin != Builtin::kAsOf)) {
    out->push_back(&n);
    return;
  }
  for (const auto& c : n.children) CollectLeaves(*c, out);
}

ConditionTrace::Value TraceValue(const Value& v) {
  if (v.is_true()) return ConditionTrace::TRUE;
  if (v.is_false()) return ConditionTrace::FALSE;
  return ConditionTrace::UNKNOWN;
}

std::string Validity(const TagGrantRecord& g) {
  if (!g.valid_from && !g.valid_to) return "no end date";
  return absl::StrCat(g.valid_from ? FormatDate(*g.valid_from) : "", "..",
                      g.valid_to ? FormatDate(*g.valid_to) : "");
}

int StatusOrder(MatchStatus s) {
  switch (s) {
    case ELIGIBLE: return 0;
    case NEAR_MISS: return 1;
    case UNDETERMINED: return 2;
    case EXCLUDED: return 3;
    case NOT_SELECTED: return 4;
    default: return 5;
  }
}

}  // namespace

std::string DescribeData(const Node& node, const Taxonomy& tax, const FirmView& firm) {
  std::vector<const Node*> leaves;
  CollectLeaves(node, &leaves);
  std::vector<std::string> parts;
  std::set<std::string> seen;
  for (const Node* n : leaves) {
    std::string part;
    if (n->kind == NodeKind::kFact) {
      const FactInfo& f = tax.fact(n->fact);
      std::optional<Decimal> v = firm.Fact(n->fact);
      part = absl::StrCat(f.name, " ", f.id, " = ", v ? v->ToString() : "unknown (no data)");
    } else if (n->kind == NodeKind::kTag) {
      const TagInfo& t = tax.tag(n->tag);
      const TagGrantRecord* g = firm.HoldingGrant(n->tag);
      part = absl::StrCat(t.name, " ", t.id, ": ",
                          g ? absl::StrCat("held (", Validity(*g), ")") : "not held");
    } else if (n->builtin == Builtin::kRegion) {
      part = absl::StrCat("region = ", firm.Region(), " ", tax.RegionName(firm.Region()));
    } else if (n->builtin == Builtin::kIndustry) {
      part = firm.Industry().empty()
                 ? std::string("industry = unknown")
                 : absl::StrCat("industry = ", firm.Industry(), " ", tax.IndustryName(firm.Industry()));
    } else if (n->builtin == Builtin::kFounded) {
      part = firm.Founded() ? absl::StrCat("founded = ", FormatDate(*firm.Founded()))
                            : std::string("founded = unknown");
    }
    if (seen.insert(part).second) parts.push_back(std::move(part));
  }
  return absl::StrJoin(parts, "; ");
}

PolicyResult ExplainOutcome(const CompiledPolicy& p, const Taxonomy& tax, const FirmView& firm,
                            const Outcome& outcome) {
  PolicyResult r;
  r.set_policy(p.id());
  r.set_title(p.policy.title());
  r.set_status(outcome.status);
  r.set_mode(p.policy.mode());
  if (outcome.benefit) r.set_benefit_yuan(FormatYuan(*outcome.benefit));
  const ChineseRenderer zh(tax);
  r.set_explanation_zh(ExplanationZh(p, zh, firm, outcome.status, outcome.benefit));
  if (!p.ActiveOn(firm.AsOf())) {
    r.set_reason(absl::StrCat("policy not in force on ", FormatDate(firm.AsOf()), " (valid ",
                              p.policy.valid_from(), "..", p.policy.valid_to(), ")"));
    return r;
  }
  int first_false = -1;
  std::vector<std::string> unknown_data;
  for (size_t i = 0; i < p.conditions.size(); ++i) {
    const Node& c = *p.conditions[i];
    const Value v = Evaluate(c, firm);
    ConditionTrace* t = r.add_conditions();
    t->set_text(std::string(p.EligibilityText(c)));
    t->set_value(TraceValue(v));
    t->set_detail(DescribeData(c, tax, firm));
    t->set_actionable(p.condition_actionable[i]);
    t->set_text_zh(zh.ConditionWithFirm(c, firm));
    if (v.arithmetic_fault) t->set_detail(absl::StrCat(t->detail(), " [overflow or division by zero]"));
    if (v.is_false() && first_false < 0) first_false = static_cast<int>(i);
    if (v.is_unknown()) unknown_data.push_back(t->text());
  }
  if (p.benefit) {
    const Value b = Evaluate(*p.benefit, firm);
    std::string detail = absl::StrCat(p.policy.benefit(), " = ", b.ToString());
    if (!b.is_unknown()) {
      if (b.number.is_negative()) absl::StrAppend(&detail, " → 0 (never negative)");
      absl::StrAppend(&detail, " → ", FormatYuan(b.number.is_negative() ? Decimal() : b.number), " 元");
    } else if (b.arithmetic_fault) {
      absl::StrAppend(&detail, " (overflow or division by zero)");
    }
    const std::string data = DescribeData(*p.benefit, tax, firm);
    if (!data.empty()) absl::StrAppend(&detail, "; where ", data);
    r.set_benefit_detail(detail);
  } else if (!p.policy.benefit_note().empty()) {
    r.set_benefit_detail(p.policy.benefit_note());
  }
  switch (outcome.status) {
    case ELIGIBLE:
      r.set_reason(p.auto_grant() ? "eligible: granted without application (免申即享)"
                                  : "eligible: apply to receive it");
      break;
    case NEAR_MISS:
      r.set_reason(absl::StrCat("one condition missing: ", r.conditions(first_false).text()));
      break;
    case UNDETERMINED:
      r.set_reason(unknown_data.empty()
                       ? std::string("the amount cannot be computed from the data held")
                       : absl::StrCat("data needed: ", absl::StrJoin(unknown_data, "; ")));
      break;
    case EXCLUDED:
      r.set_reason(absl::StrCat("another policy of exclusive group \"", p.policy.exclusive_group(),
                                "\" gives more (就高不重复)"));
      break;
    case NOT_SELECTED:
      r.set_reason(absl::StrCat("eligible, but outside the ", p.policy.limit(),
                                " firms selected by ", p.policy.rank_by()));
      break;
    default:
      r.set_reason(first_false >= 0
                       ? absl::StrCat("not met: ", r.conditions(first_false).text())
                       : std::string("not eligible"));
  }
  return r;
}

FirmMatches ExplainFirm(const Catalog& catalog, const FirmView& firm,
                        const std::vector<Outcome>& outcomes, bool trace_ineligible) {
  FirmMatches m;
  m.set_credit_code(firm.firm().credit_code);
  m.set_name(firm.firm().name);
  m.set_as_of(FormatDate(firm.AsOf()));
  std::vector<size_t> order(outcomes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Outcome& oa = outcomes[a];
    const Outcome& ob = outcomes[b];
    if (StatusOrder(oa.status) != StatusOrder(ob.status)) {
      return StatusOrder(oa.status) < StatusOrder(ob.status);
    }
    if (oa.status == ELIGIBLE && oa.benefit != ob.benefit) {
      if (oa.benefit.has_value() != ob.benefit.has_value()) return oa.benefit.has_value();
      return *oa.benefit > *ob.benefit;
    }
    return a < b;  // catalog order = id order
  });
  for (size_t i : order) {
    const CompiledPolicy& p = catalog.policies()[i];
    if (!trace_ineligible && outcomes[i].status == INELIGIBLE) {
      PolicyResult* r = m.add_results();
      r->set_policy(p.id());
      r->set_title(p.policy.title());
      r->set_status(INELIGIBLE);
      r->set_mode(p.policy.mode());
      continue;
    }
    *m.add_results() = ExplainOutcome(p, catalog.taxonomy(), firm, outcomes[i]);
  }
  return m;
}

}  // namespace polmatch
