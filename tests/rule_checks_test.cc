// The rule checks of `polmatch lint` (engine/analysis/rule_checks.h) and the condition reasoning
// under them (engine/analysis/conditions.h): each check finds what it should, says why, points at
// file:line:col, and stays quiet on correct rules.
#include "engine/analysis/rule_checks.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/analysis/conditions.h"
#include "engine/expr/parser.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// ---------------------------------------------------------------------------------------------
// conditions.h

std::unique_ptr<Node> Compile(const std::string& text, Type type = Type::kBool) {
  ExprError err;
  auto n = CompileExpr(text, testing::RealTaxonomy(), type, &err);
  EXPECT_TRUE(n.ok()) << text << ": " << err.message;
  return n.ok() ? std::move(*n) : nullptr;
}

Decimal D(const char* s) { return *Decimal::Parse(s); }

TEST(ConditionsTest, FoldConstant) {
  EXPECT_EQ(FoldConstant(*Compile("100万 * 2 + 1", Type::kNumber)), D("2000001"));
  EXPECT_EQ(FoldConstant(*Compile("tier(5, 1, 10, 4, 20, 9, 30)", Type::kNumber)), D("20"));
  EXPECT_EQ(FoldConstant(*Compile("min(3, -2, abs(-7))", Type::kNumber)), D("-2"));
  EXPECT_FALSE(FoldConstant(*Compile("revenue * 2", Type::kNumber)).has_value());
  EXPECT_FALSE(FoldConstant(*Compile("1 / 0", Type::kNumber)).has_value());
  EXPECT_EQ(FoldConstantBool(*Compile("1 < 2 and not (3 in [1, 2])")), true);
  EXPECT_FALSE(FoldConstantBool(*Compile("revenue > 1")).has_value());
  // Dates fold to day numbers, so date comparisons are read like numbers.
  EXPECT_EQ(FoldConstant(*Compile("date(\"1970-01-11\")", Type::kDate)), D("10"));
}

TEST(ConditionsTest, CanonicalTextUnifiesAliases) {
  const Taxonomy& tax = testing::RealTaxonomy();
  EXPECT_EQ(CanonicalText(*Compile("营业收入 >= 100万 and 高企"), tax),
            CanonicalText(*Compile("revenue >= 1000000 and qual.hitech"), tax));
  EXPECT_NE(CanonicalText(*Compile("revenue >= 100万"), tax),
            CanonicalText(*Compile("revenue > 100万"), tax));
}

TEST(ConditionsTest, NumericSetAnswersExactly) {
  NumericSet s = NumericSet::Of(Op::kGt, D("100"));
  s.Intersect(NumericSet::Of(Op::kLt, D("50")));
  EXPECT_TRUE(s.IsEmpty());
  EXPECT_EQ(s.ToString(), "> 100 and < 50");

  NumericSet point = NumericSet::Of(Op::kGe, D("5"));
  point.Intersect(NumericSet::Of(Op::kLe, D("5")));
  EXPECT_FALSE(point.IsEmpty());
  point.Intersect(NumericSet::Of(Op::kNe, D("5")));
  EXPECT_TRUE(point.IsEmpty());

  // Adjacent decimals: nothing lies strictly between 1 and 1.000001.
  NumericSet gap = NumericSet::Of(Op::kGt, D("1"));
  gap.Intersect(NumericSet::Of(Op::kLt, D("1.000001")));
  EXPECT_TRUE(gap.IsEmpty());

  EXPECT_TRUE(NumericSet::Of(Op::kGe, D("1000")).SubsetOf(NumericSet::Of(Op::kGt, D("0"))));
  EXPECT_FALSE(NumericSet::Of(Op::kGe, D("0")).SubsetOf(NumericSet::Of(Op::kGt, D("0"))));
  EXPECT_TRUE(NumericSet::OneOf({D("1"), D("2")}).SubsetOf(NumericSet::Of(Op::kLt, D("3"))));
  EXPECT_TRUE(NumericSet::OneOf({}).IsEmpty());

  // Constants at the ends of Decimal's range (their difference does not fit).
  NumericSet wide = NumericSet::Of(Op::kGt, D("-9000000000000"));
  wide.Intersect(NumericSet::Of(Op::kLt, D("9000000000000")));
  EXPECT_FALSE(wide.IsEmpty());
  wide.Intersect(NumericSet::Of(Op::kGe, D("9000000000000")));
  EXPECT_TRUE(wide.IsEmpty());

  EXPECT_TRUE(NumericSet::UnionIsEverything(
      {NumericSet::Of(Op::kGt, D("1")), NumericSet::Of(Op::kLe, D("1"))}));
  EXPECT_FALSE(NumericSet::UnionIsEverything(
      {NumericSet::Of(Op::kGt, D("1")), NumericSet::Of(Op::kLt, D("1"))}));
  EXPECT_TRUE(NumericSet::UnionIsEverything(
      {NumericSet::Of(Op::kNe, D("7")), NumericSet::OneOf({D("7")})}));
}

