// EngineImpl: the state behind polmatch::Engine — a catalog, a snapshot, a region index over
// policies for the single-firm path, and the placement of firms within limited policies — held
// in one immutable State swapped atomically by Reload().
#include <algorithm>
#include <map>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/index/snapshot.h"
#include "engine/ingest/credit_code.h"
#include "engine/ingest/firm.h"
#include "engine/match/bulk_matcher.h"
#include "engine/match/explain.h"
#include "engine/match/reference.h"
#include "engine/util/dates.h"
#include "polmatch/engine.h"

namespace polmatch {
namespace {

// The region a policy's eligibility requires by a top-level `region under "X"` condition; a firm
// outside it is INELIGIBLE (the condition is false and names a non-actionable built-in, so the
// policy cannot be a near miss either) and the policy need not be evaluated.
std::string RegionScope(const CompiledPolicy& p) {
  for (const Node* c : p.conditions) {
    if (c->kind == NodeKind::kUnder && c->children[0]->kind == NodeKind::kBuiltin &&
        c->children[0]->builtin == Builtin::kRegion) {
      return c->text;
    }
  }
  return "";
}

struct State {
  EngineOptions options;
  Catalog catalog;
  std::optional<FirmStore> store;
  // Policies by region scope ("" = unscoped), each list ascending.
  absl::flat_hash_map<std::string, std::vector<int>> by_scope;
  // Limited policies and their exclusive-group peers, as a sub-catalog for placing firms.
  std::optional<Catalog> limits_catalog;
  std::vector<int> limits_to_main;  // sub-catalog index → catalog index

  // NOT_SELECTED rows per as_of (a few recent dates), computed on first need.
  mutable std::mutex placement_mu;
  mutable std::map<absl::CivilDay, std::shared_ptr<const BulkResult>> placements;

  explicit State(Catalog c) : catalog(std::move(c)) {}

