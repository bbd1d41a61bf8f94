// Policy analytics (engine/analysis): reserve lists with gaps, what-if simulation (checked against
// the reference matcher run twice), and cultivation paths along the qualification ladder.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/util/amounts.h"
#include "engine/analysis/catalog_edit.h"
#include "engine/analysis/cultivation_path.h"
#include "engine/analysis/reserve.h"
#include "engine/analysis/simulate.h"
#include "engine/match/bulk_matcher.h"
#include "engine/match/reference.h"
#include "google/protobuf/text_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::shared_ptr<const Taxonomy> SharedTaxonomy() {
  static const std::shared_ptr<const Taxonomy> tax(&testing::RealTaxonomy(), [](const Taxonomy*) {});
  return tax;
}

Catalog MakeCatalog(const std::string& text) {
  PolicyCatalog pc;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &pc)) << text;
  Diagnostics diags;
  absl::StatusOr<Catalog> c = Catalog::FromProtos(SharedTaxonomy(), {pc}, &diags, {"test.textproto"});
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

Decimal D(const char* s) { return *Decimal::Parse(s); }

struct FirmSpec {
  std::string region = "441502";
  std::string industry = "I6513";
  std::map<std::string, std::string> facts;
  std::vector<std::string> tags;
};

Firm MakeFirm(int serial, const FirmSpec& spec) {
  FirmProfile p = testing::MakeProfile(spec.region, serial, spec.industry);
  for (const auto& [k, v] : spec.facts) (*p.mutable_facts())[k] = v;
  for (const std::string& t : spec.tags) p.add_tags()->set_id(t);
  return testing::MakeFirm(p);
}

FirmStore MakeStore(const std::vector<Firm>& firms) {
  absl::StatusOr<FirmStore> s = FirmStore::Build(firms, testing::RealTaxonomy());
  EXPECT_TRUE(s.ok()) << s.status();
  return std::move(*s);
}

const absl::CivilDay kAsOf(2023, 6, 30);

// ---------------------------------------------------------------------------------------------
// amounts.h

TEST(AmountsTest, TotalsAndThousands) {
  YuanTotal t;
  for (int i = 0; i < 3; ++i) t.Add(D("8999999999999.99"));  // past Decimal's bound: still exact
  EXPECT_EQ(t.ToFixed2(), "26999999999999.97");
  EXPECT_EQ(WithThousands(t.ToFixed2()), "26,999,999,999,999.97");
  YuanTotal n;
  n.Subtract(t);
  EXPECT_EQ(WithThousands(n.ToFixed2()), "-26,999,999,999,999.97");
  EXPECT_EQ(WithThousands("999"), "999");
  EXPECT_EQ(WithThousands("1000.5"), "1,000.5");
  EXPECT_EQ(YuanTotal().ToFixed2(), "0.00");
}

// ---------------------------------------------------------------------------------------------
// reserve.h