TEST(ConditionsTest, ConstraintSetFindsContradictionsAndImplications) {
  const Taxonomy& tax = testing::RealTaxonomy();
  auto a = Compile("revenue >= 1000万");
  auto b = Compile("revenue > 0");
  auto c = Compile("region under \"440800\"");
  auto d = Compile("region under \"440000\"");
  ConstraintSet set(tax);
  EXPECT_FALSE(set.Add(*a, 0));
  EXPECT_FALSE(set.Add(*b, 1));
  EXPECT_FALSE(set.Add(*c, 2));
  EXPECT_FALSE(set.Add(*d, 3));
  EXPECT_EQ(set.ImpliedByOthers(1), std::vector<int>{0});
  EXPECT_FALSE(set.ImpliedByOthers(0));
  EXPECT_EQ(set.ImpliedByOthers(3), std::vector<int>{2});
  EXPECT_FALSE(set.ImpliedByOthers(2));

  auto e = Compile("revenue < 500万");
  std::optional<Contradiction> contradiction = set.Add(*e, 4);
  ASSERT_TRUE(contradiction);
  EXPECT_THAT(contradiction->sources, ::testing::UnorderedElementsAre(0, 1, 4));

  // An `or` of different facts is not understood: it constrains nothing (sound, not complete).
  ConstraintSet opaque(tax);
  EXPECT_FALSE(opaque.Add(*Compile("revenue > 100 or employees > 5"), 0));
  EXPECT_FALSE(opaque.Add(*Compile("revenue < 50"), 1));
  EXPECT_FALSE(opaque.ImpliedByOthers(0));
}

// ---------------------------------------------------------------------------------------------
// rule_checks.h, through a rules directory on disk (so positions are real)

class RuleChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / absl::StrCat("rule_checks_", ::getpid(), "_", counter_++);
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "policies");
    fs::create_directory_symlink(fs::path(testing::RulesDir()) / "taxonomy", dir_ / "taxonomy");
  }

  // Loads `policies` (the body of a PolicyCatalog) and runs the checks on `as_of`.
  std::vector<Diagnostic> Check(const std::string& policies,
                                absl::CivilDay as_of = absl::CivilDay(2023, 6, 30),
                                const WorkingCalendar* calendar = nullptr) {
    std::ofstream(dir_ / "policies/p.textproto") << policies;
    Diagnostics diags;
    absl::StatusOr<Catalog> catalog = Catalog::LoadDir(dir_.string(), &diags);
    EXPECT_TRUE(catalog.ok()) << catalog.status();
    if (!catalog.ok()) return {};
    Diagnostics findings;
    RuleCheckOptions options{as_of};
    options.undated = false;  // the fixtures are undated; [undated] has its own test
    options.calendar = calendar;
    CheckRules(*catalog, options, &findings);
    findings.Sort();
    return findings.items();
  }

  // One policy whose eligibility is `eligibility` (on line 2 of the file; `more` adds fields).
  std::vector<Diagnostic> CheckEligibility(const std::string& eligibility, const std::string& more = "") {
    return Check(absl::StrCat("policy { id: \"p\" title: \"t\"\n  eligibility: \"", eligibility,
                              "\"\n", more, "}\n"));
  }

  static std::vector<std::string> Strings(const std::vector<Diagnostic>& ds) {
    std::vector<std::string> out;
    for (const Diagnostic& d : ds) out.push_back(d.ToString());
    return out;
  }

  fs::path dir_;
  static inline int counter_ = 0;
};

