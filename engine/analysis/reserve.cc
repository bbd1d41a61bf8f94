#include "engine/analysis/reserve.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/util/amounts.h"
#include "engine/analysis/conditions.h"
#include "engine/expr/comparison.h"
#include "engine/expr/eval.h"
#include "engine/match/explain.h"

namespace polmatch {
namespace {

Decimal Abs(Decimal d) { return d.is_negative() ? *Neg(d) : d; }

std::string Number(Decimal d) { return WithThousands(d.ToString()); }

// The gap of a false numeric comparison `a OP b`.
std::optional<ThresholdGap> GapOf(const Node& c, const std::string& source, const Taxonomy& tax,
                                  const FirmView& firm) {
  if (c.kind != NodeKind::kCompare || c.children[0]->type != Type::kNumber) return std::nullopt;
  const Node& a = *c.children[0];
  const Node& b = *c.children[1];
  const std::optional<Decimal> ca = FoldConstant(a);
  const std::optional<Decimal> cb = FoldConstant(b);
  const bool flipped = ca && !cb;  // `10000000 <= revenue`: the subject is on the right
  const Node& subject = flipped ? b : a;
  const Node& threshold = flipped ? a : b;
  const Value v = Evaluate(subject, firm);
  const Value t = Evaluate(threshold, firm);
  if (v.kind != Value::Kind::kNumber || t.kind != Value::Kind::kNumber) return std::nullopt;
  ThresholdGap g;
  g.subject = subject.kind == NodeKind::kFact ? tax.fact(subject.fact).name : SourceText(source, subject);
  g.value = v.number;
  g.threshold = t.number;
  if (!FoldConstant(threshold)) g.threshold_text = SourceText(source, threshold);
  g.needed = flipped ? MirroredComparison(c.op) : c.op;
  std::optional<Decimal> diff = Sub(g.threshold, g.value);
  if (!diff) return std::nullopt;
  g.gap = Abs(*diff);
  const Decimal scale = std::max(Abs(g.threshold), Abs(g.value));
  g.relative = scale.is_zero() ? Decimal() : Div(g.gap, scale).value_or(Decimal());
  return g;
}

}  // namespace

std::string ThresholdGap::ToString() const {
  const char* rel = value < threshold ? "<" : value == threshold ? "=" : ">";
  std::string s = absl::StrCat(subject, " ", Number(value), " ", rel, " ", Number(threshold));
  // A short threshold expression helps (`employees * 10%`); a long one is the condition itself.
  if (!threshold_text.empty() && threshold_text.size() <= 40) {
    absl::StrAppend(&s, " (", threshold_text, ")");
  }
  if (gap.is_zero()) {
    absl::StrAppend(&s, " (needs ", OpText(needed), " ", Number(threshold), ")");
  } else {
    absl::StrAppend(&s, " (gap ", Number(gap), ")");
  }
  return s;
}

std::optional<ReserveEntry> DescribeNearMiss(const CompiledPolicy& p, const Taxonomy& tax,
                                             const FirmView& firm) {
  if (p.conditions.size() < 2) return std::nullopt;
  int missed = -1;
  for (size_t i = 0; i < p.conditions.size(); ++i) {
    const Value v = Evaluate(*p.conditions[i], firm);
    if (v.is_true()) continue;
    if (!v.is_false() || missed >= 0) return std::nullopt;
    missed = static_cast<int>(i);
  }
  if (missed < 0) return std::nullopt;
  const Node& c = *p.conditions[missed];
  ReserveEntry e;
  e.credit_code = firm.firm().credit_code;
  e.name = firm.firm().name;
  e.region = firm.firm().region;
  e.condition = missed;
  e.condition_text = SourceText(p.policy.eligibility(), c);
  e.gap = GapOf(c, p.policy.eligibility(), tax, firm);
  e.data = DescribeData(c, tax, firm);
  return e;
}

void SortClosestFirst(std::vector<ReserveEntry>* entries) {
  std::sort(entries->begin(), entries->end(), [](const ReserveEntry& a, const ReserveEntry& b) {
    if (a.gap.has_value() != b.gap.has_value()) return a.gap.has_value();
    if (a.gap) {
      if (a.gap->relative != b.gap->relative) return a.gap->relative < b.gap->relative;
      if (a.gap->gap != b.gap->gap) return a.gap->gap < b.gap->gap;
    }
    return a.credit_code < b.credit_code;
  });
}

std::vector<ReserveEntry> BuildReserveList(const CompiledPolicy& policy, const Taxonomy& tax,
                                           const FirmStore& store, const Roaring& near_miss,
                                           absl::CivilDay as_of) {
  std::vector<ReserveEntry> out;
  out.reserve(near_miss.cardinality());
  for (uint32_t row : near_miss) {
    const Firm firm = store.ToFirm(row);
    std::optional<ReserveEntry> e = DescribeNearMiss(policy, tax, FirmView(firm, tax, as_of));
    if (!e) continue;  // not a near miss by the reference evaluator (the engines disagree)
    e->row = row;
    out.push_back(std::move(*e));
  }
  SortClosestFirst(&out);
  return out;
}

std::vector<ReserveSummary> SummarizeReserves(const Catalog& catalog, const FirmStore& store,
                                              const BulkResult& result, absl::CivilDay as_of) {
  std::vector<ReserveSummary> out;
  const Taxonomy& tax = catalog.taxonomy();
  for (int p = 0; p < result.num_policies(); ++p) {
    const CompiledPolicy& policy = catalog.policies()[p];
    const Roaring& rows = result.policy(p).near_miss;
    ReserveSummary s;
    s.policy = p;
    s.near_miss = static_cast<int64_t>(rows.cardinality());
    std::vector<int64_t> counts(policy.conditions.size(), 0);
    for (uint32_t row : rows) {
      const Firm firm = store.ToFirm(row);
      std::optional<ReserveEntry> e = DescribeNearMiss(policy, tax, FirmView(firm, tax, as_of));
      if (e) ++counts[e->condition];
    }
    for (size_t i = 0; i < counts.size(); ++i) {
      if (counts[i] > 0) {
        s.by_condition.emplace_back(SourceText(policy.policy.eligibility(), *policy.conditions[i]),
                                    counts[i]);
      }
    }
    std::stable_sort(s.by_condition.begin(), s.by_condition.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace polmatch
