// Micro benchmarks of the bitset engine — block kernels (Kleene and/or over 8,192-row blocks,
// threshold, ratio, industry, tag and years_between predicates over a block) — and the bulk
// matcher on the S1 scenario of bench/README.md (1,000,000 firms × 1,000 policies) with the reference
// evaluator on 1,000 of the same firms for the ratio. Two S1 workloads:
//   S1     synthetic, built here: Zipf regions over real county codes of six provinces, log-normal
//          revenue and employees, ~10% missing facts, tags at real rates with validity windows;
//          policies ~70% city/county, ~25% province, ~5% national scoped with 2–8 conditions,
//          ~30% AUTO_GRANT (fixed, capped ratio, tier), ~10% exclusive groups, a few limits.
//   S1Gen  the project's generator (`polmatch gen`, seed 1), firms read back from JSON Lines.
// Counters: eval/finish wall and CPU milliseconds (CPU is the figure to trust on a busy machine),
// pairs/s, (policy, block) and (node, block) evaluations, Roaring result size.
//
//   polmatch_bench --benchmark_filter='BM_BulkMatchS1Gen|BM_ReferenceS1Gen' --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/catalog/catalog.h"
#include "engine/gen/firm_generator.h"
#include "engine/gen/policy_generator.h"
#include "engine/index/bitset.h"
#include "engine/ingest/firm_reader.h"
#include "engine/index/firm_store.h"
#include "engine/match/bulk_matcher.h"
#include "engine/match/plan_eval.h"
#include "engine/match/reference.h"
#include "engine/util/dates.h"