TEST(ReserveTest, NearMissesClosestFirstWithGaps) {
  Catalog catalog = MakeCatalog(R"pb(
    policy { id: "it" title: "培育名录库"
             eligibility: "region under \"441500\" and qual.sme_tech and revenue >= 1000万元" })pb");
  std::vector<Firm> firms = {
      MakeFirm(1, {.facts = {{"revenue", "9000000"}}, .tags = {"qual.sme_tech"}}),   // gap 1,000,000
      MakeFirm(2, {.facts = {{"revenue", "9990000"}}, .tags = {"qual.sme_tech"}}),   // gap 10,000
      MakeFirm(3, {.facts = {{"revenue", "20000000"}}}),                             // tag missing
      MakeFirm(4, {.facts = {{"revenue", "20000000"}}, .tags = {"qual.sme_tech"}}),  // eligible
      MakeFirm(5, {.facts = {{"revenue", "1"}}}),                                    // two misses
      MakeFirm(6, {.region = "440803", .facts = {{"revenue", "9990000"}}, .tags = {"qual.sme_tech"}}),
      MakeFirm(7, {.tags = {"qual.sme_tech"}}),                                      // undetermined
  };
  FirmStore store = MakeStore(firms);
  absl::StatusOr<BulkMatcher> matcher = BulkMatcher::Create(catalog, store);
  ASSERT_TRUE(matcher.ok());
  BulkResult result = matcher->Match(kAsOf, 1);
  std::vector<ReserveEntry> list =
      BuildReserveList(catalog.policies()[0], catalog.taxonomy(), store, result.policy(0).near_miss, kAsOf);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].credit_code, firms[1].credit_code);
  EXPECT_EQ(list[1].credit_code, firms[0].credit_code);
  EXPECT_EQ(list[2].credit_code, firms[2].credit_code);

  ASSERT_TRUE(list[1].gap);
  EXPECT_EQ(list[1].condition, 2);
  EXPECT_EQ(list[1].condition_text, "revenue >= 1000万元");
  EXPECT_EQ(list[1].gap->value, D("9000000"));
  EXPECT_EQ(list[1].gap->threshold, D("10000000"));
  EXPECT_EQ(list[1].gap->gap, D("1000000"));
  EXPECT_EQ(list[1].gap->relative, D("0.1"));
  EXPECT_EQ(list[1].gap->ToString(), "年营业收入 9,000,000 < 10,000,000 (gap 1,000,000)");
  EXPECT_EQ(list[0].gap->ToString(), "年营业收入 9,990,000 < 10,000,000 (gap 10,000)");

  EXPECT_FALSE(list[2].gap);
  EXPECT_EQ(list[2].condition_text, "qual.sme_tech");
  EXPECT_THAT(list[2].data, HasSubstr("not held"));

  // The summary counts the same near misses by condition.
  std::vector<ReserveSummary> summary = SummarizeReserves(catalog, store, result, kAsOf);
  ASSERT_EQ(summary.size(), 1u);
  EXPECT_EQ(summary[0].near_miss, 3);
  EXPECT_THAT(summary[0].by_condition,
              ElementsAre(std::make_pair(std::string("revenue >= 1000万元"), int64_t{2}),
                          std::make_pair(std::string("qual.sme_tech"), int64_t{1})));
}

TEST(ReserveTest, GapShapes) {
  Catalog catalog = MakeCatalog(R"pb(
    policy { id: "a" title: "t" eligibility: "qual.hitech and 50 >= employees" }
    policy { id: "b" title: "t" eligibility: "qual.hitech and tech_staff >= employees * 10%" }
    policy { id: "c" title: "t" eligibility: "qual.hitech and new_rd_equipment_investment > 0" }
    policy { id: "d" title: "t" eligibility: "qual.hitech and (invention_patents >= 1 or ip_class2 >= 1)" })pb");
  Firm f = MakeFirm(1, {.facts = {{"employees", "52"}, {"tech_staff", "4"},
                                  {"new_rd_equipment_investment", "0"},
                                  {"invention_patents", "0"}, {"ip_class2", "0"}},
                        .tags = {"qual.hitech"}});
  FirmView view(f, catalog.taxonomy(), kAsOf);
  auto miss = [&](const char* id) {
    std::optional<ReserveEntry> e = DescribeNearMiss(*catalog.Find(id), catalog.taxonomy(), view);
    EXPECT_TRUE(e) << id;
    return e ? *e : ReserveEntry{};
  };
  // The constant on the left: read as employees <= 50.
  EXPECT_EQ(miss("a").gap->ToString(), "从业人数 52 > 50 (gap 2)");
  EXPECT_EQ(miss("a").gap->needed, Op::kLe);
  // A threshold that depends on the firm.
  EXPECT_EQ(miss("b").gap->ToString(), "科技人员数 4 < 5.2 (employees * 10%) (gap 1.2)");
  // A strict comparison at its boundary.
  EXPECT_EQ(miss("c").gap->ToString(), "新增研发仪器设备投资额 0 = 0 (needs > 0)");
  EXPECT_EQ(miss("c").gap->relative, Decimal());
  // Not a comparison: no gap, the data instead.
  EXPECT_FALSE(miss("d").gap);
  EXPECT_THAT(miss("d").data, HasSubstr("invention_patents = 0"));
  // Not a near miss at all.
  Firm eligible = MakeFirm(2, {.facts = {{"employees", "5"}}, .tags = {"qual.hitech"}});
  EXPECT_FALSE(DescribeNearMiss(*catalog.Find("a"), catalog.taxonomy(),
                                FirmView(eligible, catalog.taxonomy(), kAsOf)));
}

