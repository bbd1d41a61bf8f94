// Differential test of the bulk matcher: random catalogs (every operator and function of SPEC §3,
// both modes, validity windows, exclusive groups, limits with rank_by) × random firms (missing
// facts, values near ±9×10¹², tag grants with validity around as_of, hierarchy tags, several
// regions and industries), evaluated by BulkMatcher and by ReferenceMatcher::EvaluateAll; every
// (firm, policy) status and benefit must agree.
#include <cstdint>
#include <sstream>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/match/bulk_matcher.h"
#include "engine/match/plan_eval.h"
#include "engine/match/policy_index.h"
#include "engine/match/reference.h"
#include "engine/util/dates.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/random_catalog.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using testing::MakeFirm;
using testing::MakeProfile;
using testing::RealTaxonomy;

using testing::Gen;

std::string DescribeOutcome(const Outcome& o) {
  return absl::StrCat(MatchStatus_Name(o.status), o.benefit ? absl::StrCat(" benefit=", o.benefit->ToString()) : "");
}

struct RunStats {
  int64_t pairs = 0;
  int64_t by_status[7] = {};
};

// A differential run proves something only if it compared the pairs it meant to and the random
// catalogs reached every status: a generator change that made every pair INELIGIBLE would
// otherwise pass silently.
void ExpectNotVacuous(const RunStats& stats, int64_t expected_pairs) {
  std::cout << "pairs: " << stats.pairs << " (eligible " << stats.by_status[ELIGIBLE]
            << ", undetermined " << stats.by_status[UNDETERMINED] << ", near miss "
            << stats.by_status[NEAR_MISS] << ", excluded " << stats.by_status[EXCLUDED]
            << ", not selected " << stats.by_status[NOT_SELECTED] << ")\n";
  EXPECT_EQ(stats.pairs, expected_pairs);
  for (MatchStatus s : {ELIGIBLE, UNDETERMINED, NEAR_MISS, INELIGIBLE, EXCLUDED, NOT_SELECTED}) {
    EXPECT_GT(stats.by_status[s], 0) << MatchStatus_Name(s) << " never occurred";
  }
  EXPECT_GT(stats.by_status[ELIGIBLE], stats.pairs / 1000);
}

// Builds a catalog and firms for `seed`, checks bulk == reference for every pair.
void CheckSeed(uint64_t seed, int num_firms, int num_policies, int threads, RunStats* stats) {
  const absl::CivilDay as_of = absl::CivilDay(2023, 6, 15) + static_cast<int>(seed % 7) * 37;
  Gen gen(seed, as_of);
  auto taxonomy = std::make_shared<const Taxonomy>(RealTaxonomy());

  PolicyCatalog catalog_msg;
  for (int i = 0; i < num_policies; ++i) *catalog_msg.add_policy() = gen.RandomPolicy(i);
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Catalog::FromProtos(taxonomy, {catalog_msg}, &diags);
  ASSERT_TRUE(catalog.ok()) << catalog.status() << "\n"
                            << (diags.items().empty() ? "" : diags.items()[0].ToString());

  std::vector<Firm> firms;
  for (int i = 0; i < num_firms; ++i) firms.push_back(gen.RandomFirm(static_cast<int>(seed * 1000003 % 7919) * 100000 + i));
  // Unknown regions (the store sorts them first; region conditions are unknown for them).
  for (int i = 3; i < num_firms; i += 97) firms[i].region = "";
  // A few firms of identical data (ties in limits go by credit code).
  for (int i = 0; i + 1 < num_firms && i < 20; i += 2) {
    Firm copy = firms[i];
    copy.credit_code = firms[i + 1].credit_code;
    firms[i + 1] = copy;
  }

  absl::StatusOr<FirmStore> store = FirmStore::Build(firms, *taxonomy);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<BulkMatcher> bulk = BulkMatcher::Create(*catalog, *store);
  ASSERT_TRUE(bulk.ok()) << bulk.status();
  const BulkResult result = bulk->Match(as_of, threads);

  ReferenceMatcher reference(*catalog);
  const std::vector<std::vector<Outcome>> expected = reference.EvaluateAll(firms, as_of);

  int failures = 0;
  for (uint32_t row = 0; row < store->num_rows(); ++row) {
    const size_t f = store->source_index(row);
    for (int p = 0; p < num_policies; ++p) {
      const Outcome want = expected[f][p];
      const Outcome got = result.Get(row, p);
      ++stats->pairs;
      ++stats->by_status[want.status];
      if (want == got) continue;
      const CompiledPolicy& cp = catalog->policies()[p];
      ADD_FAILURE() << "seed " << seed << " as_of " << FormatDate(as_of) << " threads " << threads
                    << "\npolicy " << cp.policy.DebugString()
                    << "firm " << FirmToProfile(firms[f], *taxonomy).DebugString()
                    << "reference: " << DescribeOutcome(want) << "\nbulk:      " << DescribeOutcome(got);
      if (++failures >= 5) return;
    }
  }
  // Per-policy counts agree with the pairs.
  for (int p = 0; p < num_policies; ++p) {
    const BulkPolicyResult& r = result.policy(p);
    int64_t total = 0;
    for (int s = 1; s < 7; ++s) total += r.count[s];
    EXPECT_EQ(total, store->num_rows());
    EXPECT_EQ(static_cast<uint64_t>(r.count[ELIGIBLE]), r.eligible.cardinality());
  }
}

