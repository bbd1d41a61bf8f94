#include "engine/match/reference.h"

#include <algorithm>
#include <numeric>

#include "engine/match/semantics.h"

namespace polmatch {
Outcome ReferenceMatcher::EvaluatePolicy(const CompiledPolicy& p, const FirmEnv& env) const {
  Outcome out;
  if (!p.ActiveOn(env.AsOf()) || !p.eligibility) return out;  // INELIGIBLE
  // The tally of the top-level conditions decides (semantics.h); the eligibility as a whole is
  // their Kleene `and`, so a policy with one condition is tallied from the whole expression.
  semantics::Tally tally;
  if (p.conditions.size() >= 2) {
    for (size_t i = 0; i < p.conditions.size(); ++i) {
      tally.Add(semantics::TruthOf(Evaluate(*p.conditions[i], env)), p.condition_actionable[i]);
    }
  } else {
    tally.Add(semantics::TruthOf(Evaluate(*p.eligibility, env)),
              p.condition_actionable.empty() || p.condition_actionable[0]);
  }
  out.status = semantics::StatusOf(tally);
  if (out.status != ELIGIBLE) return out;
  std::optional<Decimal> benefit;
  if (p.benefit) {
    const Value b = Evaluate(*p.benefit, env);
    if (!b.is_unknown()) benefit = semantics::GrantAmount(b.number);
  }
  out.status = semantics::WithBenefit(out.status, p.auto_grant(), p.benefit != nullptr, benefit.has_value());
  if (out.status != ELIGIBLE) return out;
  out.benefit = benefit;
  if (p.rank_by) {
    const Value r = Evaluate(*p.rank_by, env);
    if (!r.is_unknown()) out.rank = r.number;
  }
  return out;
}

std::vector<Outcome> ReferenceMatcher::EvaluateFirm(const FirmEnv& env) const {
  std::vector<Outcome> out;
  out.reserve(catalog_.policies().size());
  for (const CompiledPolicy& p : catalog_.policies()) out.push_back(EvaluatePolicy(p, env));
  ApplyExclusiveGroups(catalog_, out);
  return out;
}

std::vector<std::vector<Outcome>> ReferenceMatcher::EvaluateAll(const std::vector<Firm>& firms,
                                                                absl::CivilDay as_of) const {
  std::vector<std::vector<Outcome>> out;
  out.reserve(firms.size());
  std::vector<const std::string*> codes;
  for (const Firm& f : firms) {
    FirmView view(f, catalog_.taxonomy(), as_of);
    out.push_back(EvaluateFirm(view));
    codes.push_back(&f.credit_code);
  }
  ApplyLimits(catalog_, codes, out);
  return out;
}

void ApplyExclusiveGroups(const Catalog& catalog, std::vector<Outcome>& outcomes) {
  for (const auto& [name, members] : catalog.groups()) {
    int winner = -1;
    for (int i : members) {  // ascending index = ascending id, so ties keep the smaller id
      if (outcomes[i].status != ELIGIBLE) continue;
      if (winner < 0) {
        winner = i;
        continue;
      }
      const auto& b = outcomes[i].benefit;
      const auto& w = outcomes[winner].benefit;
      if (semantics::BeatsGroupWinner(b.has_value(), b ? b->raw() : 0, w.has_value(), w ? w->raw() : 0)) {
        winner = i;
      }
    }
    for (int i : members) {
      if (i != winner && outcomes[i].status == ELIGIBLE) outcomes[i].status = EXCLUDED;
    }
  }
}

void ApplyLimits(const Catalog& catalog, const std::vector<const std::string*>& codes,
                 std::vector<std::vector<Outcome>>& outcomes) {
  const auto& policies = catalog.policies();
  for (size_t p = 0; p < policies.size(); ++p) {
    const int limit = policies[p].policy.limit();
    if (limit <= 0) continue;
    std::vector<size_t> eligible;
    for (size_t f = 0; f < outcomes.size(); ++f) {
      if (outcomes[f][p].status == ELIGIBLE) eligible.push_back(f);
    }
    if (eligible.size() <= static_cast<size_t>(limit)) continue;
    std::sort(eligible.begin(), eligible.end(), [&](size_t a, size_t b) {
      const auto& ra = outcomes[a][p].rank;
      const auto& rb = outcomes[b][p].rank;
      return semantics::RanksBefore(ra.has_value(), ra ? ra->raw() : 0, *codes[a], rb.has_value(),
                                    rb ? rb->raw() : 0, *codes[b]);
    });
    for (size_t k = limit; k < eligible.size(); ++k) outcomes[eligible[k]][p].status = NOT_SELECTED;
  }
}

}  // namespace polmatch
