// Direct tests of the single-firm PolicyIndex and of the bulk matcher's MatchPlan on small
// hand-built catalogs: which policies are candidates, which statuses and amounts come out, and
// how the plan shares and scopes what policies write.
#include "engine/match/policy_index.h"

#include <map>
#include <string>
#include <vector>

#include "engine/index/firm_store.h"
#include "engine/match/plan.h"
#include "engine/match/plan_eval.h"
#include "engine/util/dates.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using testing::MakeFirm;
using testing::MakeProfile;
using testing::RealTaxonomy;

Catalog MakeCatalog(const std::string& text) {
  PolicyCatalog pc;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &pc));
  Diagnostics diags;
  auto c = Catalog::FromProtos(std::make_shared<const Taxonomy>(RealTaxonomy()), {pc}, &diags);
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

// Six policies, each with one thing to show.
const char* kCatalog = R"pb(
  policy { id: "a-shanwei-rd" title: "汕尾研发" mode: AUTO_GRANT
           eligibility: "region under \"441500\" and rd_expense >= 100万 and not credit.blacklist"
           benefit: "rd_expense * 10%" }
  policy { id: "b-wuhan-hitech" title: "武汉高企" mode: APPLY
           eligibility: "region under \"420100\" and qual.hitech and employees >= 10" }
  policy { id: "c-revenue" title: "全国营收" mode: APPLY
           eligibility: "revenue >= 1000万 and employees >= 10" benefit: "50000" }
  policy { id: "d-group-small" title: "组内小额" mode: APPLY exclusive_group: "g"
           eligibility: "employees >= 10" benefit: "10000" }
  policy { id: "e-group-large" title: "组内大额" mode: APPLY exclusive_group: "g"
           eligibility: "employees >= 10" benefit: "20000" }
  policy { id: "f-ended" title: "已失效" mode: APPLY valid_to: "2020-12-31"
           eligibility: "employees >= 1" }
)pb";

struct Hit {
  MatchStatus status;
  std::string benefit;  // "" when none
  bool operator==(const Hit& o) const { return status == o.status && benefit == o.benefit; }
};
std::ostream& operator<<(std::ostream& os, const Hit& h) {
  return os << MatchStatus_Name(h.status) << " " << h.benefit;
}

class PolicyIndexTest : public ::testing::Test {
 protected:
  PolicyIndexTest() : catalog_(MakeCatalog(kCatalog)), index_(catalog_) {}

  // The hits for `profile` on 2023-06-30, by policy id.
  std::map<std::string, Hit> Match(const FirmProfile& profile) {
    const Firm firm = MakeFirm(profile);
    std::vector<PolicyHit> hits;
    index_.Match(FirmView(firm, catalog_.taxonomy(), absl::CivilDay(2023, 6, 30)), &hits);
    std::map<std::string, Hit> out;
    int last = -1;
    for (const PolicyHit& h : hits) {
      EXPECT_GT(static_cast<int>(h.policy.value), last) << "hits in catalog order";
      last = static_cast<int>(h.policy.value);
      out[catalog_.policies()[h.policy.value].id()] = {h.status, h.benefit() ? h.benefit()->ToFixed(2) : ""};
    }
    return out;
  }

  Catalog catalog_;
  PolicyIndex index_;
};

TEST_F(PolicyIndexTest, ShanweiFirmGetsItsScopeAndTheUnscopedPolicies) {
  FirmProfile p = MakeProfile("441502", 1);
  (*p.mutable_facts())["rd_expense"] = "2000000";
  (*p.mutable_facts())["revenue"] = "5000000";  // below 1000万: one actionable false → near miss
  (*p.mutable_facts())["employees"] = "12";
  const std::map<std::string, Hit> want = {
      {"a-shanwei-rd", {ELIGIBLE, "200000.00"}},
      {"c-revenue", {NEAR_MISS, ""}},
      {"d-group-small", {EXCLUDED, "10000.00"}},  // the larger benefit of the group wins
      {"e-group-large", {ELIGIBLE, "20000.00"}},
  };
  EXPECT_EQ(Match(p), want);
  // Wuhan's policy is not even a candidate; the ended one is, and the prefilter drops it.
  EXPECT_EQ(PolicyIndex::LastStats().candidates, 5);
}

TEST_F(PolicyIndexTest, NonActionableFalseIsIneligibleNotANearMiss) {
  FirmProfile p = MakeProfile("441502", 2);
  (*p.mutable_facts())["rd_expense"] = "2000000";
  (*p.mutable_facts())["employees"] = "3";
  p.add_tags()->set_id("credit.blacklist");
  // a: the blacklist is not actionable → INELIGIBLE (unlisted). c: revenue unknown and employees
  // false → INELIGIBLE. d, e: one condition only, false → INELIGIBLE.
  EXPECT_EQ(Match(p), (std::map<std::string, Hit>{}));
}