// The matcher's calendar arithmetic against dates.h, exhaustively over 30 years of days around
// anchors that include leap days and year ends.
TEST(BulkPlanTest, YearsBetweenMatchesDates) {
  const absl::CivilDay anchors[] = {
      absl::CivilDay(2024, 2, 29), absl::CivilDay(2023, 2, 28), absl::CivilDay(2024, 3, 1),
      absl::CivilDay(2023, 12, 31), absl::CivilDay(2024, 1, 1), absl::CivilDay(2000, 2, 29),
      absl::CivilDay(2023, 6, 15), absl::CivilDay(1900, 3, 1)};
  for (absl::CivilDay anchor : anchors) {
    plan_internal::FixedDateYears fixed(DayNumber(anchor));
    for (absl::CivilDay x = anchor - 365 * 15; x <= anchor + 365 * 15; ++x) {
      ASSERT_EQ(fixed.YearsFrom(DayNumber(x)), YearsBetween(x, anchor)) << FormatDate(x) << " → " << FormatDate(anchor);
      ASSERT_EQ(fixed.YearsTo(DayNumber(x)), YearsBetween(anchor, x)) << FormatDate(anchor) << " → " << FormatDate(x);
      if (x.day() % 7 == 0) {
        ASSERT_EQ(plan_internal::YearsBetweenDays(DayNumber(x), DayNumber(anchor)), YearsBetween(x, anchor));
      }
    }
    EXPECT_EQ(fixed.YearsFrom(DayNumber(absl::CivilDay(1000, 1, 1))),
              YearsBetween(absl::CivilDay(1000, 1, 1), anchor));
  }
}

// Decimal kernels of the matcher against engine/util/decimal.
TEST(BulkPlanTest, ArithmeticMatchesDecimal) {
  std::mt19937_64 rng(5);
  const int64_t edges[] = {0, 1, -1, 5, 500000, -500000, 1500000, Decimal::kMaxRaw, -Decimal::kMaxRaw,
                           Decimal::kMaxRaw - 1, 3037000499LL, 9223372036LL, 999999, 1000000};
  auto pick = [&]() -> int64_t {
    switch (rng() % 4) {
      case 0: return edges[rng() % (sizeof(edges) / sizeof(edges[0]))];
      case 1: {
        const int64_t x = static_cast<int64_t>(rng() % static_cast<uint64_t>(Decimal::kMaxRaw + 1));
        return (rng() & 1) ? x : -x;
      }
      case 2: return static_cast<int64_t>(rng() % 20000000) - 10000000;
      default: return static_cast<int64_t>(rng() % 20000000000000ULL) - 10000000000000LL;
    }
  };
  for (int i = 0; i < 2000000; ++i) {
    const Decimal a = Decimal::FromRawUnchecked(pick()), b = Decimal::FromRawUnchecked(pick());
    int64_t out = 0;
    auto check = [&](bool ok, std::optional<Decimal> want, const char* op) {
      ASSERT_EQ(ok, want.has_value()) << a.ToString() << " " << op << " " << b.ToString();
      if (ok) {
        ASSERT_EQ(out, want->raw()) << a.ToString() << " " << op << " " << b.ToString();
      }
    };
    check(plan_internal::AddRaw(a.raw(), b.raw(), &out), Add(a, b), "+");
    check(plan_internal::SubRaw(a.raw(), b.raw(), &out), Sub(a, b), "-");
    check(plan_internal::MulRaw(a.raw(), b.raw(), &out), Mul(a, b), "*");
    check(plan_internal::DivRaw(a.raw(), b.raw(), &out), Div(a, b), "/");
  }
}

