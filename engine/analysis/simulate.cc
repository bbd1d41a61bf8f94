#include "engine/analysis/simulate.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/analysis/catalog_edit.h"
#include "engine/match/bulk_matcher.h"
#include "engine/util/status_macros.h"

namespace polmatch {
namespace {

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Changed policies and every member of their exclusive groups, in either catalog.
std::vector<std::string> AffectedPolicies(const Catalog& baseline, const Catalog& reform,
                                          const std::vector<std::string>& changed) {
  std::set<std::string> out(changed.begin(), changed.end());
  for (bool grew = true; grew;) {
    grew = false;
    for (const Catalog* c : {&baseline, &reform}) {
      for (const std::string& id : std::vector<std::string>(out.begin(), out.end())) {
        const CompiledPolicy* p = c->Find(id);
        if (p == nullptr || p->policy.exclusive_group().empty()) continue;
        for (int member : c->groups().at(p->policy.exclusive_group())) {
          grew = out.insert(c->policies()[member].id()).second || grew;
        }
      }
    }
  }
  return {out.begin(), out.end()};
}

const Roaring& Empty() {
  static const Roaring* empty = new Roaring();
  return *empty;
}

// Accumulates counts into the total and the breakdowns.
class Tally {
 public:
  Tally(const Taxonomy& tax, const FirmStore& store)
      : store_(store), employees_(tax.FindFact("employees")) {}

  // The counters a change of `row` for compared policy `p` adds to.
  void For(int p, uint32_t row, std::vector<SimulationCounts*>* out) {
    out->clear();
    out->push_back(&total_);
    out->push_back(&by_policy_[p]);
    out->push_back(&by_city_[CityOf(row)]);
    out->push_back(&by_section_[SectionOf(row)]);
    out->push_back(&by_size_[SizeOf(row)]);
  }

  SimulationCounts total_;
  std::map<int, SimulationCounts> by_policy_;
  std::map<std::string, SimulationCounts> by_city_;
  std::map<std::string, SimulationCounts> by_section_;
  std::map<std::string, SimulationCounts> by_size_;

 private:
  std::string CityOf(uint32_t row) const {
    absl::string_view region = store_.region(row);
    if (region.size() != 6) return "?";
    return absl::StrCat(region.substr(0, 4), "00");
  }
  std::string SectionOf(uint32_t row) const {
    absl::string_view industry = store_.industry(row);
    return industry.empty() ? "?" : std::string(industry.substr(0, 1));
  }
  std::string SizeOf(uint32_t row) const {
    return SizeBandKey(employees_ ? store_.fact(row, *employees_) : std::nullopt);
  }

