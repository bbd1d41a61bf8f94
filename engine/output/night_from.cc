#include "engine/output/night_from.h"

#include <algorithm>

#include "engine/match/reference.h"
#include "engine/util/dates.h"

namespace polmatch {
namespace {

NightBuilder MakeBuilder(const Catalog& catalog, absl::CivilDay as_of) {
  std::vector<std::string> ids;
  std::vector<bool> auto_grant;
  for (const CompiledPolicy& p : catalog.policies()) {
    ids.push_back(p.id());
    auto_grant.push_back(p.auto_grant());
  }
  NightBuilder builder(FormatDate(as_of), std::move(ids), std::move(auto_grant));
  for (size_t i = 0; i < catalog.policies().size(); ++i) {
    const CompiledPolicy& p = catalog.policies()[i];
    if (p.auto_grant() && p.benefit == nullptr) builder.SetListed(i, p.policy.benefit_note());
  }
  return builder;
}

void SetInForce(const Catalog& catalog, absl::CivilDay as_of, NightResult* night) {
  for (size_t p = 0; p < night->policies.size(); ++p) {
    night->policies[p].in_force = catalog.policies()[p].ActiveOn(as_of);
  }
}

}  // namespace

NightResult NightFromBulk(const Catalog& catalog, const FirmStore& store, BulkResult&& result,
                          absl::CivilDay as_of) {
  NightResult night = std::move(MakeBuilder(catalog, as_of)).Finish();
  night.codes.reserve(size_t{store.num_rows()} * NightResult::kCodeLen);
  for (uint32_t row = 0; row < store.num_rows(); ++row) {
    const absl::string_view code = store.credit_code(row);
    night.codes.append(code.data(), code.size());
  }
  night.code_order.assign(store.rows_by_code().begin(), store.rows_by_code().end());
  night.name_source = &store;
  for (int p = 0; p < result.num_policies(); ++p) {
    BulkPolicyResult& r = *result.mutable_policy(p);
    PolicyNight& out = night.policies[p];
    out.by_status[ELIGIBLE] = std::move(r.eligible);
    out.by_status[UNDETERMINED] = std::move(r.undetermined);
    out.by_status[NEAR_MISS] = std::move(r.near_miss);
    out.by_status[EXCLUDED] = std::move(r.excluded);
    out.by_status[NOT_SELECTED] = std::move(r.not_selected);
    out.benefits.reserve(r.benefit_rows.size());
    for (size_t i = 0; i < r.benefit_rows.size(); ++i) {
      out.benefits.emplace_back(r.benefit_rows[i], r.benefits[i].raw());
    }
    std::vector<uint32_t>().swap(r.benefit_rows);
    std::vector<Decimal>().swap(r.benefits);
  }
  SetInForce(catalog, as_of, &night);
  return night;
}

NightResult NightFromReference(const Catalog& catalog, const std::vector<Firm>& firms,
                               absl::CivilDay as_of, const std::function<void(size_t)>& progress) {
  const ReferenceMatcher matcher(catalog);
  std::vector<std::vector<Outcome>> outcomes;
  outcomes.reserve(firms.size());
  std::vector<const std::string*> codes;
  for (size_t f = 0; f < firms.size(); ++f) {
    outcomes.push_back(matcher.EvaluateFirm(FirmView(firms[f], catalog.taxonomy(), as_of)));
    codes.push_back(&firms[f].credit_code);
    if (progress && (f % 1024 == 0 || f + 1 == firms.size())) progress(f + 1);
  }
  ApplyLimits(catalog, codes, outcomes);
  NightBuilder builder = MakeBuilder(catalog, as_of);
  for (size_t f = 0; f < firms.size(); ++f) {
    const uint32_t id = builder.AddFirm(firms[f].credit_code, firms[f].name);
    for (size_t p = 0; p < outcomes[f].size(); ++p) builder.Set(id, p, outcomes[f][p]);
  }
  NightResult night = std::move(builder).Finish();
  SetInForce(catalog, as_of, &night);
  return night;
}

}  // namespace polmatch