TEST_F(PolicyIndexTest, UnknownDataIsUndeterminedAndAnUnknownAutoGrantAmountToo) {
  FirmProfile p = MakeProfile("420111", 3);
  p.add_tags()->set_id("qual.hitech");
  (*p.mutable_facts())["employees"] = "40";  // revenue unknown
  const std::map<std::string, Hit> want = {
      {"b-wuhan-hitech", {ELIGIBLE, ""}},
      {"c-revenue", {UNDETERMINED, ""}},
      {"d-group-small", {EXCLUDED, "10000.00"}},
      {"e-group-large", {ELIGIBLE, "20000.00"}},
  };
  EXPECT_EQ(Match(p), want);
  // A Shanwei firm whose rd_expense is unknown: the amount of a 免申即享 policy is needed.
  FirmProfile q = MakeProfile("441502", 4);
  (*q.mutable_facts())["employees"] = "40";
  EXPECT_EQ(Match(q).count("a-shanwei-rd"), 1u);
  EXPECT_EQ(Match(q).at("a-shanwei-rd").status, UNDETERMINED);
}

TEST_F(PolicyIndexTest, UnknownRegionMakesEveryPolicyACandidate) {
  FirmProfile p = MakeProfile("441502", 5);
  Firm firm = MakeFirm(p);
  firm.region = "";
  std::vector<PolicyHit> hits;
  index_.Match(FirmView(firm, catalog_.taxonomy(), absl::CivilDay(2023, 6, 30)), &hits);
  EXPECT_EQ(PolicyIndex::LastStats().candidates, 6);
}

TEST_F(PolicyIndexTest, PortableAndVectorPrefiltersAgree) {
  FirmProfile p = MakeProfile("441502", 6);
  (*p.mutable_facts())["rd_expense"] = "2000000";
  (*p.mutable_facts())["revenue"] = "5000000";
  (*p.mutable_facts())["employees"] = "12";
  const std::map<std::string, Hit> simd = Match(p);
  plan_internal::DisableSimdForTesting(true);
  const std::map<std::string, Hit> portable = Match(p);
  plan_internal::DisableSimdForTesting(false);
  EXPECT_EQ(simd, portable);
  EXPECT_EQ(simd.size(), 4u);
}

// ---- MatchPlan --------------------------------------------------------------------------------

TEST(MatchPlanTest, SharesConditionsScopesPoliciesAndGroupsUnits) {
  const Catalog catalog = MakeCatalog(kCatalog);
  std::vector<Firm> firms;
  for (const char* region : {"441502", "441521", "420111", "440802"}) {
    firms.push_back(MakeFirm(MakeProfile(region, static_cast<int>(firms.size()) + 1)));
  }
  absl::StatusOr<FirmStore> store = FirmStore::Build(firms, RealTaxonomy());
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<MatchPlan> plan = MatchPlan::Compile(catalog, *store);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->policies().size(), 6u);
  const PolicyPlan& b = plan->policies()[1];
  const PolicyPlan& c = plan->policies()[2];
  const PolicyPlan& d = plan->policies()[3];
  // `employees >= 10`, written by b, c, d and e, is one node.
  ASSERT_EQ(b.conditions.size(), 3u);
  ASSERT_EQ(c.conditions.size(), 2u);
  EXPECT_EQ(b.conditions[2], c.conditions[1]);
  EXPECT_EQ(d.eligibility, c.conditions[1]);
  EXPECT_EQ(plan->policies()[4].eligibility, d.eligibility);
  // Scopes: Shanwei's policy covers the store's two 4415xx rows, Wuhan's its one 4201xx row; an
  // unscoped policy covers every row.
  auto rows = [](const std::vector<RowRange>& scope) {
    uint32_t n = 0;
    for (const RowRange& r : scope) n += r.end - r.begin;
    return n;
  };
  EXPECT_EQ(rows(plan->policies()[0].scope), 2u);
  EXPECT_EQ(rows(b.scope), 1u);
  EXPECT_EQ(rows(c.scope), 4u);
  // The group is one unit of both members; the others are units of one.
  ASSERT_EQ(plan->groups().size(), 1u);
  EXPECT_EQ(plan->groups()[0], (std::vector<int>{3, 4}));
  int grouped_units = 0;
  for (const PlanUnit& u : plan->units()) {
    if (u.policies.size() > 1) {
      ++grouped_units;
      EXPECT_EQ(u.policies, (std::vector<int>{3, 4}));
    }
  }
  EXPECT_EQ(grouped_units, 1);
  EXPECT_EQ(plan->units().size(), 5u);
  // No policy has a limit: no rank node.
  for (const PolicyPlan& p : plan->policies()) EXPECT_EQ(p.rank, -1);
  // The shared comparison prints as one node.
  EXPECT_NE(plan->NodeToString(c.conditions[1]).find(">="), std::string::npos) << plan->NodeToString(c.conditions[1]);
}

}  // namespace
}  // namespace polmatch