namespace polmatch {
namespace {

const absl::CivilDay kAsOf(2025, 6, 30);

std::shared_ptr<const Taxonomy> LoadTaxonomy() {
  static std::shared_ptr<const Taxonomy> tax = [] {
    Diagnostics diags;
    absl::StatusOr<Taxonomy> t =
        Taxonomy::LoadDir(std::string(POLMATCH_SOURCE_DIR) + "/rules/taxonomy", &diags);
    if (!t.ok()) {
      std::fprintf(stderr, "cannot load taxonomy: %s\n", std::string(t.status().message()).c_str());
      std::abort();
    }
    return std::make_shared<const Taxonomy>(std::move(*t));
  }();
  return tax;
}

// ---- Synthetic S1 workload -------------------------------------------------------------------

struct Geography {
  std::vector<std::string> counties;  // of the chosen provinces, in file order
  std::vector<double> cumulative;     // Zipf weights
};

Geography LoadGeography() {
  Geography g;
  std::ifstream in(std::string(POLMATCH_SOURCE_DIR) + "/rules/taxonomy/regions.textproto");
  std::string line;
  const std::vector<std::string> provinces = {"44", "42", "41", "32", "33", "51"};
  while (std::getline(in, line)) {
    const size_t at = line.find("code: \"");
    if (at == std::string::npos) continue;
    const std::string code = line.substr(at + 7, 6);
    if (code.substr(4) == "00") continue;
    for (const std::string& p : provinces) {
      if (code.compare(0, 2, p) == 0) g.counties.push_back(code);
    }
  }
  // Zipf over a shuffled order, so big cities are not just the first listed.
  std::mt19937_64 rng(7);
  std::shuffle(g.counties.begin(), g.counties.end(), rng);
  double total = 0;
  for (size_t i = 0; i < g.counties.size(); ++i) {
    total += 1.0 / std::pow(i + 1.0, 0.9);
    g.cumulative.push_back(total);
  }
  for (double& c : g.cumulative) c /= total;
  return g;
}

std::string Pick(const Geography& g, double u) {
  return g.counties[std::lower_bound(g.cumulative.begin(), g.cumulative.end(), u) - g.cumulative.begin()];
}

struct Workload {
  std::shared_ptr<const Taxonomy> taxonomy;
  std::vector<Firm> firms;
  std::unique_ptr<Catalog> catalog;
  std::unique_ptr<FirmStore> store;
  std::unique_ptr<BulkMatcher> matcher;
};

std::vector<Firm> MakeFirms(const Taxonomy& tax, const Geography& geo, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u01(0, 1);
  std::normal_distribution<double> normal(0, 1);
  const char* const kIndustries[] = {"C13", "C26", "C2611", "C2621", "C27", "C30", "C39", "C39",
                                     "C13", "C17", "F51", "F51", "F52", "F51", "I65", "I6513",
                                     "M73", "M75", "L72", "E47"};
  struct TagRate {
    const char* id;
    double rate;
    int years;  // validity length; 0 = open
  };
  const TagRate kTags[] = {{"qual.hitech", 0.02, 3},        {"qual.sme_tech", 0.04, 1},
                           {"qual.specialized", 0.01, 3},   {"stat.above_scale", 0.06, 0},
                           {"credit.blacklist", 0.03, 0},   {"credit.abnormal", 0.05, 0},
                           {"qual.hitech_reserve", 0.01, 2}, {"org.eng_center.city", 0.005, 0},
                           {"org.eng_center.province", 0.002, 0}, {"org.new_rd_institution.enterprise", 0.002, 0},
                           {"park.hitech_zone", 0.03, 0},   {"org.incubator", 0.001, 0}};
  const FactId revenue = *tax.FindFact("revenue"), employees = *tax.FindFact("employees"),
               rd = *tax.FindFact("rd_expense"), tax_paid = *tax.FindFact("tax_paid"),
               patents = *tax.FindFact("invention_patents"), last = *tax.FindFact("revenue_last_year");
  std::vector<Firm> firms(n);
  for (int i = 0; i < n; ++i) {
    Firm& f = firms[i];
    f.region = Pick(geo, u01(rng));
    char code[32];
    std::snprintf(code, sizeof(code), "91%s%010d", f.region.c_str(), i);
    f.credit_code = code;
    f.name = absl::StrCat("企业", i);
    f.industry = kIndustries[rng() % 20];
    f.founded = kAsOf - static_cast<int>(rng() % (365 * 25));
    f.facts.assign(tax.num_facts(), std::nullopt);
    auto set = [&](FactId id, double yuan) {
      if (u01(rng) < 0.1) return;  // ~10% missing
      f.facts[id.value] = Decimal::FromRawUnchecked(static_cast<int64_t>(yuan) * Decimal::kOne);
    };
    const double rev = std::exp(std::log(3e6) + 1.5 * normal(rng));
    set(revenue, std::min(rev, 5e11));
    set(last, std::min(rev * std::exp(0.2 * normal(rng)), 5e11));
    set(employees, std::max(1.0, std::exp(std::log(15.0) + 1.1 * normal(rng))));
    set(tax_paid, rev * 0.03);
    if (u01(rng) < 0.33) set(rd, rev * (0.01 + 0.08 * u01(rng)));
    if (u01(rng) < 0.2) set(patents, std::floor(std::exp(1.0 + normal(rng))));
    for (const TagRate& t : kTags) {
      if (u01(rng) >= t.rate) continue;
      TagGrantRecord g;
      g.tag = *tax.FindTag(t.id);
      if (t.years > 0) {
        g.valid_from = kAsOf - static_cast<int>(rng() % (365 * t.years + 200));
        g.valid_to = *g.valid_from + 365 * t.years;
      }
      f.tags.push_back(g);
    }
  }
  return firms;
}

PolicyCatalog MakePolicies(const Geography& geo, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u01(0, 1);
  const char* const kFacts[] = {"revenue", "revenue_last_year", "employees", "rd_expense",
                                "tax_paid", "invention_patents"};
  const char* const kAmounts[] = {"100万", "500万", "1000万", "2000万", "5000万", "1亿", "2亿"};
  const char* const kCounts[] = {"10", "20", "50", "100", "300"};
  const char* const kQuals[] = {"qual.hitech", "qual.sme_tech", "qual.specialized",
                                "stat.above_scale", "qual.hitech_reserve", "org.eng_center",
                                "park.hitech_zone", "org.new_rd_institution"};
  const char* const kSections[] = {"C", "F", "I", "M", "C26", "C39", "I65"};
  PolicyCatalog catalog;
  for (int i = 0; i < n; ++i) {
    Policy* p = catalog.add_policy();
    p->set_id(absl::StrFormat("bench.%04d", i));
    p->set_title(absl::StrCat("政策", i));
    std::vector<std::string> conds;
    const double scope = u01(rng);
    const std::string county = Pick(geo, u01(rng));
    if (scope < 0.35) {
      conds.push_back(absl::StrCat("region under \"", county, "\""));
    } else if (scope < 0.70) {
      conds.push_back(absl::StrCat("region under \"", county.substr(0, 4), "00\""));
    } else if (scope < 0.95) {
      conds.push_back(absl::StrCat("region under \"", county.substr(0, 2), "0000\""));
    }
    const int extra = 1 + static_cast<int>(rng() % 7);
    for (int k = 0; k < extra && conds.size() < 8; ++k) {
      const double kind = u01(rng);
      if (kind < 0.25) {
        conds.push_back(kQuals[rng() % 8]);
      } else if (kind < 0.35) {
        conds.push_back(u01(rng) < 0.5 ? "not credit.blacklist" : "not credit.abnormal");
      } else if (kind < 0.45) {
        conds.push_back(absl::StrCat("industry under \"", kSections[rng() % 7], "\""));
      } else if (kind < 0.80) {
        const char* fact = kFacts[rng() % 6];
        const bool count = std::string(fact) == "employees" || std::string(fact) == "invention_patents";
        conds.push_back(absl::StrCat(fact, u01(rng) < 0.8 ? " >= " : " < ",
                                     count ? kCounts[rng() % 5] : kAmounts[rng() % 7]));
      } else if (kind < 0.90) {
        conds.push_back(absl::StrCat("(", kQuals[rng() % 8], " or ", kQuals[rng() % 8], ")"));
      } else if (kind < 0.95) {
        conds.push_back("rd_expense / revenue >= 3%");
      } else {
        conds.push_back("years_between(founded, as_of) >= 2");
      }
    }
    p->set_eligibility(absl::StrJoin(conds, " and "));
    const double mode = u01(rng);
    if (mode < 0.3) {
      p->set_mode(Policy::AUTO_GRANT);
      switch (rng() % 3) {
        case 0: p->set_benefit(kAmounts[rng() % 3]); break;
        case 1: p->set_benefit("min(rd_expense * 20%, 200万)"); break;
        default: p->set_benefit("tier(revenue, 1000万, 10万, 1亿, 30万, 5亿, 50万)"); break;
      }
    } else if (mode < 0.5) {
      p->set_benefit("min(revenue * 1%, 100万)");
    }
    p->set_valid_from("2025-01-01");
    p->set_valid_to("2025-12-31");
    if (u01(rng) < 0.1) p->set_exclusive_group(absl::StrCat("g", rng() % 30));
    if (u01(rng) < 0.02) {
      p->set_limit(50);
      p->set_rank_by("revenue");
    }
  }
  return catalog;
}

Workload& S1() {
  static Workload* w = [] {
    auto* w = new Workload;
    w->taxonomy = LoadTaxonomy();
    const Geography geo = LoadGeography();
    w->firms = MakeFirms(*w->taxonomy, geo, 1000000, 1);
    Diagnostics diags;
    absl::StatusOr<Catalog> catalog = Catalog::FromProtos(w->taxonomy, {MakePolicies(geo, 1000, 2)}, &diags);
    if (!catalog.ok()) {
      std::fprintf(stderr, "catalog: %s\n", std::string(catalog.status().message()).c_str());
      std::abort();
    }
    w->catalog = std::make_unique<Catalog>(std::move(*catalog));
    w->store = std::make_unique<FirmStore>(std::move(*FirmStore::Build(w->firms, *w->taxonomy)));
    w->matcher = std::make_unique<BulkMatcher>(std::move(*BulkMatcher::Create(*w->catalog, *w->store)));
    return w;
  }();
  return *w;
}

// The same scenario from the project's own generator (`polmatch gen`): 1,000,000 firms and
// 1,000 policies, seed 1, its default provinces and as_of.
Workload& S1Gen() {
  static Workload* w = [] {
    auto* w = new Workload;
    w->taxonomy = LoadTaxonomy();
    gen::GenOptions options;
    options.seed = 1;
    absl::StatusOr<gen::FirmGenerator> firms = gen::FirmGenerator::Create(*w->taxonomy, options);
    absl::StatusOr<PolicyCatalog> policies = gen::GeneratePolicyCatalog(*w->taxonomy, 1000, options);
    if (!firms.ok() || !policies.ok()) {
      std::fprintf(stderr, "gen failed\n");
      std::abort();
    }
    std::string jsonl;
    for (int i = 0; i < 1000000; ++i) firms->AppendNext(&jsonl);
    std::istringstream in(jsonl);
    absl::Status read = ReadFirms(in, "gen.jsonl", FirmFormat::kJsonLines, *w->taxonomy,
                                  [&](Firm&& f, int) { w->firms.push_back(std::move(f)); }, nullptr, nullptr);
    Diagnostics diags;
    absl::StatusOr<Catalog> catalog = Catalog::FromProtos(w->taxonomy, {*policies}, &diags);
    if (!read.ok() || !catalog.ok()) {
      std::fprintf(stderr, "gen data: %s %s\n", std::string(read.message()).c_str(),
                   std::string(catalog.status().message()).c_str());
      std::abort();
    }
    w->catalog = std::make_unique<Catalog>(std::move(*catalog));
    w->store = std::make_unique<FirmStore>(std::move(*FirmStore::Build(w->firms, *w->taxonomy)));
    w->matcher = std::make_unique<BulkMatcher>(std::move(*BulkMatcher::Create(*w->catalog, *w->store)));
    return w;
  }();
  return *w;
}

// ---- Kernels ---------------------------------------------------------------------------------

void BM_KleeneAnd5(benchmark::State& state) {
  std::mt19937_64 rng(1);
  std::vector<uint64_t> words(10 * kBlockWords);
  for (uint64_t& w : words) w = rng();
  const uint64_t* ts[5];
  const uint64_t* fs[5];
  for (int i = 0; i < 5; ++i) {
    ts[i] = &words[2 * i * kBlockWords];
    fs[i] = &words[(2 * i + 1) * kBlockWords];
  }
  alignas(64) uint64_t t[kBlockWords], f[kBlockWords];
  for (auto _ : state) {
    KleeneAnd(ts, fs, 5, t, f);
    benchmark::DoNotOptimize(t);
    benchmark::DoNotOptimize(f);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kBlockRows);
}
BENCHMARK(BM_KleeneAnd5);

void BM_AndPopcount(benchmark::State& state) {
  std::mt19937_64 rng(2);
  std::vector<uint64_t> a(kBlockWords), b(kBlockWords);
  for (size_t i = 0; i < kBlockWords; ++i) {
    a[i] = rng();
    b[i] = rng();
  }
  for (auto _ : state) {
    size_t c = 0;
    for (size_t w = 0; w < kBlockWords; ++w) c += PopCount(a[w] & b[w]);
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(state.iterations() * kBlockRows);
}
BENCHMARK(BM_AndPopcount);

// One predicate node through the block evaluator: `fact >= threshold` (or an arithmetic one).
void PredicateBench(benchmark::State& state, const std::string& rule) {
  Workload& w = S1();
  PolicyCatalog msg;
  Policy* p = msg.add_policy();
  p->set_id("bench.one");
  p->set_title("one");
  p->set_eligibility(rule);
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Catalog::FromProtos(w.taxonomy, {msg}, &diags);
  absl::StatusOr<MatchPlan> plan = MatchPlan::Compile(*catalog, *w.store);
  BlockEvaluator ev(*plan, *w.store, kAsOf);
  const int32_t root = plan->policies()[0].eligibility;
  uint32_t block = 0;
  for (auto _ : state) {
    ev.SetBlock(block);
    benchmark::DoNotOptimize(ev.Bool(root).t);
    block = (block + 1) % w.store->num_blocks();
  }
  state.SetItemsProcessed(state.iterations() * kBlockRows);
}
void BM_ThresholdPredicate(benchmark::State& state) { PredicateBench(state, "revenue >= 1000万"); }
BENCHMARK(BM_ThresholdPredicate);
void BM_RatioPredicate(benchmark::State& state) { PredicateBench(state, "rd_expense / revenue >= 3%"); }
BENCHMARK(BM_RatioPredicate);
void BM_IndustryPredicate(benchmark::State& state) { PredicateBench(state, "industry under \"C\""); }
BENCHMARK(BM_IndustryPredicate);
void BM_YearsPredicate(benchmark::State& state) {
  PredicateBench(state, "years_between(founded, as_of) >= 2");
}
BENCHMARK(BM_YearsPredicate);
void BM_TagPredicate(benchmark::State& state) { PredicateBench(state, "qual.hitech"); }
BENCHMARK(BM_TagPredicate);

// ---- S1 --------------------------------------------------------------------------------------

void MatchBench(benchmark::State& state, Workload& w) {
  const double pairs = double(w.store->num_rows()) * w.catalog->policies().size();
  int64_t count[7] = {};
  double evaluate = 0, finish = 0, evaluate_cpu = 0, finish_cpu = 0, busiest = 0;
  for (auto _ : state) {
    BulkResult r = w.matcher->Match(kAsOf, static_cast<int>(state.range(0)));
    std::fill(count, count + 7, 0);
    for (int p = 0; p < r.num_policies(); ++p) {
      for (int s = 0; s < 7; ++s) count[s] += r.policy(p).count[s];
    }
    evaluate += r.stats().evaluate_seconds;
    finish += r.stats().finish_seconds;
    evaluate_cpu += r.stats().evaluate_cpu_seconds;
    finish_cpu += r.stats().finish_cpu_seconds;
    busiest += r.stats().evaluate_max_thread_cpu_seconds;
    benchmark::DoNotOptimize(r);
  }
  {
    BulkResult r = w.matcher->Match(kAsOf, 1);
    state.counters["policy_blocks"] = static_cast<double>(r.stats().policy_blocks);
    state.counters["node_blocks"] = static_cast<double>(r.stats().node_blocks);
    double bytes = 0;
    for (int p = 0; p < r.num_policies(); ++p) {
      for (MatchStatus s : {ELIGIBLE, UNDETERMINED, NEAR_MISS, EXCLUDED, NOT_SELECTED}) {
        bytes += r.policy(p).rows(s)->getSizeInBytes();
      }
    }
    state.counters["roaring_MB"] = bytes / 1e6;
  }
  state.counters["eval_ms"] = 1000 * evaluate / state.iterations();
  state.counters["finish_ms"] = 1000 * finish / state.iterations();
  state.counters["eval_cpu_ms"] = 1000 * evaluate_cpu / state.iterations();
  state.counters["finish_cpu_ms"] = 1000 * finish_cpu / state.iterations();
  state.counters["eval_busiest_thread_cpu_ms"] = 1000 * busiest / state.iterations();
  state.counters["undetermined"] = static_cast<double>(count[UNDETERMINED]);
  state.counters["near_miss"] = static_cast<double>(count[NEAR_MISS]);
  const int64_t eligible = count[ELIGIBLE];
  state.counters["pairs/s"] = benchmark::Counter(pairs, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["eligible"] = static_cast<double>(eligible);
}
void BM_BulkMatchS1(benchmark::State& state) { MatchBench(state, S1()); }
BENCHMARK(BM_BulkMatchS1)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
void BM_BulkMatchS1Gen(benchmark::State& state) { MatchBench(state, S1Gen()); }
BENCHMARK(BM_BulkMatchS1Gen)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CompileS1(benchmark::State& state) {
  Workload& w = S1();
  for (auto _ : state) benchmark::DoNotOptimize(BulkMatcher::Create(*w.catalog, *w.store));
  state.counters["nodes"] = w.matcher->plan().nodes().size();
  state.counters["bool_slots"] = w.matcher->plan().num_bool_slots();
}
BENCHMARK(BM_CompileS1)->Unit(benchmark::kMillisecond);

// The reference evaluator on the first 1,000 firms (all 1,000 policies), single thread.
void ReferenceBench(benchmark::State& state, Workload& w) {
  std::vector<Firm> subset(w.firms.begin(), w.firms.begin() + 1000);
  ReferenceMatcher reference(*w.catalog);
  const double pairs = double(subset.size()) * w.catalog->policies().size();
  for (auto _ : state) benchmark::DoNotOptimize(reference.EvaluateAll(subset, kAsOf));
  state.counters["pairs/s"] = benchmark::Counter(pairs, benchmark::Counter::kIsIterationInvariantRate);
}
void BM_ReferenceS1(benchmark::State& state) { ReferenceBench(state, S1()); }
BENCHMARK(BM_ReferenceS1)->Unit(benchmark::kMillisecond);
void BM_ReferenceS1Gen(benchmark::State& state) { ReferenceBench(state, S1Gen()); }
BENCHMARK(BM_ReferenceS1Gen)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace polmatch

BENCHMARK_MAIN();