// Column of `needle` (its last occurrence with `last`) in line 2 (`  eligibility: "…`), 1-based,
// counting characters.
int Col(const std::string& eligibility, const std::string& needle, bool last = false) {
  const std::string line = "  eligibility: \"" + eligibility;
  const std::string prefix = line.substr(0, last ? line.rfind(needle) : line.find(needle));
  int chars = 0;
  for (unsigned char c : prefix) chars += (c & 0xC0) != 0x80;
  return chars + 1;
}

TEST_F(RuleChecksTest, UnsatisfiableNumericRange) {
  const std::string e = "revenue > 100万 and revenue < 50万";
  std::vector<Diagnostic> ds = CheckEligibility(e);
  ASSERT_EQ(ds.size(), 1u) << ::testing::PrintToString(Strings(ds));
  EXPECT_EQ(ds[0].severity, Diagnostic::Severity::kError);
  EXPECT_EQ(ds[0].line, 2);
  EXPECT_EQ(ds[0].column, Col(e, "revenue <"));
  EXPECT_THAT(ds[0].message,
              AllOf(HasSubstr("policy p: eligibility can never be true"),
                    HasSubstr("`revenue > 100万` and `revenue < 50万`"),
                    HasSubstr("no value of revenue is > 1000000 and < 500000"),
                    HasSubstr("[unsatisfiable]")));
}

TEST_F(RuleChecksTest, UnsatisfiableOtherShapes) {
  struct Case {
    const char* eligibility;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {"region under \\\"441500\\\" and revenue > 0 and region under \\\"440800\\\"",
            "region cannot be under both \"441500\" (汕尾市) and \"440800\" (湛江市)"},
           {"industry under \\\"I\\\" and not industry under \\\"I65\\\" and industry under \\\"I6513\\\"",
            "is also under \"I65\""},
           {"org.new_rd_institution.public_interest and not org.new_rd_institution",
            "implies holding org.new_rd_institution"},
           {"qual.hitech and not 高企", "cannot both hold and not hold qual.hitech"},
           {"credit.abnormal and not (credit.blacklist or credit.abnormal)",
            "cannot both hold and not hold credit.abnormal"},
           {"employees in [1, 2] and employees >= 3", "no value of employees"},
           {"not (revenue <= 100) and revenue < 50", "no value of revenue"},
           {"founded >= date(\\\"2020-01-01\\\") and founded < date(\\\"2019-01-01\\\")",
            ">= 2020-01-01 and < 2019-01-01"},
           {"revenue > 0 and 1 > 2", "condition `1 > 2`: it can never be true"},
           {"revenue < revenue and qual.hitech", "condition `revenue < revenue`: it can never be true"},
       }) {
    std::vector<Diagnostic> ds = CheckEligibility(c.eligibility);
    ASSERT_EQ(ds.size(), 1u) << c.eligibility << "\n" << ::testing::PrintToString(Strings(ds));
    EXPECT_EQ(ds[0].severity, Diagnostic::Severity::kError) << c.eligibility;
    EXPECT_THAT(ds[0].message, AllOf(HasSubstr(c.says), HasSubstr("[unsatisfiable]"))) << c.eligibility;
  }
}

TEST_F(RuleChecksTest, SatisfiableRulesAreQuiet) {
  for (const char* e : {
           "revenue >= 50万 and revenue <= 100万",
           "revenue >= 100万 and revenue <= 100万",  // one value: satisfiable
           "region under \\\"441500\\\" and not region under \\\"441581\\\"",
           "qual.hitech and not qual.sme_tech",
           "org.new_rd_institution and not org.new_rd_institution.enterprise",
           "(revenue > 100 or revenue < 50) and revenue > 75",  // the `or` is opaque: no claim
           "tech_staff >= employees * 10% and employees <= 500",
           "years_between(founded, as_of) >= 1 and years_between(founded, as_of) < 5",
       }) {
    EXPECT_THAT(Strings(CheckEligibility(e)), IsEmpty()) << e;
  }
}

