#include "engine/match/limit_placement.h"

#include <algorithm>

#include "engine/util/diagnostics.h"

namespace polmatch {

absl::StatusOr<std::unique_ptr<LimitPlacement>> LimitPlacement::Create(const Catalog& catalog,
                                                                        const FirmStore* store, int threads) {
  std::unique_ptr<LimitPlacement> placement(new LimitPlacement());
  placement->store_ = store;
  placement->threads_ = std::max(1, threads);
  const auto& policies = catalog.policies();
  std::vector<bool> take(policies.size(), false);
  for (size_t p = 0; p < policies.size(); ++p) {
    placement->limited_.push_back(policies[p].policy.limit() > 0 ? 1 : 0);
    if (policies[p].policy.limit() <= 0) continue;
    take[p] = true;
    const std::string& group = policies[p].policy.exclusive_group();
    if (!group.empty()) {
      for (int peer : catalog.groups().at(group)) take[peer] = true;
    }
  }
  PolicyCatalog sub;
  placement->to_sub_.assign(policies.size(), -1);
  for (size_t p = 0; p < policies.size(); ++p) {
    if (!take[p]) continue;
    placement->to_sub_[p] = sub.policy_size();
    *sub.add_policy() = policies[p].policy;
  }
  if (sub.policy_size() > 0 && store != nullptr) {
    Diagnostics diags;
    absl::StatusOr<Catalog> limits = Catalog::FromProtos(catalog.shared_taxonomy(), {sub}, &diags);
    if (!limits.ok()) return limits.status();
    placement->sub_catalog_ = std::move(*limits);
  }
  return placement;
}

std::shared_ptr<const BulkResult> LimitPlacement::Ranking(absl::CivilDay as_of) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rankings_.find(as_of);
  if (it != rankings_.end()) return it->second;
  absl::StatusOr<BulkMatcher> m = BulkMatcher::Create(*sub_catalog_, *store_);
  if (!m.ok()) return nullptr;
  auto result = std::make_shared<const BulkResult>(m->Match(as_of, threads_));
  if (rankings_.size() >= 4) rankings_.erase(rankings_.begin());
  rankings_[as_of] = result;
  return result;
}

void LimitPlacement::Apply(FirmRow row, absl::CivilDay as_of, std::vector<PolicyHit>& hits) const {
  if (!sub_catalog_) return;
  bool needed = false;
  for (const PolicyHit& h : hits) needed = needed || (h.status == ELIGIBLE && limited_[h.policy.value]);
  if (!needed) return;
  std::shared_ptr<const BulkResult> ranked = Ranking(as_of);
  if (ranked == nullptr) return;
  for (PolicyHit& h : hits) {
    if (h.status != ELIGIBLE) continue;  // (read to_sub_ only for the few eligible)
    const int sub = to_sub_[h.policy.value];
    if (sub >= 0 && ranked->policy(sub).not_selected.contains(row.value)) h.status = NOT_SELECTED;
  }
}

}  // namespace polmatch
