// The matching contract, one typed suite over every implementation: on random catalogs and
// registries (tests/random_catalog.h) each implementation answers every (firm, policy) pair —
// exclusive groups and limits applied — and must give the reference matcher's status and
// benefit, reach every status, keep at most one ELIGIBLE member per exclusive group and per
// firm, and select at most `limit` firms per limited policy.
#include <memory>
#include <string>
#include <vector>

#include "engine/api/engine_internal.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/match/bulk_matcher.h"
#include "engine/match/limit_placement.h"
#include "engine/match/policy_index.h"
#include "engine/match/reference.h"
#include "gtest/gtest.h"
#include "tests/random_catalog.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using testing::Gen;
using testing::RealTaxonomy;

// One random case: a catalog and a registry, built afresh for each implementation that takes
// ownership of them (the engine), identically (the generator is deterministic per seed).
struct Case {
  uint64_t seed = 0;
  absl::CivilDay as_of;
  std::shared_ptr<const Taxonomy> taxonomy;
  PolicyCatalog policies;
  std::vector<Firm> firms;

  Catalog MakeCatalog() const {
    Diagnostics diags;
    absl::StatusOr<Catalog> c = Catalog::FromProtos(taxonomy, {policies}, &diags);
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  }
  FirmStore MakeStore() const {
    absl::StatusOr<FirmStore> s = FirmStore::Build(firms, *taxonomy);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
};

Case MakeCase(uint64_t seed, int num_firms, int num_policies) {
  Case c;
  c.seed = seed;
  c.as_of = absl::CivilDay(2023, 6, 15) + static_cast<int>(seed % 7) * 37;
  c.taxonomy = std::make_shared<const Taxonomy>(RealTaxonomy());
  Gen gen(seed, c.as_of);
  for (int i = 0; i < num_policies; ++i) *c.policies.add_policy() = gen.RandomPolicy(i);
  for (int i = 0; i < num_firms; ++i) c.firms.push_back(gen.RandomFirm(static_cast<int>(seed % 89) * 100000 + i));
  for (int i = 3; i < num_firms; i += 97) c.firms[i].region = "";  // unknown regions
  for (int i = 0; i + 1 < num_firms && i < 20; i += 2) {           // ties in limits: by code
    Firm copy = c.firms[i];
    copy.credit_code = c.firms[i + 1].credit_code;
    c.firms[i + 1] = copy;
  }
  return c;
}

// result[firm index in Case::firms][catalog index]: status and benefit (rank not compared).
using Answers = std::vector<std::vector<Outcome>>;

struct Reference {
  static Answers Run(const Case& c) {
    const Catalog catalog = c.MakeCatalog();
    return ReferenceMatcher(catalog).EvaluateAll(c.firms, c.as_of);
  }
};

struct Bulk {
  static Answers Run(const Case& c) {
    const Catalog catalog = c.MakeCatalog();
    const FirmStore store = c.MakeStore();
    absl::StatusOr<BulkMatcher> bulk = BulkMatcher::Create(catalog, store);
    EXPECT_TRUE(bulk.ok()) << bulk.status();
    const BulkResult result = bulk->Match(c.as_of, 2);
    Answers out(c.firms.size(), std::vector<Outcome>(catalog.policies().size()));
    for (uint32_t row = 0; row < store.num_rows(); ++row) {
      for (size_t p = 0; p < catalog.policies().size(); ++p) {
        out[store.source_index(row)][p] = result.Get(row, static_cast<int>(p));
      }
    }
    return out;
  }
};

// The single-firm policy index, limits placed by LimitPlacement: what the engine composes.
struct IndexWithPlacement {
  static Answers Run(const Case& c) {
    const Catalog catalog = c.MakeCatalog();
    const FirmStore store = c.MakeStore();
    const PolicyIndex index(catalog);
    absl::StatusOr<std::unique_ptr<LimitPlacement>> limits = LimitPlacement::Create(catalog, &store, 2);
    EXPECT_TRUE(limits.ok()) << limits.status();
    Answers out(c.firms.size(), std::vector<Outcome>(catalog.policies().size()));
    std::vector<PolicyHit> hits;
    for (uint32_t row = 0; row < store.num_rows(); ++row) {
      const size_t f = store.source_index(row);
      index.Match(FirmView(c.firms[f], catalog.taxonomy(), c.as_of), &hits);
      (*limits)->Apply(FirmRow(row), c.as_of, hits);
      for (const PolicyHit& h : hits) out[f][h.policy.value] = h.outcome();
    }
    return out;
  }
};

// Engine::MatchStatuses, firm by firm: with the per-row records of Engine::Create, or reading the
// store's columns as `polmatch query` does.
template <bool kPerRowRecords>
struct EngineSingleFirm {
  static Answers Run(const Case& c) {
    const Catalog catalog = c.MakeCatalog();
    std::vector<int> index_of_policy;
    absl::StatusOr<std::unique_ptr<Engine>> engine =
        NewEngineFromLoaded(c.MakeCatalog(), c.MakeStore(), EngineOptions(), kPerRowRecords);
    EXPECT_TRUE(engine.ok()) << engine.status();
    Answers out(c.firms.size(), std::vector<Outcome>(catalog.policies().size()));
    std::vector<PolicyMatch> matches;
    for (size_t f = 0; f < c.firms.size(); ++f) {
      absl::Status s = (*engine)->MatchStatuses(c.firms[f].credit_code, c.as_of, &matches);
      EXPECT_TRUE(s.ok()) << s;
      for (const PolicyMatch& m : matches) {
        Outcome& o = out[f][catalog.IndexOf(m.policy)];
        o.status = m.status;
        if (m.benefit_fen >= 0) o.benefit = Decimal::FromRawUnchecked(m.benefit_fen * (Decimal::kOne / 100));
      }
    }
    return out;
  }
};

// Engine::Match (the explained answer), firm by firm.
struct EngineExplained {
  static Answers Run(const Case& c) {
    const Catalog catalog = c.MakeCatalog();
    absl::StatusOr<std::unique_ptr<Engine>> engine =
        NewEngineFromLoaded(c.MakeCatalog(), c.MakeStore(), EngineOptions(), /*per_row_records=*/true);
    EXPECT_TRUE(engine.ok()) << engine.status();
    Answers out(c.firms.size(), std::vector<Outcome>(catalog.policies().size()));
    for (size_t f = 0; f < c.firms.size(); ++f) {
      absl::StatusOr<FirmMatches> m = (*engine)->Match(c.firms[f].credit_code, c.as_of);
      EXPECT_TRUE(m.ok()) << m.status();
      if (!m.ok()) continue;
      for (const PolicyResult& r : m->results()) {
        Outcome& o = out[f][catalog.IndexOf(r.policy())];
        o.status = r.status();
        if (!r.benefit_yuan().empty()) o.benefit = *Decimal::Parse(r.benefit_yuan());
      }
    }
    return out;
  }
};

template <typename Impl>
class MatcherContractTest : public ::testing::Test {};

using Implementations = ::testing::Types<Reference, Bulk, IndexWithPlacement, EngineSingleFirm<true>,
                                         EngineSingleFirm<false>, EngineExplained>;
TYPED_TEST_SUITE(MatcherContractTest, Implementations);

TYPED_TEST(MatcherContractTest, AgreesWithTheReferenceOnRandomCatalogs) {
  int64_t pairs = 0;
  int64_t by_status[7] = {};
  for (uint64_t seed = 501; seed <= 504; ++seed) {
    const Case c = MakeCase(seed, 300, 60);
    const Answers want = Reference::Run(c);
    const Answers got = TypeParam::Run(c);
    ASSERT_EQ(got.size(), c.firms.size());
    const Catalog catalog = c.MakeCatalog();
    int failures = 0;
    for (size_t f = 0; f < c.firms.size(); ++f) {
      ASSERT_EQ(got[f].size(), catalog.policies().size());
      for (size_t p = 0; p < got[f].size(); ++p, ++pairs) {
        ++by_status[got[f][p].status];
        if (want[f][p] == got[f][p]) continue;
        ADD_FAILURE() << "seed " << seed << " firm " << c.firms[f].credit_code << " policy "
                      << catalog.policies()[p].policy.DebugString() << "reference "
                      << MatchStatus_Name(want[f][p].status) << " "
                      << (want[f][p].benefit ? want[f][p].benefit->ToString() : "-") << ", got "
                      << MatchStatus_Name(got[f][p].status) << " "
                      << (got[f][p].benefit ? got[f][p].benefit->ToString() : "-");
        if (++failures >= 5) return;
      }
      // At most one ELIGIBLE member of each exclusive group.
      for (const auto& [name, members] : catalog.groups()) {
        int eligible = 0;
        for (int p : members) eligible += got[f][p].status == ELIGIBLE;
        EXPECT_LE(eligible, 1) << "group " << name;
      }
    }
    // At most `limit` firms selected per limited policy.
    for (size_t p = 0; p < catalog.policies().size(); ++p) {
      const int limit = catalog.policies()[p].policy.limit();
      if (limit <= 0) continue;
      int selected = 0;
      for (size_t f = 0; f < c.firms.size(); ++f) selected += got[f][p].status == ELIGIBLE;
      EXPECT_LE(selected, limit) << catalog.policies()[p].id();
    }
  }
  // Not vacuous: every pair compared, every status reached.
  EXPECT_EQ(pairs, 4 * 300 * 60);
  for (MatchStatus s : {ELIGIBLE, UNDETERMINED, NEAR_MISS, INELIGIBLE, EXCLUDED, NOT_SELECTED}) {
    EXPECT_GT(by_status[s], 0) << MatchStatus_Name(s) << " never occurred";
  }
}

}  // namespace
}  // namespace polmatch