TEST_F(RuleChecksTest, AlwaysTrueConditions) {
  struct Case {
    const char* eligibility;
    const char* flagged;
    const char* says;
    bool last = false;  // the last occurrence of `flagged`
  };
  for (const Case& c : std::vector<Case>{
           {"revenue > 1 or revenue <= 1", "revenue > 1 or revenue <= 1",
            "is true for every firm that has the data it reads"},
           {"qual.hitech and (qual.sme_tech or not qual.sme_tech)", "qual.sme_tech or",
            "is true for every firm"},
           {"qual.hitech and 1 < 2", "1 < 2", "is always true: it tests no firm data"},
           {"qual.hitech and revenue >= revenue", "revenue >= revenue", "is true for every firm"},
           {"revenue > 0 and revenue >= 1000万", "revenue > 0",
            "always holds when `revenue >= 1000万` does: it is redundant"},
           {"region under \\\"440000\\\" and region under \\\"440800\\\"", "region under \\\"440000",
            "always holds when `region under \"440800\"` does"},
           {"org.eng_center.province and org.eng_center", "org.eng_center",
            "always holds when `org.eng_center.province` does", true},
       }) {
    std::vector<Diagnostic> ds = CheckEligibility(c.eligibility);
    ASSERT_EQ(ds.size(), 1u) << c.eligibility << "\n" << ::testing::PrintToString(Strings(ds));
    EXPECT_EQ(ds[0].severity, Diagnostic::Severity::kWarning);
    EXPECT_THAT(ds[0].message, AllOf(HasSubstr(c.says), HasSubstr("[always-true]"))) << c.eligibility;
    EXPECT_EQ(ds[0].column, Col(c.eligibility, c.flagged, c.last)) << c.eligibility;
  }
  // A repeated condition is reported once (the later copy).
  const std::string twice = "qual.hitech and region under \\\"420000\\\" and qual.hitech";
  std::vector<Diagnostic> ds = CheckEligibility(twice);
  ASSERT_EQ(ds.size(), 1u) << ::testing::PrintToString(Strings(ds));
  EXPECT_EQ(ds[0].column, Col(twice, "qual.hitech", /*last=*/true));
}

TEST_F(RuleChecksTest, TierThresholds) {
  auto with_benefit = [&](const std::string& benefit) {
    return Check(absl::StrCat("policy { id: \"p\" title: \"t\" eligibility: \"qual.hitech\"\n  benefit: \"",
                              benefit, "\" }\n"));
  };
  EXPECT_THAT(Strings(with_benefit("tier(revenue, 100万, 1万, 500万, 5万, 1000万, 10万)")), IsEmpty());
  std::vector<Diagnostic> falling = with_benefit("tier(revenue, 500万, 5万, 100万, 1万)");
  ASSERT_EQ(falling.size(), 1u);
  EXPECT_EQ(falling[0].severity, Diagnostic::Severity::kWarning);
  EXPECT_EQ(falling[0].line, 2);
  EXPECT_EQ(falling[0].column, 37);  // at `100万`
  EXPECT_THAT(falling[0].message, AllOf(HasSubstr("tier thresholds do not rise: `100万` comes after `500万`"),
                                        HasSubstr("[tier-order]")));
  std::vector<Diagnostic> repeated = with_benefit("tier(revenue, 100万, 1万, 100万, 2万)");
  ASSERT_EQ(repeated.size(), 1u);
  EXPECT_EQ(repeated[0].severity, Diagnostic::Severity::kError);
  EXPECT_THAT(repeated[0].message, HasSubstr("its amount `2万` never applies"));
  // Thresholds inside eligibility too; non-constant thresholds are skipped.
  EXPECT_THAT(Strings(CheckEligibility("tier(revenue, 10, 1, revenue_last_year, 2, 5, 3) > 0")), IsEmpty());
  EXPECT_EQ(CheckEligibility("tier(revenue, 10, 1, 5, 3) > 0").size(), 1u);
}