// ---------------------------------------------------------------------------------------------
// simulate.h

constexpr char kBaseline[] = R"pb(
  policy { id: "cult" title: "培育" mode: AUTO_GRANT
           eligibility: "region under \"440000\" and revenue >= 1000万" benefit: "10万"
           exclusive_group: "g" }
  policy { id: "county" title: "县级" mode: AUTO_GRANT
           eligibility: "region under \"441581\" and revenue >= 500万" benefit: "15万"
           exclusive_group: "g" }
  policy { id: "other" title: "无关" mode: AUTO_GRANT eligibility: "qual.hitech" benefit: "1万" })pb";

std::vector<Firm> SimulationFirms() {
  std::vector<Firm> firms;
  const char* regions[] = {"441502", "441581", "440803", "420106", "441502"};
  const char* industries[] = {"I6513", "C13", "M73", "I65", ""};
  const char* revenues[] = {"", "3000000", "6000000", "9000000", "12000000", "50000000"};
  const char* employees[] = {"", "5", "50", "500", "5000"};
  int serial = 0;
  for (const char* r : regions) {
    for (const char* rev : revenues) {
      for (const char* e : employees) {
        FirmSpec spec{r, industries[serial % 5], {}, {}};
        if (*rev) spec.facts["revenue"] = rev;
        if (*e) spec.facts["employees"] = e;
        if (serial % 3 == 0) spec.tags.push_back("qual.hitech");
        firms.push_back(MakeFirm(++serial, spec));
      }
    }
  }
  return firms;
}

// The expected comparison, from the reference matcher on both catalogs.
SimulationCounts ReferenceCounts(const Catalog& before, const Catalog& after,
                                 const std::vector<std::string>& ids, const std::vector<Firm>& firms) {
  const auto ob = ReferenceMatcher(before).EvaluateAll(firms, kAsOf);
  const auto oa = ReferenceMatcher(after).EvaluateAll(firms, kAsOf);
  SimulationCounts c;
  for (const std::string& id : ids) {
    const int pb = before.IndexOf(id);
    const int pa = after.IndexOf(id);
    for (size_t f = 0; f < firms.size(); ++f) {
      const Outcome b = pb >= 0 ? ob[f][pb] : Outcome{};
      const Outcome a = pa >= 0 ? oa[f][pa] : Outcome{};
      const bool eb = b.status == ELIGIBLE;
      const bool ea = a.status == ELIGIBLE;
      if (eb && b.benefit) c.benefit_before.Add(*b.benefit);
      if (ea && a.benefit) c.benefit_after.Add(*a.benefit);
      if (!eb && ea) ++c.newly_eligible;
      if (eb && !ea) ++c.newly_ineligible;
      if (eb && ea) {
        ++c.unchanged;
        if (a.benefit != b.benefit) ++c.amount_changed;
      }
    }
  }
  return c;
}

void ExpectSameCounts(const SimulationCounts& got, const SimulationCounts& want) {
  EXPECT_EQ(got.newly_eligible, want.newly_eligible);
  EXPECT_EQ(got.newly_ineligible, want.newly_ineligible);
  EXPECT_EQ(got.unchanged, want.unchanged);
  EXPECT_EQ(got.amount_changed, want.amount_changed);
  EXPECT_EQ(got.benefit_before.ToFixed2(), want.benefit_before.ToFixed2());
  EXPECT_EQ(got.benefit_after.ToFixed2(), want.benefit_after.ToFixed2());
}

