// The reference evaluator: Kleene logic, exact arithmetic, every function, tag validity.
#include "engine/expr/eval.h"

#include "engine/expr/parser.h"
#include "engine/ingest/firm.h"
#include "engine/util/dates.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using testing::MakeFirm;
using testing::MakeProfile;
using testing::RealTaxonomy;

class EvalTest : public ::testing::Test {
 protected:
  EvalTest() {
    profile_ = MakeProfile("440802", 1, "I6513", "2020-03-15");
    (*profile_.mutable_facts())["revenue"] = "12345.675";
    (*profile_.mutable_facts())["employees"] = "0";
    auto* t = profile_.add_tags();
    t->set_id("qual.hitech");
    t->set_valid_from("2021-01-01");
    t->set_valid_to("2023-12-31");
    t = profile_.add_tags();
    t->set_id("org.new_rd_institution.public_interest");
  }
  std::string Eval(const std::string& src, const char* as_of = "2023-06-30") {
    ExprError err;
    auto n = ParseExpr(src, &err);
    if (!n.ok()) return "PARSE " + err.message;
    Node* root = n->get();
    // Check as whatever type the expression has.
    for (Type t : {Type::kBool, Type::kNumber, Type::kDate}) {
      ExprError e2;
      auto m = CompileExpr(src, RealTaxonomy(), t, &e2);
      if (m.ok()) {
        firm_ = MakeFirm(profile_);
        FirmView view(firm_, RealTaxonomy(), *ParseDate(as_of));
        return Evaluate(**m, view).ToString();
      }
    }
    (void)root;
    return "CHECK";
  }
  FirmProfile profile_;
  Firm firm_;
};

TEST_F(EvalTest, KleeneTruthTables) {
  // T = qual.hitech (held), F = qual.sme_tech (not held), U = rd_expense > 0 (missing fact).
  const char* vals[] = {"qual.hitech", "qual.sme_tech", "rd_expense > 0"};
  const char* names[] = {"TRUE", "FALSE", "UNKNOWN"};
  const char* and_table[3][3] = {{"TRUE", "FALSE", "UNKNOWN"},
                                 {"FALSE", "FALSE", "FALSE"},
                                 {"UNKNOWN", "FALSE", "UNKNOWN"}};
  const char* or_table[3][3] = {{"TRUE", "TRUE", "TRUE"},
                                {"TRUE", "FALSE", "UNKNOWN"},
                                {"TRUE", "UNKNOWN", "UNKNOWN"}};
  for (int a = 0; a < 3; ++a) {
    EXPECT_EQ(Eval(vals[a]), names[a]);
    for (int b = 0; b < 3; ++b) {
      EXPECT_EQ(Eval(std::string(vals[a]) + " and " + vals[b]), and_table[a][b]) << a << b;
      EXPECT_EQ(Eval(std::string(vals[a]) + " or " + vals[b]), or_table[a][b]) << a << b;
    }
  }
  EXPECT_EQ(Eval("not qual.hitech"), "FALSE");
  EXPECT_EQ(Eval("not qual.sme_tech"), "TRUE");
  EXPECT_EQ(Eval("not rd_expense > 0"), "UNKNOWN");
}

TEST_F(EvalTest, MissingFactIsUnknownNotZero) {
  EXPECT_EQ(Eval("rd_expense == 0"), "UNKNOWN");
  EXPECT_EQ(Eval("employees == 0"), "TRUE");  // a known zero is a zero
  EXPECT_EQ(Eval("has_fact(rd_expense)"), "FALSE");
  EXPECT_EQ(Eval("has_fact(employees)"), "TRUE");
  EXPECT_EQ(Eval("rd_expense + 1"), "UNKNOWN");
  EXPECT_EQ(Eval("rd_expense in [1, 2]"), "UNKNOWN");
}

TEST_F(EvalTest, ExactArithmetic) {
  EXPECT_EQ(Eval("revenue * 20%"), "2469.135");
  EXPECT_EQ(Eval("revenue / 3"), "4115.225");
  EXPECT_EQ(Eval("0.1 + 0.2 == 0.3"), "TRUE");
  EXPECT_EQ(Eval("-revenue"), "-12345.675");
  EXPECT_EQ(Eval("1.5亿 / 1万"), "15000");
  EXPECT_EQ(Eval("revenue / employees"), "UNKNOWN");            // division by zero
  EXPECT_EQ(Eval("9000000000000 * 2 > 0"), "UNKNOWN");           // overflow
  EXPECT_EQ(Eval("9000000000000 * 2 > 0 or qual.hitech"), "TRUE");
}

