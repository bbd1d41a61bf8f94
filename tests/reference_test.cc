// Every status of SPEC §3 from the reference matcher, and the policy test runner.
#include "engine/match/reference.h"

#include "engine/match/explain.h"
#include "engine/match/policy_tests.h"
#include "engine/util/dates.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using testing::MakeFirm;
using testing::MakeProfile;
using testing::RealTaxonomy;

std::shared_ptr<const Taxonomy> SharedTaxonomy() {
  static auto t = std::make_shared<const Taxonomy>(Taxonomy(RealTaxonomy()));
  return t;
}

Catalog MakeCatalog(const std::string& text) {
  PolicyCatalog pc;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &pc));
  Diagnostics diags;
  auto c = Catalog::FromProtos(SharedTaxonomy(), {pc}, &diags);
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

const char* kShanwei = R"pb(
  policy {
    id: "shanwei-2021.4.4" title: "新型研发机构引进资助" mode: AUTO_GRANT
    valid_from: "2021-01-01" valid_to: "2021-12-31"
    eligibility: "org.new_rd_institution and region under \"441500\" and new_rd_equipment_investment > 0"
    benefit: "min(new_rd_equipment_investment * 20%, if(org.new_rd_institution.public_interest, 200万, 100万))"
  }
  policy {
    id: "it-cultivation" title: "培育名录库" mode: APPLY
    eligibility: "industry under \"I\" and revenue >= 1000万元 and not credit.blacklist"
  }
)pb";

class ReferenceTest : public ::testing::Test {
 protected:
  Outcome Run(const Catalog& c, const FirmProfile& p, const std::string& policy,
              const char* as_of = "2021-06-30") {
    Firm f = MakeFirm(p);
    ReferenceMatcher m(c);
    return m.EvaluateFirm(FirmView(f, c.taxonomy(), *ParseDate(as_of)))[c.IndexOf(policy)];
  }
  static FirmProfile Institution(const char* investment, const char* tag) {
    FirmProfile p = MakeProfile("441502", 7, "M73");
    if (investment) (*p.mutable_facts())["new_rd_equipment_investment"] = investment;
    p.add_tags()->set_id(tag);
    return p;
  }
};

TEST_F(ReferenceTest, EligibleWithExactBenefit) {
  Catalog c = MakeCatalog(kShanwei);
  Outcome o = Run(c, Institution("15000000", "org.new_rd_institution.public_interest"), "shanwei-2021.4.4");
  EXPECT_EQ(o.status, ELIGIBLE);
  EXPECT_EQ(FormatYuan(*o.benefit), "2000000.00");
  o = Run(c, Institution("15000000", "org.new_rd_institution.enterprise"), "shanwei-2021.4.4");
  EXPECT_EQ(FormatYuan(*o.benefit), "1000000.00");
  o = Run(c, Institution("12345.675", "org.new_rd_institution.enterprise"), "shanwei-2021.4.4");
  EXPECT_EQ(FormatYuan(*o.benefit), "2469.14");
}

TEST_F(ReferenceTest, Undetermined) {
  Catalog c = MakeCatalog(kShanwei);
  EXPECT_EQ(Run(c, Institution(nullptr, "org.new_rd_institution"), "shanwei-2021.4.4").status, UNDETERMINED);
  FirmProfile p = MakeProfile("441502", 8, "I6513");
  EXPECT_EQ(Run(c, p, "it-cultivation").status, UNDETERMINED);  // revenue missing
}

TEST_F(ReferenceTest, NearMissNeedsOneActionableFalseCondition) {
  Catalog c = MakeCatalog(kShanwei);
  FirmProfile p = MakeProfile("441502", 9, "I6513");
  (*p.mutable_facts())["revenue"] = "9999999.99";
  EXPECT_EQ(Run(c, p, "it-cultivation").status, NEAR_MISS);
  (*p.mutable_facts())["revenue"] = "10000000";
  EXPECT_EQ(Run(c, p, "it-cultivation").status, ELIGIBLE);
  // The one false condition is not actionable (blacklist) → INELIGIBLE.
  p.add_tags()->set_id("credit.blacklist");
  EXPECT_EQ(Run(c, p, "it-cultivation").status, INELIGIBLE);
  // Two false conditions → INELIGIBLE.
  FirmProfile q = MakeProfile("441502", 10, "C13");
  (*q.mutable_facts())["revenue"] = "1";
  EXPECT_EQ(Run(c, q, "it-cultivation").status, INELIGIBLE);
  // One false (industry, not actionable) → INELIGIBLE.
  (*q.mutable_facts())["revenue"] = "20000000";
  EXPECT_EQ(Run(c, q, "it-cultivation").status, INELIGIBLE);
  // False and unknown → INELIGIBLE (not all others true).
  FirmProfile r = Institution(nullptr, "org.incubator");
  EXPECT_EQ(Run(c, r, "shanwei-2021.4.4").status, INELIGIBLE);
  // Missing institution tag, everything else true → NEAR_MISS.
  FirmProfile s = Institution("100", "org.incubator");
  EXPECT_EQ(Run(c, s, "shanwei-2021.4.4").status, NEAR_MISS);
}