TEST(SimulateTest, LoweredThresholdAgainstReference) {
  Catalog baseline = MakeCatalog(kBaseline);
  PolicyCatalog reform;
  Policy* p = reform.add_policy();
  *p = baseline.Find("cult")->policy;
  p->set_eligibility("region under \"440000\" and revenue >= 500万");
  Diagnostics diags;
  std::vector<std::string> changed;
  absl::StatusOr<Catalog> after = ApplyReform(baseline, reform, "--policy cult", &diags, &changed);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(changed, ElementsAre("cult"));

  const std::vector<Firm> firms = SimulationFirms();
  FirmStore store = MakeStore(firms);
  absl::StatusOr<Simulation> sim = Simulate(baseline, *after, changed, store, {kAsOf, 2}, &diags);
  ASSERT_TRUE(sim.ok()) << sim.status();
  // The group partner is compared too (就高不重复 couples them); the unrelated policy is not.
  EXPECT_THAT(sim->compared, ElementsAre("county", "cult"));
  ExpectSameCounts(sim->total, ReferenceCounts(baseline, *after, sim->compared, firms));
  // 广东 firms with revenue in [500万, 1000万) gain `cult` (10万) — except in 陆丰 (441581),
  // where `county` pays more (15万) and keeps them.
  EXPECT_EQ(sim->total.newly_eligible, 3 * 2 * 5);  // 3 region slots × 2 revenues × 5 sizes
  EXPECT_GT(sim->firms_affected, 0);

  // Breakdowns partition the total.
  for (const auto* rows : {&sim->by_policy, &sim->by_city, &sim->by_section, &sim->by_size}) {
    SimulationCounts sum;
    for (const SimulationRow& r : *rows) {
      sum.newly_eligible += r.counts.newly_eligible;
      sum.newly_ineligible += r.counts.newly_ineligible;
      sum.unchanged += r.counts.unchanged;
      sum.amount_changed += r.counts.amount_changed;
      sum.benefit_before.Add(r.counts.benefit_before);
      sum.benefit_after.Add(r.counts.benefit_after);
    }
    ExpectSameCounts(sum, sim->total);
  }
  std::map<std::string, std::string> cities;
  for (const SimulationRow& r : sim->by_city) cities[r.key] = r.label;
  EXPECT_EQ(cities["441500"], "汕尾市");
  EXPECT_EQ(cities["440800"], "湛江市");
  std::vector<std::string> bands;
  for (const SimulationRow& r : sim->by_size) bands.push_back(r.key);
  EXPECT_THAT(bands, ElementsAre("micro", "small", "medium", "large", "unknown"));
}

TEST(SimulateTest, BenefitOnlyAndAddedPolicyAgainstReference) {
  Catalog baseline = MakeCatalog(kBaseline);
  PolicyCatalog reform;
  Policy* raised = reform.add_policy();
  *raised = baseline.Find("other")->policy;
  raised->set_benefit("min(revenue * 1%, 20万)");
  Policy* added = reform.add_policy();
  added->set_id("new");
  added->set_title("新增");
  added->set_mode(Policy::AUTO_GRANT);
  added->set_eligibility("region under \"441500\" and employees >= 50");
  added->set_benefit("2万");
  Diagnostics diags;
  std::vector<std::string> changed;
  absl::StatusOr<Catalog> after = ApplyReform(baseline, reform, "reform.textproto", &diags, &changed);
  ASSERT_TRUE(after.ok()) << after.status();
  const std::vector<Firm> firms = SimulationFirms();
  FirmStore store = MakeStore(firms);
  absl::StatusOr<Simulation> sim = Simulate(baseline, *after, changed, store, {kAsOf, 1}, &diags);
  ASSERT_TRUE(sim.ok()) << sim.status();
  EXPECT_THAT(sim->compared, ElementsAre("new", "other"));
  ExpectSameCounts(sim->total, ReferenceCounts(baseline, *after, sim->compared, firms));
  EXPECT_GT(sim->total.amount_changed, 0);
  // 高企 without revenue get an unknown amount: AUTO_GRANT makes them UNDETERMINED.
  EXPECT_GT(sim->total.newly_ineligible, 0);
}

TEST(SimulateTest, ReformErrorsAreReported) {
  Catalog baseline = MakeCatalog(kBaseline);
  PolicyCatalog reform;
  Policy* p = reform.add_policy();
  *p = baseline.Find("cult")->policy;
  p->set_eligibility("revenue >=");
  Diagnostics diags;
  std::vector<std::string> changed;
  EXPECT_FALSE(ApplyReform(baseline, reform, "r.textproto", &diags, &changed).ok());
  ASSERT_TRUE(diags.has_errors());
  EXPECT_EQ(diags.items()[0].file, "r.textproto");
  EXPECT_THAT(SelectPolicies(baseline, {"nope"}, &diags).status().message(), HasSubstr("unknown policy nope"));
}

// ---------------------------------------------------------------------------------------------
// cultivation_path.h

