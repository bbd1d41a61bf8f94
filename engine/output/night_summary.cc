// File: night_summary.cc
//
// summary.json: the per-policy counts and benefit totals (see night.h).
#include "engine/output/night.h"
#include "engine/util/amounts.h"
#include "google/protobuf/util/json_util.h"

namespace polmatch {

BatchSummary Summarize(const NightResult& night) {
  BatchSummary s;
  s.set_as_of(night.as_of);
  s.set_firms(static_cast<int32_t>(night.num_firms()));
  for (const PolicyNight& p : night.policies) {
    PolicySummary* ps = s.add_policies();
    ps->set_policy(p.id);
    ps->set_eligible(static_cast<int32_t>(p.by_status[ELIGIBLE].cardinality()));
    ps->set_undetermined(static_cast<int32_t>(p.by_status[UNDETERMINED].cardinality()));
    ps->set_near_miss(static_cast<int32_t>(p.by_status[NEAR_MISS].cardinality()));
    ps->set_excluded(static_cast<int32_t>(p.by_status[EXCLUDED].cardinality()));
    ps->set_not_selected(static_cast<int32_t>(p.by_status[NOT_SELECTED].cardinality()));
    ps->set_auto_granted(p.auto_grant ? ps->eligible() : 0);
    YuanTotal total;  // the benefits of ELIGIBLE firms: both ascending by firm, walked together
    auto b = p.benefits.begin();
    for (uint32_t firm : p.by_status[ELIGIBLE]) {
      while (b != p.benefits.end() && b->first < firm) ++b;
      for (; b != p.benefits.end() && b->first == firm; ++b) total.Add(Decimal::FromRawUnchecked(b->second));
    }
    ps->set_benefit_total_yuan(total.ToFixed2());
  }
  return s;
}

std::string SummaryJson(const NightResult& night) { return SummaryJson(Summarize(night)); }

std::string SummaryJson(const BatchSummary& summary) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  opts.add_whitespace = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(summary, &out, opts);
  return out;
}

}  // namespace polmatch
