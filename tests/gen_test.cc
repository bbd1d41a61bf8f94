// polmatch gen: synthetic registries and catalogs are deterministic, valid against the real tag
// library, and skewed the way bench/README.md describes.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <sys/wait.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "engine/catalog/catalog.h"
#include "engine/gen/firm_generator.h"
#include "engine/gen/geography.h"
#include "engine/gen/policy_generator.h"
#include "engine/match/reference.h"
#include "engine/util/dates.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;
using gen::GenOptions;

std::string GenerateFirms(int64_t n, const GenOptions& options) {
  absl::StatusOr<gen::FirmGenerator> g = gen::FirmGenerator::Create(testing::RealTaxonomy(), options);
  EXPECT_TRUE(g.ok()) << g.status();
  std::string out;
  if (!g.ok()) return out;
  for (int64_t i = 0; i < n; ++i) g->AppendNext(&out);
  return out;
}

GenOptions Seed(uint64_t seed) {
  GenOptions o;
  o.seed = seed;
  return o;
}

std::vector<FirmProfile> ParseLines(const std::string& text) {
  std::vector<FirmProfile> out;
  int line = 0;
  for (absl::string_view l : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++line;
    FirmProfile p;
    auto status = google::protobuf::util::JsonStringToMessage(std::string(l), &p);
    EXPECT_TRUE(status.ok()) << "line " << line << ": " << status.ToString() << "\n" << l;
    out.push_back(std::move(p));
  }
  return out;
}

TEST(GenFirmsTest, SameSeedSameBytesOtherSeedOtherBytes) {
  const std::string a = GenerateFirms(2000, Seed(7));
  EXPECT_EQ(a, GenerateFirms(2000, Seed(7)));
  EXPECT_NE(a, GenerateFirms(2000, Seed(8)));
  // Firm i does not depend on how many follow: a smaller registry is a prefix.
  const std::string small = GenerateFirms(500, Seed(7));
  EXPECT_EQ(a.substr(0, small.size()), small);
}

struct FirmStats {
  int n = 0;
  std::map<std::string, int> listed;  // tag id → firms listing it
  std::map<std::string, int> held;    // tag id → firms holding it on as_of
  std::map<std::string, int> facts;   // fact id → firms knowing it
  std::map<std::string, int> cities;  // XXYY00 → firms
  std::map<char, int> sections;
  std::vector<int64_t> employees;
  std::vector<double> revenue;
  int expired_hitech = 0;
};

FirmStats Convert(const std::vector<FirmProfile>& profiles, absl::CivilDay as_of) {
  const Taxonomy& tax = testing::RealTaxonomy();
  FirmStats s;
  std::set<std::string> codes;
  for (const FirmProfile& p : profiles) {
    absl::StatusOr<Firm> firm = FirmFromProfile(p, tax);
    EXPECT_TRUE(firm.ok()) << p.credit_code() << ": " << firm.status();
    if (!firm.ok()) continue;
    EXPECT_TRUE(codes.insert(p.credit_code()).second) << "duplicate " << p.credit_code();
    EXPECT_TRUE(tax.IsKnownRegion(p.region())) << p.region();
    EXPECT_TRUE(tax.IsKnownIndustry(p.industry())) << p.industry();
    EXPECT_EQ(p.credit_code().substr(2, 6), p.region());
    EXPECT_FALSE(p.name().empty());
    ++s.n;
    for (const TagGrant& g : p.tags()) {
      ++s.listed[g.id()];
      const bool held = (g.valid_from().empty() || g.valid_from() <= FormatDate(as_of)) &&
                        (g.valid_to().empty() || FormatDate(as_of) <= g.valid_to());
      if (held) ++s.held[g.id()];
      if (g.id() == "qual.hitech" && !held) ++s.expired_hitech;
      if (!g.valid_from().empty()) {
        EXPECT_GE(g.valid_from(), p.founded()) << p.credit_code() << " " << g.id();
      }
    }
    for (const auto& [id, value] : p.facts()) ++s.facts[id];
    ++s.cities[p.region().substr(0, 4) + "00"];
    ++s.sections[p.industry()[0]];
    if (p.facts().count("employees")) s.employees.push_back(std::stoll(p.facts().at("employees")));
    if (p.facts().count("revenue")) s.revenue.push_back(std::stod(p.facts().at("revenue")));
    EXPECT_GE(p.founded(), "1995-01-01");
    EXPECT_LE(p.founded(), "2025-06-30");
  }
  return s;
}