constexpr char kLadderPolicies[] = R"pb(
  policy { id: "a-sme" title: "科小入库服务" eligibility: "qual.sme_tech and region under \"420000\""
           benefit_note: "入库辅导" }
  policy { id: "b-hitech" title: "高企补贴" mode: AUTO_GRANT
           eligibility: "qual.hitech and region under \"420000\"" benefit: "20万" }
  policy { id: "c-reserve" title: "后备库奖励" mode: AUTO_GRANT
           eligibility: "qual.hitech_reserve and not qual.hitech and region under \"420000\"" benefit: "5万" }
  policy { id: "d-specialized" title: "专精特新奖励" mode: AUTO_GRANT
           eligibility: "qual.specialized and region under \"420000\"" benefit: "50万" }
  policy { id: "e-elsewhere" title: "外地" mode: AUTO_GRANT
           eligibility: "qual.hitech and region under \"440000\"" benefit: "100万" })pb";

TEST(CultivationPathTest, ShortestPathToTheMostBenefit) {
  Catalog catalog = MakeCatalog(kLadderPolicies);
  Firm firm = MakeFirm(1, {.region = "420106"});
  absl::StatusOr<CultivationPath> path = FindCultivationPath(catalog, firm, {kAsOf});
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_THAT(path->ladders, ElementsAre("hitech_path"));
  EXPECT_THAT(path->steps_considered,
              ElementsAre("qual.sme_tech", "qual.hitech_reserve", "qual.hitech", "qual.specialized"));
  EXPECT_TRUE(path->held.empty());
  EXPECT_EQ(path->states, 16);
  EXPECT_EQ(path->start_eligible, 0);
  // 70万 (高企 + 专精特新) is the most money; 科小 adds a policy; 后备 would be closed by 高企.
  ASSERT_EQ(path->steps.size(), 3u);
  EXPECT_EQ(path->steps[0].tag, "qual.sme_tech");
  EXPECT_EQ(path->steps[1].tag, "qual.hitech");
  EXPECT_EQ(path->steps[2].tag, "qual.specialized");
  ASSERT_EQ(path->steps[0].gained.size(), 1u);
  EXPECT_EQ(path->steps[0].gained[0].id, "a-sme");
  EXPECT_FALSE(path->steps[0].gained[0].benefit);
  EXPECT_EQ(path->steps[0].gained[0].note, "入库辅导");
  ASSERT_EQ(path->steps[1].gained.size(), 1u);
  EXPECT_EQ(path->steps[1].gained[0].id, "b-hitech");
  EXPECT_EQ(path->steps[1].gained[0].benefit, D("200000"));
  EXPECT_EQ(path->steps[2].total.ToFixed2(), "700000.00");
  EXPECT_EQ(path->steps[2].eligible, 3);
}

TEST(CultivationPathTest, HeldStepsAndLostPolicies) {
  Catalog catalog = MakeCatalog(kLadderPolicies);
  // Holds 后备 (5万) already: obtaining 高企 closes it but pays 20万.
  Firm firm = MakeFirm(2, {.region = "420106", .tags = {"qual.hitech_reserve", "qual.sme_tech"}});
  absl::StatusOr<CultivationPath> path = FindCultivationPath(catalog, firm, {kAsOf});
  ASSERT_TRUE(path.ok());
  EXPECT_THAT(path->held, ElementsAre("qual.sme_tech", "qual.hitech_reserve"));
  EXPECT_EQ(path->states, 4);
  EXPECT_EQ(path->start_total.ToFixed2(), "50000.00");
  ASSERT_EQ(path->steps.size(), 2u);
  EXPECT_EQ(path->steps[0].tag, "qual.hitech");
  ASSERT_EQ(path->steps[0].lost.size(), 1u);
  EXPECT_EQ(path->steps[0].lost[0].id, "c-reserve");
  EXPECT_EQ(path->steps[1].total.ToFixed2(), "700000.00");

  // Nothing to gain outside the policies' region.
  Firm far = MakeFirm(3, {.region = "110105"});
  absl::StatusOr<CultivationPath> none = FindCultivationPath(catalog, far, {kAsOf});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->steps.empty());

  PathOptions bad{kAsOf};
  bad.ladder = "nope";
  EXPECT_FALSE(FindCultivationPath(catalog, firm, bad).ok());
}

}  // namespace
}  // namespace polmatch