TEST(BulkDifferentialTest, SmallPopulationsManyPolicies) {
  RunStats stats;
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    CheckSeed(seed, 400, 160, seed % 2 == 0 ? 2 : 1, &stats);
    if (HasFailure()) return;
  }
  ExpectNotVacuous(stats, int64_t{24} * 400 * 160);
}

TEST(BulkDifferentialTest, EmptyStore) {
  auto taxonomy = std::make_shared<const Taxonomy>(RealTaxonomy());
  Gen gen(1, absl::CivilDay(2023, 6, 15));
  PolicyCatalog msg;
  for (int i = 0; i < 20; ++i) *msg.add_policy() = gen.RandomPolicy(i);
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Catalog::FromProtos(taxonomy, {msg}, &diags);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  absl::StatusOr<FirmStore> store = FirmStore::Build({}, *taxonomy);
  ASSERT_TRUE(store.ok());
  absl::StatusOr<BulkMatcher> bulk = BulkMatcher::Create(*catalog, *store);
  ASSERT_TRUE(bulk.ok()) << bulk.status();
  const BulkResult r = bulk->Match(absl::CivilDay(2023, 6, 15), 2);
  ASSERT_EQ(r.num_policies(), 20);
  for (int p = 0; p < 20; ++p) {
    for (int s = 0; s < 7; ++s) EXPECT_EQ(r.policy(p).count[s], 0);
  }
}

// The portable comparison kernels (the SIMD ones are used above where the CPU has SSE4.2).
TEST(BulkDifferentialTest, WithoutSimd) {
  RunStats stats;
  plan_internal::DisableSimdForTesting(true);
  CheckSeed(7, 9000, 60, 2, &stats);
  plan_internal::DisableSimdForTesting(false);
  if (HasFailure()) return;
  ExpectNotVacuous(stats, int64_t{9000} * 60);
}

TEST(BulkDifferentialTest, SeveralBlocks) {
  RunStats stats;
  for (uint64_t seed = 101; seed <= 103; ++seed) {
    CheckSeed(seed, 20000 + static_cast<int>(seed) * 7, 40, seed == 102 ? 3 : 2, &stats);
    if (HasFailure()) return;
  }
  ExpectNotVacuous(stats, int64_t{40} * (20000 * 3 + 7 * (101 + 102 + 103)));
}

// The real tag library with 60 more tags in front, so that it has more than 64 tags and most real
// tags have ids ≥ 64: the policy index's multi-word held-tag vector and its fallbacks (no masks
// for tags ≥ 64, tag or/and as generic conditions) are exercised.
const Taxonomy& WideTaxonomy() {
  static const Taxonomy* wide = [] {
    auto read = [](const std::string& name, google::protobuf::Message* m) {
      std::ifstream in(testing::RulesDir() + "/taxonomy/" + name);
      std::stringstream text;
      text << in.rdbuf();
      if (!google::protobuf::TextFormat::ParseFromString(text.str(), m)) std::abort();
    };
    TagLibrary real, lib;
    CodeList regions, industries;
    read("tags.textproto", &real);
    read("regions.textproto", &regions);
    read("industries.textproto", &industries);
    lib = real;
    lib.clear_tag();
    for (int i = 0; i < 60; ++i) {
      TagDef* t = lib.add_tag();
      t->set_id(absl::StrCat("aa.pad", i));
      t->set_name(absl::StrCat("填充标签", i));
      t->set_actionable(i % 2 == 0);
    }
    for (const TagDef& t : real.tag()) *lib.add_tag() = t;
    Diagnostics diags;
    absl::StatusOr<Taxonomy> t = Taxonomy::FromProtos(lib, regions, industries, &diags);
    if (!t.ok()) {
      std::cerr << t.status() << "\n";
      std::abort();
    }
    return new Taxonomy(std::move(*t));
  }();
  return *wide;
}

