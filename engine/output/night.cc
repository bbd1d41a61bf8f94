// File: night.cc
//
// The night's model: PolicyNight, NightBuilder (see night.h). Its files: the state file in
// night_state.cc, summary.json in night_summary.cc, grants.csv and lists.csv in night_csv.cc,
// pushes.jsonl (the diff against a previous night) in night_pushes.cc.
#include "engine/output/night.h"

#include <algorithm>


namespace polmatch {
namespace {

std::vector<uint32_t> CodeOrder(const NightResult& night) {
  std::vector<uint32_t> order(night.num_firms());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return night.code(a) < night.code(b); });
  return order;
}

}  // namespace

MatchStatus PolicyNight::StatusOf(uint32_t firm) const {
  for (MatchStatus s : kKeptStatuses) {
    if (by_status[s].contains(firm)) return s;
  }
  return INELIGIBLE;
}

std::optional<Decimal> PolicyNight::BenefitOf(uint32_t firm) const {
  auto it = std::lower_bound(benefits.begin(), benefits.end(), std::make_pair(firm, INT64_MIN));
  if (it == benefits.end() || it->first != firm) return std::nullopt;
  return Decimal::FromRawUnchecked(it->second);
}

NightBuilder::NightBuilder(std::string as_of, std::vector<std::string> policy_ids,
                           std::vector<bool> auto_grant) {
  night_.as_of = std::move(as_of);
  night_.policies.resize(policy_ids.size());
  for (size_t i = 0; i < policy_ids.size(); ++i) {
    night_.policies[i].id = std::move(policy_ids[i]);
    night_.policies[i].auto_grant = i < auto_grant.size() && auto_grant[i];
  }
}

void NightBuilder::SetListed(size_t policy, std::string benefit_note) {
  night_.policies[policy].listed = true;
  night_.policies[policy].benefit_note = std::move(benefit_note);
}

uint32_t NightBuilder::AddFirm(std::string credit_code, std::string name) {
  credit_code.resize(NightResult::kCodeLen, ' ');
  night_.codes.append(credit_code);
  night_.names.push_back(std::move(name));
  return night_.num_firms() - 1;
}

void NightBuilder::Set(uint32_t firm, size_t policy, const Outcome& o) {
  PolicyNight& p = night_.policies[policy];
  if (o.status != INELIGIBLE && o.status != STATUS_UNSPECIFIED) p.by_status[o.status].add(firm);
  if (o.benefit && (o.status == ELIGIBLE || o.status == EXCLUDED || o.status == NOT_SELECTED)) {
    p.benefits.emplace_back(firm, o.benefit->raw());
  }
}

NightResult NightBuilder::Finish() && {
  night_.code_order = CodeOrder(night_);
  for (PolicyNight& p : night_.policies) {
    for (Roaring& r : p.by_status) r.runOptimize();
    std::sort(p.benefits.begin(), p.benefits.end());
  }
  return std::move(night_);
}

}  // namespace polmatch
