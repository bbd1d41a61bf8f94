#include "engine/analysis/cultivation_path.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/graph/adjacency_list.hpp"
#include "boost/graph/breadth_first_search.hpp"
#include "boost/graph/visitors.hpp"
#include "engine/match/reference.h"

namespace polmatch {
namespace {

using StateGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
using State = StateGraph::vertex_descriptor;

// A firm's standing in one state: its ELIGIBLE policies and their known benefit total.
struct Standing {
  std::vector<bool> eligible;  // by catalog index
  std::vector<std::optional<Decimal>> benefit;
  YuanTotal total;
  int count = 0;
};

Standing Evaluate(const ReferenceMatcher& matcher, const Firm& firm, const Taxonomy& tax,
                  absl::CivilDay as_of) {
  const std::vector<Outcome> outcomes = matcher.EvaluateFirm(FirmView(firm, tax, as_of));
  Standing s;
  s.eligible.resize(outcomes.size());
  s.benefit.resize(outcomes.size());
  for (size_t p = 0; p < outcomes.size(); ++p) {
    if (outcomes[p].status != ELIGIBLE) continue;
    s.eligible[p] = true;
    s.benefit[p] = outcomes[p].benefit;
    ++s.count;
    if (outcomes[p].benefit) s.total.Add(*outcomes[p].benefit);
  }
  return s;
}

// `firm` holding, in addition, the qualifications of `state` from `as_of` on.
Firm WithTags(const Firm& firm, const std::vector<TagId>& steps, uint32_t state,
              absl::CivilDay as_of) {
  Firm f = firm;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (state & (1u << i)) {
      f.tags.push_back({steps[i], as_of, std::nullopt, "hypothetical: cultivation path"});
    }
  }
  return f;
}

UnlockedPolicy Describe(const CompiledPolicy& p, const std::optional<Decimal>& benefit) {
  UnlockedPolicy u;
  u.id = p.id();
  u.title = p.policy.title();
  u.auto_grant = p.auto_grant();
  u.benefit = benefit;
  u.note = p.policy.benefit_note();
  return u;
}

// Better standing: more money, then more policies.
bool Better(const Standing& a, const Standing& b) {
  if (a.total.raw() != b.total.raw()) return a.total.raw() > b.total.raw();
  return a.count > b.count;
}

}  // namespace

absl::StatusOr<CultivationPath> FindCultivationPath(const Catalog& catalog, const Firm& firm,
                                                    const PathOptions& options) {
  const Taxonomy& tax = catalog.taxonomy();
  CultivationPath path;
  std::vector<TagId> all_steps;
  for (const Ladder& ladder : tax.ladders()) {
    if (!options.ladder.empty() && ladder.id() != options.ladder) continue;
    path.ladders.push_back(ladder.id());
    for (const std::string& step : ladder.step()) {
      std::optional<TagId> t = tax.FindTag(step);
      if (!t) return absl::InvalidArgumentError(absl::StrCat("ladder ", ladder.id(), ": unknown tag ", step));
      if (std::find(all_steps.begin(), all_steps.end(), *t) == all_steps.end()) all_steps.push_back(*t);
    }
  }
  if (path.ladders.empty()) {
    return absl::NotFoundError(options.ladder.empty()
                                   ? std::string("the tag library declares no ladder")
                                   : absl::StrCat("unknown ladder ", options.ladder));
  }
  const FirmView now(firm, tax, options.as_of);
  std::vector<TagId> steps;  // not held yet, ladder order
  for (TagId t : all_steps) {
    path.steps_considered.push_back(tax.tag(t).id);
    if (now.HoldsTag(t)) {
      path.held.push_back(tax.tag(t).id);
    } else {
      steps.push_back(t);
    }
  }
  if (static_cast<int>(steps.size()) > options.max_unheld) {
    return absl::InvalidArgumentError(absl::StrCat(steps.size(), " ladder qualifications to search; at most ",
                                                   options.max_unheld));
  }

  // The hypercube of obtained-qualification sets; edges add one, in ladder order.
  const uint32_t num_states = 1u << steps.size();
  StateGraph graph(num_states);
  for (uint32_t s = 0; s < num_states; ++s) {
    for (size_t i = 0; i < steps.size(); ++i) {
      if (!(s & (1u << i))) boost::add_edge(s, s | (1u << i), graph);
    }
  }
  std::vector<State> predecessor(num_states);
  std::vector<int> distance(num_states, 0);
  predecessor[0] = 0;
  boost::breadth_first_search(
      graph, State{0},
      boost::visitor(boost::make_bfs_visitor(
          std::make_pair(boost::record_predecessors(predecessor.data(), boost::on_tree_edge()),
                         boost::record_distances(distance.data(), boost::on_tree_edge())))));

  const ReferenceMatcher matcher(catalog);
  std::vector<Standing> standing;
  standing.reserve(num_states);
  for (uint32_t s = 0; s < num_states; ++s) {
    standing.push_back(Evaluate(matcher, WithTags(firm, steps, s, options.as_of), tax, options.as_of));
  }
  path.states = static_cast<int>(num_states);
  path.start_total = standing[0].total;
  path.start_eligible = standing[0].count;

  // The best standing with the fewest steps; ties: the numerically smallest set (lower steps).
  uint32_t best = 0;
  for (uint32_t s = 1; s < num_states; ++s) {
    if (Better(standing[s], standing[best]) ||
        (!Better(standing[best], standing[s]) && distance[s] < distance[best])) {
      best = s;
    }
  }

  std::vector<uint32_t> chain;  // best back to the start
  for (uint32_t s = best; s != 0; s = static_cast<uint32_t>(predecessor[s])) chain.push_back(s);
  std::reverse(chain.begin(), chain.end());
  uint32_t before = 0;
  for (uint32_t s : chain) {
    const uint32_t added = s & ~before;
    const size_t i = static_cast<size_t>(__builtin_ctz(added));
    PathStep step;
    step.tag = tax.tag(steps[i]).id;
    step.tag_name = tax.tag(steps[i]).name;
    const Standing& from = standing[before];
    const Standing& to = standing[s];
    for (size_t p = 0; p < catalog.policies().size(); ++p) {
      if (to.eligible[p] && !from.eligible[p]) step.gained.push_back(Describe(catalog.policies()[p], to.benefit[p]));
      if (from.eligible[p] && !to.eligible[p]) step.lost.push_back(Describe(catalog.policies()[p], from.benefit[p]));
    }
    step.total = to.total;
    step.eligible = to.count;
    path.steps.push_back(std::move(step));
    before = s;
  }
  return path;
}

}  // namespace polmatch