template <typename T>
T Median(std::vector<T> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

TEST(GenFirmsTest, EveryFirmParsesConvertsAndHasRealisticRates) {
  const GenOptions options = Seed(1);
  const std::vector<FirmProfile> profiles = ParseLines(GenerateFirms(20000, options));
  ASSERT_EQ(profiles.size(), 20000u);
  const FirmStats s = Convert(profiles, options.as_of);
  ASSERT_EQ(s.n, 20000);
  auto rate = [&](const std::map<std::string, int>& m, const std::string& id) {
    auto it = m.find(id);
    return it == m.end() ? 0.0 : static_cast<double>(it->second) / s.n;
  };
  // bench/README.md's tag rates (firms listing the tag), with sampling tolerance.
  EXPECT_NEAR(rate(s.listed, "qual.hitech"), 0.02, 0.006);
  EXPECT_NEAR(rate(s.listed, "qual.sme_tech"), 0.04, 0.01);
  EXPECT_NEAR(rate(s.listed, "qual.specialized"), 0.01, 0.004);
  EXPECT_NEAR(rate(s.listed, "stat.above_scale"), 0.06, 0.015);
  EXPECT_NEAR(rate(s.listed, "credit.blacklist"), 0.03, 0.006);
  EXPECT_NEAR(rate(s.listed, "credit.abnormal"), 0.05, 0.008);
  EXPECT_GT(rate(s.listed, "org.eng_center.city"), 0.0);
  EXPECT_LT(rate(s.listed, "org.eng_center.city"), 0.01);
  // Some 高企 certificates have lapsed; most are in force.
  EXPECT_GT(s.expired_hitech, 0);
  EXPECT_GT(rate(s.held, "qual.hitech"), 0.7 * rate(s.listed, "qual.hitech"));
  // R&D expense for about a third; ~10% of the core facts missing.
  EXPECT_NEAR(rate(s.facts, "rd_expense"), 1.0 / 3, 0.06);
  EXPECT_NEAR(rate(s.facts, "revenue"), 0.9, 0.015);
  EXPECT_NEAR(rate(s.facts, "employees"), 0.9, 0.015);
  // Median firm: ~15 people, ~3 million yuan.
  EXPECT_NEAR(static_cast<double>(Median(s.employees)), 15, 5);
  EXPECT_NEAR(Median(s.revenue), 3.0e6, 1.0e6);
  // Big cities heavy: 深圳 leads and holds well over its 1/N share.
  auto top = std::max_element(s.cities.begin(), s.cities.end(),
                              [](const auto& a, const auto& b) { return a.second < b.second; });
  EXPECT_EQ(top->first, "440300");
  EXPECT_GT(top->second, s.n / 10);
  // Industries: F trade and C manufacturing are the two biggest sections.
  std::vector<std::pair<int, char>> by_size;
  for (const auto& [section, n] : s.sections) by_size.push_back({n, section});
  std::sort(by_size.rbegin(), by_size.rend());
  ASSERT_GE(by_size.size(), 2u);
  EXPECT_EQ(std::string({by_size[0].second, by_size[1].second}), "FC");
  // Default provinces only.
  for (const auto& [city, n] : s.cities) {
    EXPECT_TRUE(absl::StartsWith(city, "44") || absl::StartsWith(city, "42") ||
                absl::StartsWith(city, "41") || absl::StartsWith(city, "32") ||
                absl::StartsWith(city, "33") || absl::StartsWith(city, "51"))
        << city;
  }
}

TEST(GenFirmsTest, RegionsRestrictTheRegistry) {
  const Taxonomy& tax = testing::RealTaxonomy();
  absl::StatusOr<std::vector<std::string>> regions =
      gen::ParseRegionList("440800, 441500,4201,411100", tax);
  ASSERT_TRUE(regions.ok()) << regions.status();
  EXPECT_EQ(*regions, (std::vector<std::string>{"440800", "441500", "420100", "411100"}));
  GenOptions options = Seed(3);
  options.regions = *regions;
  std::set<std::string> cities;
  for (const FirmProfile& p : ParseLines(GenerateFirms(3000, options))) {
    const std::string city = p.region().substr(0, 4) + "00";
    EXPECT_TRUE(std::count(regions->begin(), regions->end(), city)) << p.region();
    EXPECT_NE(p.region(), city) << "firms sit in county-level codes";
    cities.insert(city);
  }
  EXPECT_EQ(cities.size(), 4u);
}

TEST(GenFirmsTest, BadRegionListsAreRejected) {
  const Taxonomy& tax = testing::RealTaxonomy();
  EXPECT_FALSE(gen::ParseRegionList("", tax).ok());
  EXPECT_FALSE(gen::ParseRegionList("4", tax).ok());
  EXPECT_FALSE(gen::ParseRegionList("99", tax).ok());
  EXPECT_FALSE(gen::ParseRegionList("44x", tax).ok());
  EXPECT_TRUE(gen::ParseRegionList("44", tax).ok());
}

absl::StatusOr<Catalog> Load(const PolicyCatalog& catalog, Diagnostics* diags) {
  static const std::shared_ptr<const Taxonomy> tax(&testing::RealTaxonomy(), [](const Taxonomy*) {});
  return Catalog::FromProtos(tax, {catalog}, diags);
}

TEST(GenPoliciesTest, CatalogLoadsWithoutDiagnosticsAndHasTheMix) {
  absl::StatusOr<PolicyCatalog> proto = gen::GeneratePolicyCatalog(testing::RealTaxonomy(), 200, Seed(1));
  ASSERT_TRUE(proto.ok()) << proto.status();
  ASSERT_EQ(proto->policy_size(), 200);
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Load(*proto, &diags);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  for (const Diagnostic& d : diags.items()) ADD_FAILURE() << d.ToString();

  int auto_grant = 0, grouped = 0, limited = 0, national = 0, province = 0, local = 0;
  static const LazyRE2 kRegion = {R"re(region under "(\d{6})")re"};
  for (const CompiledPolicy& p : catalog->policies()) {
    EXPECT_TRUE(RE2::FullMatch(p.id(), R"(gen-\d{6})")) << p.id();
    EXPECT_GE(p.conditions.size(), 2u) << p.id();
    EXPECT_LE(p.conditions.size(), 8u) << p.id();
    if (p.auto_grant()) {
      ++auto_grant;
      EXPECT_NE(p.benefit, nullptr) << p.id();
    }
    if (!p.policy.exclusive_group().empty()) ++grouped;
    if (p.policy.limit() > 0) {
      ++limited;
      EXPECT_FALSE(p.policy.rank_by().empty());
    }
    std::string region;
    if (!RE2::PartialMatch(p.policy.eligibility(), *kRegion, &region)) {
      ++national;
    } else if (region.substr(2) == "0000") {
      ++province;
    } else {
      ++local;
    }
  }
  EXPECT_NEAR(auto_grant / 200.0, 0.30, 0.08);
  EXPECT_NEAR(grouped / 200.0, 0.10, 0.06);
  EXPECT_GE(limited, 1);
  EXPECT_LE(limited, 20);
  EXPECT_NEAR(local / 200.0, 0.70, 0.10);
  EXPECT_NEAR(province / 200.0, 0.25, 0.08);
  EXPECT_GE(national, 1);
  // Exclusive groups hold 2–3 policies each.
  for (const auto& [name, members] : catalog->groups()) {
    EXPECT_GE(members.size(), 2u) << name;
    EXPECT_LE(members.size(), 3u) << name;
  }
}

TEST(GenPoliciesTest, DeterministicAndLoadableFromText) {
  const Taxonomy& tax = testing::RealTaxonomy();
  GenOptions options = Seed(5);
  options.regions = {"440800", "441500", "420100", "411100"};
  const std::string a = gen::PolicyCatalogToText(*gen::GeneratePolicyCatalog(tax, 300, options));
  EXPECT_EQ(a, gen::PolicyCatalogToText(*gen::GeneratePolicyCatalog(tax, 300, options)));
  options.seed = 6;
  EXPECT_NE(a, gen::PolicyCatalogToText(*gen::GeneratePolicyCatalog(tax, 300, options)));
  EXPECT_TRUE(absl::StrContains(a, "高新技术企业认定奖励")) << "UTF-8 is written unescaped";

  // The text form loads through the rules-directory loader like a hand-written catalog.
  const fs::path dir = fs::path(::testing::TempDir()) / "gen_rules";
  fs::remove_all(dir);
  fs::create_directories(dir / "policies");
  fs::create_directories(dir / "taxonomy");
  for (const char* f : {"tags.textproto", "regions.textproto", "industries.textproto"}) {
    fs::copy_file(fs::path(testing::RulesDir()) / "taxonomy" / f, dir / "taxonomy" / f);
  }
  std::ofstream(dir / "policies" / "generated.textproto") << a;
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Catalog::LoadDir(dir.string(), &diags);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_TRUE(diags.items().empty());
  EXPECT_EQ(catalog->policies().size(), 300u);
  // Scopes stay within the chosen cities (or their provinces, or national).
  static const LazyRE2 kRegion = {R"re(region under "(\d{6})")re"};
  for (const CompiledPolicy& p : catalog->policies()) {
    std::string region;
    if (!RE2::PartialMatch(p.policy.eligibility(), *kRegion, &region)) continue;
    const bool ok = region == "440000" || region == "420000" || region == "410000" ||
                    Taxonomy::RegionUnder(region, "440800") || Taxonomy::RegionUnder(region, "441500") ||
                    Taxonomy::RegionUnder(region, "420100") || Taxonomy::RegionUnder(region, "411100");
    EXPECT_TRUE(ok) << p.id() << ": " << region;
  }
}

// Generated firms against a generated catalog: policies select somebody, and not everybody.
TEST(GenPoliciesTest, GeneratedFirmsMeetGeneratedPolicies) {
  GenOptions options = Seed(11);
  options.regions = {"440800", "441500", "420100", "411100"};
  absl::StatusOr<PolicyCatalog> proto = gen::GeneratePolicyCatalog(testing::RealTaxonomy(), 100, options);
  ASSERT_TRUE(proto.ok()) << proto.status();
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Load(*proto, &diags);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  std::vector<Firm> firms;
  for (const FirmProfile& p : ParseLines(GenerateFirms(3000, options))) firms.push_back(testing::MakeFirm(p));
  std::sort(firms.begin(), firms.end(),
            [](const Firm& a, const Firm& b) { return a.credit_code < b.credit_code; });
  const ReferenceMatcher matcher(*catalog);
  const auto outcomes = matcher.EvaluateAll(firms, options.as_of);
  int with_eligible = 0, active = 0;
  long eligible = 0, near_miss = 0;
  for (size_t p = 0; p < catalog->policies().size(); ++p) {
    if (!catalog->policies()[p].ActiveOn(options.as_of)) continue;
    ++active;
    int n = 0;
    for (const auto& row : outcomes) {
      n += row[p].status == ELIGIBLE;
      near_miss += row[p].status == NEAR_MISS;
    }
    with_eligible += n > 0;
    eligible += n;
  }
  EXPECT_GT(with_eligible, active / 5) << "policies with at least one eligible firm";
  EXPECT_LT(eligible, static_cast<long>(firms.size()) * active / 10) << "policies are selective";
  EXPECT_GT(near_miss, 0);
}

TEST(GenCliTest, WritesTheSameFileTwiceAndTeaches) {
  const fs::path dir = fs::path(::testing::TempDir());
  const std::string bin = POLMATCH_BINARY;
  const std::string rules = testing::RulesDir();
  auto run = [&](const std::string& args) {
    return std::system((bin + " gen " + args + " --rules " + rules + " 2>/dev/null").c_str());
  };
  const std::string a = (dir / "gen_a.jsonl").string(), b = (dir / "gen_b.jsonl").string();
  ASSERT_EQ(run("--firms 300 --seed 9 --out " + a), 0);
  ASSERT_EQ(run("--firms 300 --seed 9 --out " + b), 0);
  auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const std::string content = slurp(a);
  EXPECT_EQ(content, slurp(b));
  EXPECT_EQ(std::count(content.begin(), content.end(), '\n'), 300);
  EXPECT_EQ(GenerateFirms(300, Seed(9)), content) << "the command writes what the library makes";

  const std::string policies = (dir / "gen_p.textproto").string();
  ASSERT_EQ(run("--policies 50 --seed 9 --out " + policies), 0);
  EXPECT_TRUE(absl::StrContains(slurp(policies), "id: \"gen-000050\""));

  EXPECT_EQ(run("--help >/dev/null"), 0);
  EXPECT_EQ(WEXITSTATUS(run("--firms 10 --policies 10 --out " + a)), 2);
  EXPECT_EQ(WEXITSTATUS(run("--firms 10 --regions 99 --out " + a)), 2);
}

}  // namespace
}  // namespace polmatch