TEST_F(ReferenceTest, InactivePolicyMatchesNobody) {
  Catalog c = MakeCatalog(kShanwei);
  FirmProfile p = Institution("15000000", "org.new_rd_institution.public_interest");
  EXPECT_EQ(Run(c, p, "shanwei-2021.4.4", "2022-01-01").status, INELIGIBLE);
  EXPECT_EQ(Run(c, p, "shanwei-2021.4.4", "2020-12-31").status, INELIGIBLE);
  EXPECT_EQ(Run(c, p, "shanwei-2021.4.4", "2021-12-31").status, ELIGIBLE);
}

TEST_F(ReferenceTest, BenefitNeverNegative) {
  Catalog c = MakeCatalog(R"pb(policy { id: "neg" title: "t" mode: AUTO_GRANT eligibility: "true" benefit: "revenue - 100" })pb");
  FirmProfile p = MakeProfile("441502", 11);
  (*p.mutable_facts())["revenue"] = "1";
  Outcome o = Run(c, p, "neg");
  EXPECT_EQ(o.status, ELIGIBLE);
  EXPECT_EQ(FormatYuan(*o.benefit), "0.00");
}

TEST_F(ReferenceTest, ApplyPolicyWithUnknownBenefitIsStillEligible) {
  Catalog c = MakeCatalog(R"pb(policy { id: "a" title: "t" eligibility: "true" benefit: "rd_expense * 10%" })pb");
  Outcome o = Run(c, MakeProfile("441502", 12), "a");
  EXPECT_EQ(o.status, ELIGIBLE);
  EXPECT_FALSE(o.benefit.has_value());
}

TEST_F(ReferenceTest, ExclusiveGroupKeepsTheHighest) {
  Catalog c = MakeCatalog(R"pb(
    policy { id: "g-b" title: "b" mode: AUTO_GRANT eligibility: "true" benefit: "50万" exclusive_group: "g" }
    policy { id: "g-a" title: "a" mode: AUTO_GRANT eligibility: "true" benefit: "50万" exclusive_group: "g" }
    policy { id: "g-c" title: "c" mode: AUTO_GRANT eligibility: "revenue > 0" benefit: "revenue" exclusive_group: "g" }
  )pb");
  FirmProfile p = MakeProfile("441502", 13);
  EXPECT_EQ(Run(c, p, "g-a").status, ELIGIBLE);  // tie: smaller id wins; g-c undetermined
  EXPECT_EQ(Run(c, p, "g-b").status, EXCLUDED);
  EXPECT_EQ(Run(c, p, "g-c").status, UNDETERMINED);
  (*p.mutable_facts())["revenue"] = "600000";
  EXPECT_EQ(Run(c, p, "g-a").status, EXCLUDED);
  EXPECT_EQ(Run(c, p, "g-c").status, ELIGIBLE);
}

TEST_F(ReferenceTest, LimitSelectsTheTopRanked) {
  Catalog c = MakeCatalog(R"pb(
    policy { id: "top2" title: "t" eligibility: "qual.hitech" limit: 2 rank_by: "revenue" }
  )pb");
  std::vector<Firm> firms;
  const char* revenues[] = {"5", "9", nullptr, "9", "7"};
  for (int i = 0; i < 5; ++i) {
    FirmProfile p = MakeProfile("420102", 100 + i);
    if (revenues[i]) (*p.mutable_facts())["revenue"] = revenues[i];
    p.add_tags()->set_id("qual.hitech");
    firms.push_back(MakeFirm(p));
  }
  FirmProfile none = MakeProfile("420102", 200);
  firms.push_back(MakeFirm(none));
  ReferenceMatcher m(c);
  auto all = m.EvaluateAll(firms, *ParseDate("2022-01-01"));
  // Ranked: 9 (serial 101), 9 (103; larger code), 7, 5, unknown.
  EXPECT_EQ(all[1][0].status, ELIGIBLE);
  EXPECT_EQ(all[3][0].status, ELIGIBLE);
  EXPECT_EQ(all[4][0].status, NOT_SELECTED);
  EXPECT_EQ(all[0][0].status, NOT_SELECTED);
  EXPECT_EQ(all[2][0].status, NOT_SELECTED);
  EXPECT_EQ(all[5][0].status, INELIGIBLE);
}