  const FirmStore& store_;
  std::optional<FactId> employees_;
};

const char* SizeLabel(absl::string_view key) {
  if (key == "micro") return "微型 <10人";
  if (key == "small") return "小型 10–99人";
  if (key == "medium") return "中型 100–999人";
  if (key == "large") return "大型 ≥1000人";
  return "从业人数 unknown";
}

}  // namespace

const char* SizeBandKey(const std::optional<Decimal>& employees) {
  if (!employees) return "unknown";
  if (*employees < *Decimal::FromInt(10)) return "micro";
  if (*employees < *Decimal::FromInt(100)) return "small";
  if (*employees < *Decimal::FromInt(1000)) return "medium";
  return "large";
}

absl::StatusOr<Simulation> Simulate(const Catalog& baseline, const Catalog& reform,
                                    const std::vector<std::string>& changed, const FirmStore& store,
                                    const SimulationOptions& options, Diagnostics* diags) {
  Simulation sim;
  sim.as_of = options.as_of;
  sim.firms = store.num_rows();
  sim.changed = changed;
  sim.compared = AffectedPolicies(baseline, reform, changed);

  std::vector<std::string> in_baseline, in_reform;
  for (const std::string& id : sim.compared) {
    if (baseline.Find(id)) in_baseline.push_back(id);
    if (reform.Find(id)) in_reform.push_back(id);
  }
  ASSIGN_OR_RETURN(Catalog before_catalog, SelectPolicies(baseline, in_baseline, diags));
  ASSIGN_OR_RETURN(Catalog after_catalog, SelectPolicies(reform, in_reform, diags));

  auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(BulkMatcher before_matcher, BulkMatcher::Create(before_catalog, store));
  const BulkResult before = before_matcher.Match(options.as_of, options.threads);
  sim.baseline_seconds = Since(start);
  start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(BulkMatcher after_matcher, BulkMatcher::Create(after_catalog, store));
  const BulkResult after = after_matcher.Match(options.as_of, options.threads);
  sim.reform_seconds = Since(start);
  start = std::chrono::steady_clock::now();

  Tally tally(reform.taxonomy(), store);
  Roaring affected_firms;
  std::vector<SimulationCounts*> targets;
  for (size_t p = 0; p < sim.compared.size(); ++p) {
    const int b = before_catalog.IndexOf(sim.compared[p]);
    const int a = after_catalog.IndexOf(sim.compared[p]);
    const BulkPolicyResult* rb = b >= 0 ? &before.policy(b) : nullptr;
    const BulkPolicyResult* ra = a >= 0 ? &after.policy(a) : nullptr;
    const Roaring& eb = rb ? rb->eligible : Empty();
    const Roaring& ea = ra ? ra->eligible : Empty();
    const int pi = static_cast<int>(p);
    tally.by_policy_[pi];  // every compared policy gets a row

    // Benefit totals: every ELIGIBLE row of each side.
    auto add_benefits = [&](const BulkPolicyResult* r, const Roaring& eligible, bool is_after) {
      if (r == nullptr) return;
      for (size_t i = 0; i < r->benefit_rows.size(); ++i) {
        const uint32_t row = r->benefit_rows[i];
        if (!eligible.contains(row)) continue;
        tally.For(pi, row, &targets);
        for (SimulationCounts* c : targets) {
          (is_after ? c->benefit_after : c->benefit_before).Add(r->benefits[i]);
        }
      }
    };
    add_benefits(rb, eb, false);
    add_benefits(ra, ea, true);

    const Roaring gained = ea - eb;
    const Roaring lost = eb - ea;
    const Roaring kept = ea & eb;
    for (uint32_t row : gained) {
      tally.For(pi, row, &targets);
      for (SimulationCounts* c : targets) ++c->newly_eligible;
    }
    for (uint32_t row : lost) {
      tally.For(pi, row, &targets);
      for (SimulationCounts* c : targets) ++c->newly_ineligible;
    }
    affected_firms |= gained;
    affected_firms |= lost;
    for (uint32_t row : kept) {
      const bool amount_changed = rb->Benefit(row) != ra->Benefit(row);
      tally.For(pi, row, &targets);
      for (SimulationCounts* c : targets) {
        ++c->unchanged;
        if (amount_changed) ++c->amount_changed;
      }
      if (amount_changed) affected_firms.add(row);
    }
  }
  sim.firms_affected = static_cast<int64_t>(affected_firms.cardinality());
  sim.total = tally.total_;
  const Taxonomy& tax = reform.taxonomy();
  for (const auto& [p, counts] : tally.by_policy_) {
    const CompiledPolicy* policy = reform.Find(sim.compared[p]);
    if (policy == nullptr) policy = baseline.Find(sim.compared[p]);
    sim.by_policy.push_back({sim.compared[p], policy->policy.title(), counts});
  }
  for (const auto& [city, counts] : tally.by_city_) {
    std::string label(tax.RegionName(city));
    if (label.empty() && city.size() == 6) {
      label = absl::StrCat(tax.RegionName(absl::StrCat(city.substr(0, 2), "0000")), " ", city);
    }
    sim.by_city.push_back({city, label, counts});
  }
  for (const auto& [section, counts] : tally.by_section_) {
    sim.by_section.push_back({section, section == "?" ? "industry unknown"
                                                      : std::string(tax.IndustryName(section)),
                              counts});
  }
  for (const char* key : {"micro", "small", "medium", "large", "unknown"}) {
    auto it = tally.by_size_.find(key);
    if (it != tally.by_size_.end()) sim.by_size.push_back({key, SizeLabel(key), it->second});
  }
  sim.compare_seconds = Since(start);
  return sim;
}

}  // namespace polmatch