// The single-firm policy index (scope lists, tag/fact prefilter, compiled conditions, early exit)
// against the reference evaluator firm by firm, on the same random catalogs: every status and
// benefit, exclusive groups applied (limits rank across firms and are not the index's).
void CheckPolicyIndex(const Taxonomy& tax, uint64_t first_seed, uint64_t last_seed, int64_t* pairs,
                      int64_t* applicable) {
  auto taxonomy = std::make_shared<const Taxonomy>(tax);
  for (uint64_t seed = first_seed; seed <= last_seed; ++seed) {
    const absl::CivilDay as_of = absl::CivilDay(2023, 6, 15) + static_cast<int>(seed % 7) * 37;
    Gen gen(seed, as_of, *taxonomy);
    PolicyCatalog msg;
    for (int i = 0; i < 200; ++i) {
      Policy p = gen.RandomPolicy(i);
      for (int k = 0, n = gen.Uniform(4); k < n; ++k) {
        p.set_eligibility(absl::StrCat(p.eligibility(), " and ", gen.IndexShape()));
      }
      *msg.add_policy() = std::move(p);
    }
    Diagnostics diags;
    absl::StatusOr<Catalog> catalog = Catalog::FromProtos(taxonomy, {msg}, &diags);
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    const PolicyIndex index(*catalog);
    const ReferenceMatcher reference(*catalog);
    std::vector<PolicyHit> hits;
    for (int i = 0; i < 400; ++i) {
      Firm firm = gen.RandomFirm(static_cast<int>(seed) * 100000 + i);
      if (i % 53 == 0) firm.region = "";  // unknown region: every policy is a candidate
      const FirmView view(firm, *taxonomy, as_of);
      const std::vector<Outcome> want = reference.EvaluateFirm(view);
      index.Match(view, &hits);
      std::vector<Outcome> got(want.size());
      for (size_t k = 0; k < hits.size(); ++k) {
        ASSERT_TRUE(k == 0 || hits[k - 1].policy < hits[k].policy) << "hits not in catalog order";
        ASSERT_NE(hits[k].status, INELIGIBLE);
        got[hits[k].policy.value] = hits[k].outcome();
      }
      for (size_t p = 0; p < want.size(); ++p, ++*pairs) {
        *applicable += want[p].status != INELIGIBLE;
        if (want[p] == got[p]) continue;
        ADD_FAILURE() << "seed " << seed << " as_of " << FormatDate(as_of) << "\npolicy "
                      << catalog->policies()[p].policy.DebugString() << "firm "
                      << FirmToProfile(firm, *taxonomy).DebugString()
                      << "reference: " << DescribeOutcome(want[p])
                      << "\nindex:     " << DescribeOutcome(got[p]);
        return;
      }
    }
  }
}

TEST(PolicyIndexDifferentialTest, EqualsTheReferenceFirmByFirm) {
  int64_t pairs = 0, applicable = 0;
  CheckPolicyIndex(RealTaxonomy(), 201, 216, &pairs, &applicable);
  EXPECT_EQ(pairs, 16 * 200 * 400);
  EXPECT_GT(applicable, pairs / 20);  // not vacuous
  std::cout << "pairs: " << pairs << " (not ineligible " << applicable << ")\n";
}

// The portable prefilter (the test above uses the AVX-512 one where the CPU has it).
TEST(PolicyIndexDifferentialTest, WithoutSimd) {
  plan_internal::DisableSimdForTesting(true);
  int64_t pairs = 0, applicable = 0;
  CheckPolicyIndex(RealTaxonomy(), 221, 228, &pairs, &applicable);
  plan_internal::DisableSimdForTesting(false);
  EXPECT_EQ(pairs, 8 * 200 * 400);
  EXPECT_GT(applicable, pairs / 20);
}

TEST(PolicyIndexDifferentialTest, MoreThan64Tags) {
  ASSERT_GT(WideTaxonomy().num_tags(), 64);
  int64_t pairs = 0, applicable = 0;
  CheckPolicyIndex(WideTaxonomy(), 301, 304, &pairs, &applicable);
  EXPECT_EQ(pairs, 4 * 200 * 400);
  EXPECT_GT(applicable, pairs / 20);
  std::cout << "pairs: " << pairs << " (not ineligible " << applicable << ")\n";
}

}  // namespace
}  // namespace polmatch