// A tie at the limit's edge goes to the smaller credit code, whatever the input order.
TEST_F(ReferenceTest, LimitTieGoesToTheSmallerCreditCode) {
  Catalog c = MakeCatalog(R"pb(
    policy { id: "top1" title: "t" eligibility: "qual.hitech" limit: 1 rank_by: "revenue" }
  )pb");
  std::vector<Firm> firms;
  for (int serial : {103, 101}) {
    FirmProfile p = MakeProfile("420102", serial);
    (*p.mutable_facts())["revenue"] = "9";
    p.add_tags()->set_id("qual.hitech");
    firms.push_back(MakeFirm(p));
  }
  ASSERT_LT(firms[1].credit_code, firms[0].credit_code);
  ReferenceMatcher m(c);
  auto all = m.EvaluateAll(firms, *ParseDate("2022-01-01"));
  EXPECT_EQ(all[1][0].status, ELIGIBLE);
  EXPECT_EQ(all[0][0].status, NOT_SELECTED);
}

TEST_F(ReferenceTest, ExplainTracesConditions) {
  Catalog c = MakeCatalog(kShanwei);
  FirmProfile p = MakeProfile("441502", 14, "I6513");
  (*p.mutable_facts())["revenue"] = "9000000";
  Firm f = MakeFirm(p);
  FirmView view(f, c.taxonomy(), *ParseDate("2021-06-30"));
  ReferenceMatcher m(c);
  auto outcomes = m.EvaluateFirm(view);
  FirmMatches fm = ExplainFirm(c, view, outcomes);
  ASSERT_EQ(fm.results_size(), 2);
  const PolicyResult& r = fm.results(0);  // near miss sorts before ineligible
  EXPECT_EQ(r.policy(), "it-cultivation");
  EXPECT_EQ(r.status(), NEAR_MISS);
  ASSERT_EQ(r.conditions_size(), 3);
  EXPECT_EQ(r.conditions(1).text(), "revenue >= 1000万元");
  EXPECT_EQ(r.conditions(1).value(), ConditionTrace::FALSE);
  EXPECT_EQ(r.conditions(1).detail(), "年营业收入 revenue = 9000000");
  EXPECT_EQ(r.conditions(0).detail(), "industry = I6513 应用软件开发");
  EXPECT_EQ(r.reason(), "one condition missing: revenue >= 1000万元");
}

TEST(PolicyTestRunnerTest, CountsPassesAndFailures) {
  Catalog c = MakeCatalog(kShanwei);
  PolicyTestSuite suite;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(R"pb(
    test { name: "ok" policy: "shanwei-2021.4.4" as_of: "2021-06-30" expect_status: ELIGIBLE expect_benefit: "2000000.00"
      firm { credit_code: "91441502000000007L" region: "441502" facts { key: "new_rd_equipment_investment" value: "15000000" }
             tags { id: "org.new_rd_institution.public_interest" } } }
    test { name: "wrong amount" policy: "shanwei-2021.4.4" as_of: "2021-06-30" expect_status: ELIGIBLE expect_benefit: "1.00"
      firm { credit_code: "91441502000000007L" region: "441502" facts { key: "new_rd_equipment_investment" value: "15000000" }
             tags { id: "org.new_rd_institution.public_interest" } } }
    test { name: "bad firm" policy: "shanwei-2021.4.4" as_of: "2021-06-30" expect_status: ELIGIBLE
      firm { credit_code: "91441502000000007X" region: "441502" } }
    test { name: "unknown policy" policy: "nope" as_of: "2021-06-30" expect_status: ELIGIBLE }
  )pb", &suite));
  // Fix the check digit of the first firms so only the third is bad.
  std::string code = testing::MakeCreditCode("441502", 7);
  suite.mutable_test(0)->mutable_firm()->set_credit_code(code);
  suite.mutable_test(1)->mutable_firm()->set_credit_code(code);
  PolicyTestReport report;
  RunPolicyTestSuite(c, suite, "t.textproto", {1, 2, 3, 4}, &report);
  EXPECT_EQ(report.passed, 1);
  EXPECT_EQ(report.failed, 3);
  ASSERT_EQ(report.failures.size(), 3u);
  EXPECT_EQ(report.failures[0].message, "expected ELIGIBLE 1.00, got ELIGIBLE 2000000.00");
  EXPECT_NE(report.failures[1].message.find("bad check digit"), std::string::npos);
  EXPECT_EQ(report.failures[2].message, "unknown policy \"nope\"");
}

}  // namespace
}  // namespace polmatch