TEST_F(EvalTest, Functions) {
  EXPECT_EQ(Eval("min(revenue, 100, 5000)"), "100");
  EXPECT_EQ(Eval("max(revenue, 100)"), "12345.675");
  EXPECT_EQ(Eval("min(revenue, rd_expense)"), "UNKNOWN");
  EXPECT_EQ(Eval("abs(-3.5)"), "3.5");
  EXPECT_EQ(Eval("if(qual.hitech, 200万, 100万)"), "2000000");
  EXPECT_EQ(Eval("if(qual.sme_tech, 200万, 100万)"), "1000000");
  EXPECT_EQ(Eval("if(rd_expense > 0, 1, 2)"), "UNKNOWN");
  // tier: the amount of the highest threshold ≤ x, else 0.
  EXPECT_EQ(Eval("tier(revenue, 10000, 1, 12345.675, 2, 20000, 3)"), "2");
  EXPECT_EQ(Eval("tier(revenue, 20000, 3, 10000, 1)"), "1");  // thresholds in any order
  EXPECT_EQ(Eval("tier(revenue, 20000, 3)"), "0");
  EXPECT_EQ(Eval("tier(rd_expense, 1, 1)"), "UNKNOWN");
  EXPECT_EQ(Eval("date(\"2023-01-01\")"), "2023-01-01");
  EXPECT_EQ(Eval("years_between(founded, as_of)", "2023-03-14"), "2");
  EXPECT_EQ(Eval("years_between(founded, as_of)", "2023-03-15"), "3");
  EXPECT_EQ(Eval("days_between(founded, date(\"2020-03-16\"))"), "1");
  EXPECT_EQ(Eval("days_between(date(\"2024-03-01\"), date(\"2024-02-28\"))"), "-2");
  EXPECT_EQ(Eval("valid_to(qual.hitech)"), "2023-12-31");
  EXPECT_EQ(Eval("valid_from(qual.hitech)"), "2021-01-01");
  EXPECT_EQ(Eval("valid_to(qual.sme_tech)"), "UNKNOWN");              // not held
  EXPECT_EQ(Eval("valid_to(org.new_rd_institution)"), "UNKNOWN");     // open end
  EXPECT_EQ(Eval("days_between(as_of, valid_to(qual.hitech)) <= 184"), "TRUE");
}

TEST_F(EvalTest, TagValidityOnAsOf) {
  EXPECT_EQ(Eval("qual.hitech", "2020-12-31"), "FALSE");
  EXPECT_EQ(Eval("qual.hitech", "2021-01-01"), "TRUE");  // inclusive
  EXPECT_EQ(Eval("qual.hitech", "2023-12-31"), "TRUE");  // inclusive
  EXPECT_EQ(Eval("qual.hitech", "2024-01-01"), "FALSE");
  EXPECT_EQ(Eval("qual.hitech == true", "2024-01-01"), "FALSE");
}

TEST_F(EvalTest, HierarchyImpliesAncestors) {
  EXPECT_EQ(Eval("org.new_rd_institution"), "TRUE");
  EXPECT_EQ(Eval("org"), "TRUE");
  EXPECT_EQ(Eval("org.new_rd_institution.enterprise"), "FALSE");
  EXPECT_EQ(Eval("新型研发机构 and 公益类新型研发机构"), "TRUE");
}

TEST_F(EvalTest, UnderFollowsTheCodeHierarchy) {
  EXPECT_EQ(Eval("region under \"440802\""), "TRUE");
  EXPECT_EQ(Eval("region under \"440800\""), "TRUE");
  EXPECT_EQ(Eval("region under \"440000\""), "TRUE");
  EXPECT_EQ(Eval("region under \"441500\""), "FALSE");
  EXPECT_EQ(Eval("region under \"440803\""), "FALSE");
  EXPECT_EQ(Eval("industry under \"I\""), "TRUE");
  EXPECT_EQ(Eval("industry under \"I65\""), "TRUE");
  EXPECT_EQ(Eval("industry under \"I6513\""), "TRUE");
  EXPECT_EQ(Eval("industry under \"I64\""), "FALSE");
  EXPECT_EQ(Eval("industry under \"C\""), "FALSE");
  EXPECT_EQ(Eval("region == \"440802\" and industry in [\"I6512\", \"I6513\"]"), "TRUE");
}

TEST(TaxonomyTest, UnderIsStructural) {
  EXPECT_TRUE(Taxonomy::RegionUnder("440802", "440800"));
  EXPECT_TRUE(Taxonomy::RegionUnder("440802", "440000"));
  EXPECT_FALSE(Taxonomy::RegionUnder("440802", "441500"));
  EXPECT_TRUE(Taxonomy::RegionUnder("429004", "429000"));
  EXPECT_TRUE(Taxonomy::RegionUnder("420102", "420000"));
  EXPECT_FALSE(Taxonomy::RegionUnder("420102", "420200"));
  EXPECT_TRUE(Taxonomy::IndustryUnder("I6513", "I"));
  EXPECT_TRUE(Taxonomy::IndustryUnder("I6513", "I65"));
  EXPECT_TRUE(Taxonomy::IndustryUnder("I6513", "I651"));
  EXPECT_FALSE(Taxonomy::IndustryUnder("I6513", "I6"));  // not a level of the hierarchy
  EXPECT_FALSE(Taxonomy::IndustryUnder("I65", "I6513"));
}

}  // namespace
}  // namespace polmatch