  std::vector<int> Candidates(absl::string_view region) const {
    std::vector<int> out;
    auto add = [&](const std::string& scope) {
      auto it = by_scope.find(scope);
      if (it != by_scope.end()) out.insert(out.end(), it->second.begin(), it->second.end());
    };
    add("");
    if (region.size() == 6) {
      add(absl::StrCat(region.substr(0, 2), "0000"));
      if (region.substr(2, 2) != "00") add(absl::StrCat(region.substr(0, 4), "00"));
      if (region.substr(4) != "00") add(std::string(region));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  // Outcomes of every policy (catalog order) for one firm; groups applied; limits not.
  std::vector<Outcome> Evaluate(const FirmView& view) const {
    std::vector<Outcome> out(catalog.policies().size());  // INELIGIBLE by default
    const ReferenceMatcher matcher(catalog);
    for (int p : Candidates(view.Region())) {
      const CompiledPolicy& policy = catalog.policies()[p];
      // A false non-actionable top-level condition (industry, credit, park, founding date…) makes
      // the policy INELIGIBLE whatever the rest: it is false, and cannot be a near miss.
      bool gated = false;
      for (size_t c = 0; c < policy.conditions.size() && !gated; ++c) {
        gated = !policy.condition_actionable[c] && policy.ActiveOn(view.AsOf()) &&
                polmatch::Evaluate(*policy.conditions[c], view).is_false();
      }
      if (!gated) out[p] = matcher.EvaluatePolicy(policy, view);
    }
    ApplyExclusiveGroups(catalog, out);
    return out;
  }

  std::shared_ptr<const BulkResult> Placement(absl::CivilDay as_of) const {
    std::lock_guard<std::mutex> lock(placement_mu);
    auto it = placements.find(as_of);
    if (it != placements.end()) return it->second;
    absl::StatusOr<BulkMatcher> m = BulkMatcher::Create(*limits_catalog, *store);
    if (!m.ok()) return nullptr;
    auto result = std::make_shared<const BulkResult>(m->Match(as_of, std::max(1, options.limit_threads)));
    if (placements.size() >= 4) placements.erase(placements.begin());
    placements[as_of] = result;
    return result;
  }

  void ApplyLimits(uint32_t row, absl::CivilDay as_of, std::vector<Outcome>& outcomes) const {
    if (!limits_catalog) return;
    bool needed = false;
    for (int sub = 0; sub < static_cast<int>(limits_to_main.size()); ++sub) {
      const int p = limits_to_main[sub];
      needed = needed || (outcomes[p].status == ELIGIBLE && catalog.policies()[p].policy.limit() > 0);
    }
    if (!needed) return;
    std::shared_ptr<const BulkResult> placed = Placement(as_of);
    if (placed == nullptr) return;
    for (int sub = 0; sub < static_cast<int>(limits_to_main.size()); ++sub) {
      const int p = limits_to_main[sub];
      if (outcomes[p].status == ELIGIBLE && placed->Get(row, sub).status == NOT_SELECTED) {
        outcomes[p].status = NOT_SELECTED;
      }
    }
  }
};

absl::StatusOr<std::shared_ptr<const State>> LoadState(const EngineOptions& options) {
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Catalog::LoadDir(options.rules_dir, &diags);
  if (!catalog.ok()) return catalog.status();
  auto state = std::make_shared<State>(std::move(*catalog));
  state->options = options;
  if (!options.snapshot_path.empty()) {
    absl::StatusOr<FirmStore> store = ReadSnapshotFile(options.snapshot_path, state->catalog.taxonomy());
    if (!store.ok()) return store.status();
    state->store = std::move(*store);
  }
  const auto& policies = state->catalog.policies();
  for (int p = 0; p < static_cast<int>(policies.size()); ++p) {
    state->by_scope[RegionScope(policies[p])].push_back(p);
  }
  // The sub-catalog for limits: limited policies plus their group peers (groups apply first).
  std::vector<bool> take(policies.size(), false);
  for (size_t p = 0; p < policies.size(); ++p) {
    if (policies[p].policy.limit() <= 0) continue;
    take[p] = true;
    const std::string& group = policies[p].policy.exclusive_group();
    if (!group.empty()) {
      for (int peer : state->catalog.groups().at(group)) take[peer] = true;
    }
  }
  PolicyCatalog sub;
  for (size_t p = 0; p < policies.size(); ++p) {
    if (!take[p]) continue;
    *sub.add_policy() = policies[p].policy;
    state->limits_to_main.push_back(static_cast<int>(p));
  }
  if (sub.policy_size() > 0 && state->store) {
    Diagnostics sub_diags;
    absl::StatusOr<Catalog> limits =
        Catalog::FromProtos(state->catalog.shared_taxonomy(), {sub}, &sub_diags);
    if (!limits.ok()) return limits.status();
    state->limits_catalog = std::move(*limits);
  }
  return std::shared_ptr<const State>(std::move(state));
}

class EngineImpl : public Engine {
 public:
  explicit EngineImpl(std::shared_ptr<const State> state) : state_(std::move(state)) {}

  absl::StatusOr<FirmMatches> Match(absl::string_view credit_code,
                                    absl::CivilDay as_of) const override {
    const std::shared_ptr<const State> s = Current();
    absl::StatusOr<Firm> firm = Registered(*s, credit_code);
    if (!firm.ok()) return firm.status();
    const FirmView view(*firm, s->catalog.taxonomy(), as_of);
    std::vector<Outcome> outcomes = s->Evaluate(view);
    s->ApplyLimits(*s->store->FindRow(credit_code), as_of, outcomes);
    return ExplainFirm(s->catalog, view, outcomes, /*trace_ineligible=*/false);
  }

  absl::StatusOr<std::vector<PolicyMatch>> MatchStatuses(absl::string_view credit_code,
                                                         absl::CivilDay as_of) const override {
    const std::shared_ptr<const State> s = Current();
    absl::StatusOr<Firm> firm = Registered(*s, credit_code);
    if (!firm.ok()) return firm.status();
    const FirmView view(*firm, s->catalog.taxonomy(), as_of);
    std::vector<Outcome> outcomes = s->Evaluate(view);
    s->ApplyLimits(*s->store->FindRow(credit_code), as_of, outcomes);
    std::vector<PolicyMatch> out;
    for (size_t p = 0; p < outcomes.size(); ++p) {
      if (outcomes[p].status == INELIGIBLE) continue;
      out.push_back({s->catalog.policies()[p].id(), outcomes[p].status,
                     outcomes[p].benefit ? outcomes[p].benefit->raw() / 10000 : -1});
    }
    return out;
  }

  absl::StatusOr<FirmMatches> Evaluate(const FirmProfile& profile,
                                       absl::CivilDay as_of) const override {
    const std::shared_ptr<const State> s = Current();
    if (static_cast<size_t>(profile.facts_size() + profile.tags_size()) > s->options.max_profile_items) {
      return absl::InvalidArgumentError(absl::StrCat("profile has more than ", s->options.max_profile_items,
                                                     " facts and tags"));
    }
    absl::StatusOr<Firm> firm = FirmFromProfile(profile, s->catalog.taxonomy());
    if (!firm.ok()) return firm.status();
    const FirmView view(*firm, s->catalog.taxonomy(), as_of);
    return ExplainFirm(s->catalog, view, s->Evaluate(view), /*trace_ineligible=*/false);
  }

  absl::StatusOr<PolicyResult> Explain(absl::string_view credit_code, absl::string_view policy_id,
                                       absl::CivilDay as_of) const override {
    const std::shared_ptr<const State> s = Current();
    const int p = s->catalog.IndexOf(policy_id);
    if (p < 0) return absl::NotFoundError(absl::StrCat("unknown policy ", policy_id));
    absl::StatusOr<Firm> firm = Registered(*s, credit_code);
    if (!firm.ok()) return firm.status();
    const FirmView view(*firm, s->catalog.taxonomy(), as_of);
    std::vector<Outcome> outcomes = s->Evaluate(view);
    s->ApplyLimits(*s->store->FindRow(credit_code), as_of, outcomes);
    return ExplainOutcome(s->catalog.policies()[p], s->catalog.taxonomy(), view, outcomes[p]);
  }

  absl::StatusOr<Policy> GetPolicy(absl::string_view policy_id) const override {
    const std::shared_ptr<const State> s = Current();
    const CompiledPolicy* p = s->catalog.Find(policy_id);
    if (p == nullptr) return absl::NotFoundError(absl::StrCat("unknown policy ", policy_id));
    return p->policy;
  }

  absl::Status Reload(const EngineOptions& options) override {
    absl::StatusOr<std::shared_ptr<const State>> next = LoadState(options);
    if (!next.ok()) return next.status();
    std::atomic_store(&state_, *next);
    return absl::OkStatus();
  }

  size_t num_firms() const override {
    const std::shared_ptr<const State> s = Current();
    return s->store ? s->store->num_rows() : 0;
  }
  size_t num_policies() const override { return Current()->catalog.policies().size(); }

 private:
  std::shared_ptr<const State> Current() const { return std::atomic_load(&state_); }

  static absl::StatusOr<Firm> Registered(const State& s, absl::string_view credit_code) {
    absl::Status valid = ValidateCreditCode(credit_code);
    if (!valid.ok()) return valid;
    if (!s.store) return absl::NotFoundError("no firm registry is loaded");
    std::optional<uint32_t> row = s.store->FindRow(credit_code);
    if (!row) return absl::NotFoundError(absl::StrCat("firm ", credit_code, " is not registered"));
    return s.store->ToFirm(*row);
  }

  std::shared_ptr<const State> state_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& options) {
  absl::StatusOr<std::shared_ptr<const State>> state = LoadState(options);
  if (!state.ok()) return state.status();
  return std::unique_ptr<Engine>(new EngineImpl(std::move(*state)));
}

}  // namespace polmatch
