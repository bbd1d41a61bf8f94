// The embedded engine's single-firm path (region-scoped candidates, limits placed by the bulk
// matcher) against the reference matcher on generated catalogs and registries.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/gen/firm_generator.h"
#include "engine/gen/policy_generator.h"
#include "engine/index/firm_store.h"
#include "engine/index/snapshot.h"
#include "engine/ingest/firm_reader.h"
#include "engine/match/reference.h"
#include "gtest/gtest.h"
#include "polmatch/engine.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;

TEST(EngineDifferentialTest, MatchStatusesEqualsTheReference) {
  const Taxonomy& tax = testing::RealTaxonomy();
  for (uint64_t seed : {3u, 4u}) {
    gen::GenOptions options;
    options.seed = seed;
    options.regions = {"441500", "440800", "420100", "411100"};
    absl::StatusOr<PolicyCatalog> catalog = gen::GeneratePolicyCatalog(tax, 300, options);
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    const fs::path dir = fs::path(::testing::TempDir()) /
                         ("engine_diff_" + std::to_string(::getpid()) + "_" + std::to_string(seed));
    fs::remove_all(dir);
    fs::create_directories(dir / "policies");
    fs::create_directory_symlink(fs::path(testing::RulesDir()) / "taxonomy", dir / "taxonomy");
    std::ofstream(dir / "policies/gen.textproto") << gen::PolicyCatalogToText(*catalog);

    absl::StatusOr<gen::FirmGenerator> firms_gen = gen::FirmGenerator::Create(tax, options);
    ASSERT_TRUE(firms_gen.ok());
    std::vector<Firm> firms;
    std::string line;
    for (int i = 0; i < 2000; ++i) {
      line.clear();
      firms_gen->AppendNext(&line);
      while (!line.empty() && line.back() == '\n') line.pop_back();
      absl::StatusOr<FirmProfile> profile = ParseFirmJson(line);
      ASSERT_TRUE(profile.ok()) << profile.status();
      absl::StatusOr<Firm> firm = FirmFromProfile(*profile, tax);
      ASSERT_TRUE(firm.ok()) << firm.status();
      firms.push_back(std::move(*firm));
    }
    absl::StatusOr<FirmStore> store = FirmStore::Build(firms, tax);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(WriteSnapshotFile((dir / "r.snap").string(), *store, tax).ok());

    EngineOptions engine_options;
    engine_options.rules_dir = dir.string();
    engine_options.snapshot_path = (dir / "r.snap").string();
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(engine_options);
    ASSERT_TRUE(engine.ok()) << engine.status();

    Diagnostics diags;
    absl::StatusOr<Catalog> reference_catalog = Catalog::LoadDir(dir.string(), &diags);
    ASSERT_TRUE(reference_catalog.ok());
    for (absl::CivilDay as_of : {absl::CivilDay(2025, 6, 30), absl::CivilDay(2024, 1, 1)}) {
      const auto want = ReferenceMatcher(*reference_catalog).EvaluateAll(firms, as_of);
      int64_t pairs = 0, applicable = 0, eligible = 0;
      for (size_t f = 0; f < firms.size(); ++f) {
        absl::StatusOr<std::vector<PolicyMatch>> got = (*engine)->MatchStatuses(firms[f].credit_code, as_of);
        ASSERT_TRUE(got.ok()) << got.status();
        size_t k = 0;
        for (size_t p = 0; p < want[f].size(); ++p, ++pairs) {
          const Outcome& w = want[f][p];
          const std::string& id = reference_catalog->policies()[p].id();
          if (w.status == INELIGIBLE) {
            ASSERT_FALSE(k < got->size() && (*got)[k].policy == id)
                << firms[f].credit_code << " " << id << " should be INELIGIBLE";
            continue;
          }
          ++applicable;
          eligible += w.status == ELIGIBLE;
          ASSERT_LT(k, got->size()) << firms[f].credit_code << " " << id;
          ASSERT_EQ((*got)[k].policy, id) << firms[f].credit_code;
          EXPECT_EQ((*got)[k].status, w.status) << firms[f].credit_code << " " << id;
          EXPECT_EQ((*got)[k].benefit_fen, w.benefit ? w.benefit->raw() / 10000 : -1)
              << firms[f].credit_code << " " << id;
          ++k;
        }
        EXPECT_EQ(k, got->size());
      }
      EXPECT_EQ(pairs, 600000);
      EXPECT_GT(eligible, 100);  // the comparison is not vacuous
      EXPECT_GT(applicable, eligible);
    }
  }
}

}  // namespace
}  // namespace polmatch