TEST_F(RuleChecksTest, UnitMismatch) {
  struct Case {
    const char* eligibility;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {"revenue > employees", "`revenue > employees` compares `revenue` (yuan) and `employees` (persons)"},
           {"revenue + invention_patents > 5", "adds `revenue` (yuan) and `invention_patents` (a count)"},
           {"min(rd_expense, tech_staff) > 0", "takes the min of `rd_expense` (yuan) and `tech_staff` (persons)"},
           {"revenue in [1000, employees]", "compares `revenue` (yuan) and `employees` (persons)"},
           {"if(qual.hitech, revenue, employees) > 1", "chooses between"},
           {"tier(revenue, 1, 1, tech_staff, 2) > 0", "tier thresholds"},
           {"employees > invention_patents", "(persons) and `invention_patents` (a count)"},
           {"rd_expense / revenue > employees", "(a ratio) and `employees` (persons)"},
       }) {
    std::vector<Diagnostic> ds = CheckEligibility(c.eligibility);
    ASSERT_EQ(ds.size(), 1u) << c.eligibility << "\n" << ::testing::PrintToString(Strings(ds));
    EXPECT_EQ(ds[0].severity, Diagnostic::Severity::kError) << c.eligibility;
    EXPECT_THAT(ds[0].message, AllOf(HasSubstr(c.says), HasSubstr("[unit-mismatch]"))) << c.eligibility;
  }
  for (const char* e : {
           "revenue >= 1000万",                             // a literal takes any unit
           "rd_expense >= revenue * 5%",                    // yuan × ratio = yuan
           "tech_staff >= employees * 10%",
           "rd_expense / revenue > 5%",
           "(revenue - revenue_last_year) / revenue_last_year > 10%",
           "tier(tech_staff / employees, 10%, 4, 20%, 8) + tier(invention_patents, 1, 6, 2, 12) >= 10",
           "revenue / employees > 100万",                   // yuan per person: not checked
           "years_between(founded, as_of) >= 1",
       }) {
    EXPECT_THAT(Strings(CheckEligibility(e)), IsEmpty()) << e;
  }
  // Benefits are checked too.
  std::vector<Diagnostic> ds = Check(
      "policy { id: \"p\" title: \"t\" eligibility: \"qual.hitech\"\n  benefit: \"min(rd_expense * 20%, employees)\" }\n");
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_THAT(ds[0].message, HasSubstr("policy p: benefit: `min(rd_expense * 20%, employees)` takes the min of"));
  EXPECT_EQ(ds[0].line, 2);
}

TEST_F(RuleChecksTest, ExpiredIsAWarningRelativeToAsOf) {
  const std::string policy =
      "policy { id: \"p\" title: \"t\" eligibility: \"qual.hitech\"\n"
      "  valid_from: \"2021-01-01\"\n  valid_to: \"2021-12-31\" }\n";
  std::vector<Diagnostic> ds = Check(policy, absl::CivilDay(2023, 6, 30));
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].severity, Diagnostic::Severity::kWarning);
  EXPECT_EQ(ds[0].line, 3);
  EXPECT_EQ(ds[0].column, 14);
  EXPECT_THAT(ds[0].message, AllOf(HasSubstr("ended on 2021-12-31 (valid_to)"),
                                   HasSubstr("matches no firm on 2023-06-30"), HasSubstr("[expired]")));
  EXPECT_THAT(Strings(Check(policy, absl::CivilDay(2021, 12, 31))), IsEmpty());
}

