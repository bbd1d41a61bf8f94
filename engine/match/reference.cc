#include "engine/match/reference.h"

#include <algorithm>
#include <numeric>

namespace polmatch {

Outcome ReferenceMatcher::EvaluatePolicy(const CompiledPolicy& p, const FirmEnv& env) const {
  Outcome out;
  if (!p.ActiveOn(env.AsOf()) || !p.eligibility) return out;  // INELIGIBLE
  const Value e = Evaluate(*p.eligibility, env);
  if (e.is_true()) {
    std::optional<Decimal> benefit;
    if (p.benefit) {
      const Value b = Evaluate(*p.benefit, env);
      if (!b.is_unknown()) {
        benefit = b.number.is_negative() ? Decimal() : b.number.RoundHalfUp(2);
      }
    }
    if (p.auto_grant() && p.benefit && !benefit) {  // a stated amount that cannot be computed
      out.status = UNDETERMINED;
      return out;
    }
    out.status = ELIGIBLE;
    out.benefit = benefit;
    if (p.rank_by) {
      const Value r = Evaluate(*p.rank_by, env);
      if (!r.is_unknown()) out.rank = r.number;
    }
    return out;
  }
  if (e.is_unknown()) {
    out.status = UNDETERMINED;
    return out;
  }
  // False: a near miss when, of two or more top-level conditions, exactly one is false, it is
  // actionable, and all others are true.
  if (p.conditions.size() >= 2) {
    int false_count = 0, true_count = 0, false_index = -1;
    for (size_t i = 0; i < p.conditions.size(); ++i) {
      const Value v = Evaluate(*p.conditions[i], env);
      if (v.is_false()) {
        ++false_count;
        false_index = static_cast<int>(i);
      } else if (v.is_true()) {
        ++true_count;
      }
    }
    if (false_count == 1 && true_count + 1 == static_cast<int>(p.conditions.size()) &&
        p.condition_actionable[false_index]) {
      out.status = NEAR_MISS;
      return out;
    }
  }
  out.status = INELIGIBLE;
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
      if (b && (!w || *b > *w)) winner = i;
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
      if (ra.has_value() != rb.has_value()) return ra.has_value();
      if (ra && *ra != *rb) return *ra > *rb;
      return *codes[a] < *codes[b];
    });
    for (size_t k = limit; k < eligible.size(); ++k) outcomes[eligible[k]][p].status = NOT_SELECTED;
  }
}

}  // namespace polmatch