TEST_F(RuleChecksTest, CalendarMustCoverThePublicityYears) {
  absl::StatusOr<WorkingCalendar> calendar = WorkingCalendar::Load(testing::RulesDir());
  ASSERT_TRUE(calendar.ok()) << calendar.status();  // covers 2018–2026
  auto policy = [](const std::string& window) {
    return absl::StrCat("policy { id: \"p\" title: \"t\" eligibility: \"qual.hitech\"\n", window,
                        "\n  mode: AUTO_GRANT benefit: \"10000\"\n  publicity_days: 5 }\n");
  };
  const absl::CivilDay as_of(2026, 6, 30);
  std::vector<Diagnostic> ds =
      Check(policy("  valid_from: \"2025-01-01\" valid_to: \"2027-12-31\""), as_of, &*calendar);
  ASSERT_EQ(ds.size(), 1u) << ::testing::PrintToString(Strings(ds));
  EXPECT_EQ(ds[0].severity, Diagnostic::Severity::kWarning);
  EXPECT_EQ(ds[0].line, 4);
  EXPECT_EQ(ds[0].column, 3);
  EXPECT_THAT(ds[0].message,
              AllOf(HasSubstr("publicity_days 5 (working days), but rules/calendar covers "
                              "2018–2026, not 2027 (valid 2025-01-01..2027-12-31)"),
                    HasSubstr("[calendar]")));
  // Covered windows are quiet; an open end counts up to as_of's year.
  EXPECT_THAT(Strings(Check(policy("  valid_from: \"2025-01-01\" valid_to: \"2026-12-31\""),
                            as_of, &*calendar)),
              IsEmpty());
  EXPECT_THAT(Strings(Check(policy("  valid_from: \"2020-01-01\""), as_of, &*calendar)), IsEmpty());
  EXPECT_THAT(Strings(Check(policy("  valid_from: \"2016-01-01\""), as_of, &*calendar)),
              ElementsAre(HasSubstr("not 2016–2017")));
  // Without a calendar, every policy with publicity_days is reported; without publicity_days
  // none is.
  EXPECT_THAT(Strings(Check(policy("  valid_from: \"2025-01-01\""), as_of)),
              ElementsAre(HasSubstr("there is no working calendar (rules/calendar) to count them in "
                                    "(valid 2025-01-01..…)")));
  EXPECT_THAT(Strings(Check("policy { id: \"p\" title: \"t\" eligibility: \"qual.hitech\" }\n", as_of)),
              IsEmpty());
}

TEST_F(RuleChecksTest, ExclusiveGroups) {
  // Disjoint regions: the group never has to choose.
  std::vector<Diagnostic> apart = Check(
      "policy { id: \"a\" title: \"t\" eligibility: \"qual.hitech and region under \\\"441500\\\"\"\n"
      "  exclusive_group: \"g\" }\n"
      "policy { id: \"b\" title: \"t\" eligibility: \"qual.hitech and region under \\\"440800\\\"\"\n"
      "  exclusive_group: \"g\" }\n");
  ASSERT_EQ(apart.size(), 1u) << ::testing::PrintToString(Strings(apart));
  EXPECT_EQ(apart[0].severity, Diagnostic::Severity::kWarning);
  EXPECT_EQ(apart[0].line, 2);
  EXPECT_THAT(apart[0].message,
              AllOf(HasSubstr("exclusive group \"g\": its 2 members can never both apply"),
                    HasSubstr("region cannot be under both"), HasSubstr("[group]")));

  // Validity windows that do not overlap.
  std::vector<Diagnostic> years = Check(
      "policy { id: \"a\" title: \"t\" eligibility: \"qual.hitech\" exclusive_group: \"g\"\n"
      "  valid_from: \"2021-01-01\" valid_to: \"2021-12-31\" }\n"
      "policy { id: \"b\" title: \"t\" eligibility: \"qual.sme_tech\" exclusive_group: \"g\"\n"
      "  valid_from: \"2022-01-01\" valid_to: \"2022-12-31\" }\n",
      absl::CivilDay(2021, 6, 1));
  ASSERT_EQ(years.size(), 1u) << ::testing::PrintToString(Strings(years));
  EXPECT_THAT(years[0].message, HasSubstr("validity windows 2021-01-01..2021-12-31 and 2022-01-01..2022-12-31"));

  // Nested scopes (县 ⊂ 市) overlap: a real 就高不重复 group.
  EXPECT_THAT(Strings(Check(
                  "policy { id: \"a\" title: \"t\" eligibility: \"qual.hitech and region under \\\"441500\\\"\" exclusive_group: \"g\" }\n"
                  "policy { id: \"b\" title: \"t\" eligibility: \"qual.hitech and region under \\\"441581\\\"\" exclusive_group: \"g\" }\n")),
              IsEmpty());

  // One member.
  std::vector<Diagnostic> lonely =
      Check("policy { id: \"a\" title: \"t\" eligibility: \"qual.hitech\" exclusive_group: \"solo\" }\n");
  ASSERT_EQ(lonely.size(), 1u);
  EXPECT_THAT(lonely[0].message, HasSubstr("exclusive group \"solo\" has no other member"));
}

TEST_F(RuleChecksTest, Duplicates) {
  std::vector<Diagnostic> dup = Check(
      "policy { id: \"a\" title: \"t\" eligibility: \"revenue >= 100万 and qual.hitech\" benefit: \"5万\" }\n"
      "policy { id: \"b\" title: \"t\"\n  eligibility: \"营业收入 >= 1000000 and 高企\" benefit: \"50000\" }\n");
  ASSERT_EQ(dup.size(), 1u) << ::testing::PrintToString(Strings(dup));
  EXPECT_EQ(dup[0].severity, Diagnostic::Severity::kWarning);
  EXPECT_EQ(dup[0].line, 3);
  EXPECT_THAT(dup[0].message, AllOf(HasSubstr("policy b: duplicates policy a"),
                                    HasSubstr("a firm eligible for one gets both"), HasSubstr("[duplicate]")));

  // Different benefit, different benefit_note, or different years: not duplicates.
  EXPECT_THAT(Strings(Check(
                  "policy { id: \"a\" title: \"t\" eligibility: \"qual.hitech\" benefit: \"5万\" }\n"
                  "policy { id: \"b\" title: \"t\" eligibility: \"qual.hitech\" benefit: \"6万\" }\n"
                  "policy { id: \"c\" title: \"t\" eligibility: \"qual.hitech\" benefit_note: \"入库\" }\n"
                  "policy { id: \"d\" title: \"t\" eligibility: \"qual.hitech\" benefit_note: \"科技券\" }\n"
                  "policy { id: \"e\" title: \"t\" eligibility: \"qual.sme_tech\" valid_to: \"2022-12-31\" }\n"
                  "policy { id: \"f\" title: \"t\" eligibility: \"qual.sme_tech\" valid_from: \"2023-01-01\" }\n",
                  absl::CivilDay(2022, 6, 1))),
              IsEmpty());
}

TEST(SeedCatalogRuleChecks, NoErrorsAndOnlyExplainedWarnings) {
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Catalog::LoadDir(testing::RulesDir(), &diags);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  absl::StatusOr<WorkingCalendar> calendar = WorkingCalendar::Load(testing::RulesDir());
  ASSERT_TRUE(calendar.ok()) << calendar.status();
  Diagnostics findings;
  RuleCheckOptions options{absl::CivilDay(2023, 6, 30)};
  options.calendar = &*calendar;
  CheckRules(*catalog, options, &findings);
  EXPECT_EQ(findings.error_count(), 0);
  // On 2023-06-30 the only findings are the measures of 汕尾 2021, 湖北 2021, 武汉 2022 and 漯河
  // 2018, which have ended and are kept for the record; every seed policy is dated (no [undated]).
  for (const Diagnostic& d : findings.items()) {
    EXPECT_THAT(d.ToString(), AllOf(Not(HasSubstr("zhanjiang-2023")), HasSubstr("[expired]")));
  }
  EXPECT_EQ(findings.items().size(), 27u);
}

TEST_F(RuleChecksTest, UndatedIsAWarning) {
  // Checked with the default options (the Check() fixtures turn it off).
  std::ofstream(dir_ / "policies/p.textproto")
      << "policy { id: \"undated\" title: \"t\" eligibility: \"qual.hitech\" valid_to: \"2030-12-31\" }\n"
         "policy { id: \"dated\" title: \"t\" eligibility: \"qual.sme_tech\" valid_from: \"2021-01-01\" }\n";
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Catalog::LoadDir(dir_.string(), &diags);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  Diagnostics findings;
  CheckRules(*catalog, RuleCheckOptions{absl::CivilDay(2023, 6, 30)}, &findings);
  ASSERT_EQ(findings.items().size(), 1u);
  const Diagnostic& d = findings.items()[0];
  EXPECT_EQ(d.severity, Diagnostic::Severity::kWarning);
  EXPECT_EQ(d.line, 1);
  EXPECT_THAT(d.message, AllOf(HasSubstr("policy undated: has no valid_from"), HasSubstr("[undated]")));
}

}  // namespace
}  // namespace polmatch
