// RowProgram (the single-firm index's compiled expressions) against the reference evaluator.
#include "engine/match/row_program.h"

#include <string>
#include <vector>

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

std::unique_ptr<Node> Checked(const std::string& src) {
  for (Type t : {Type::kBool, Type::kNumber}) {
    ExprError err;
    auto n = CompileExpr(src, RealTaxonomy(), t, &err);
    if (n.ok()) return std::move(*n);
  }
  return nullptr;
}

// The reference's value as RowProgram reports it.
RowProgram::Result Reference(const Node& n, const FirmView& view) {
  const Value v = Evaluate(n, view);
  if (v.is_unknown()) return {};
  return {true, v.kind == Value::Kind::kBool ? (v.boolean ? 1 : 0) : v.number.raw()};
}

TEST(RowProgramTest, EqualsTheReference) {
  const std::vector<std::string> exprs = {
      "20万",
      "min(tax_paid * 30%, 100万)",
      "min(new_rd_equipment_investment * 20%, if(org.new_rd_institution.public_interest, 200万, 100万))",
      "tier(invention_patents, 5, 5万, 10, 10万, 20, 20万)",
      "tier(revenue, 2000万, 10万, 5000万, rd_expense, 1亿, 50万)",
      "tier(revenue, rd_expense, 1万, 0, 2万)",
      "max(revenue - revenue_last_year, 0, -tax_paid)",
      "abs(revenue_last_year - revenue) / 3",
      "rd_expense / revenue >= 3%",
      "(revenue - revenue_last_year) / revenue_last_year >= 15%",
      "revenue > revenue_last_year",
      "has_fact(rd_expense) and not qual.hitech",
      "qual.hitech or rd_expense > 0 or qual.sme_tech",
      "not (qual.sme_tech and employees <= 300)",
      "if(rd_expense > 100万, revenue, tax_paid) * 2 != 0",
      "revenue * revenue * revenue > 0",
      "-revenue < 0",
      "years_between(founded, as_of) >= 5",
      "days_between(date(\"2020-01-01\"), founded) < 0 or founded >= date(\"2019-05-01\")",
      "region under \"440800\" and industry under \"C35\"",
      "industry under \"L71\" or industry under \"C\"",
      "not region under \"441500\"",
  };
  // Facts present, missing, zero (division by zero), huge (overflow); tags held or not.
  std::vector<FirmProfile> profiles;
  for (int variant = 0; variant < 6; ++variant) {
    FirmProfile p = MakeProfile(variant == 4 ? "441502" : "440802", variant + 1,
                                variant == 3 ? "" : variant == 5 ? "L7120" : "C3511",
                                variant == 2 ? "" : variant == 1 ? "2020-06-30" : "2019-05-01");
    auto& f = *p.mutable_facts();
    f["revenue"] = variant == 1 ? "0" : variant == 2 ? "8999999999999" : "35000000";
    if (variant != 3) f["revenue_last_year"] = variant == 4 ? "35000000" : "28000000.5";
    if (variant % 2 == 0) f["rd_expense"] = "1500000";
    f["tax_paid"] = variant == 5 ? "-12.345678" : "2500000";
    f["invention_patents"] = std::to_string(variant * 4);
    f["employees"] = "120";
    if (variant != 2) f["new_rd_equipment_investment"] = "9000000";
    if (variant % 3 == 0) p.add_tags()->set_id("qual.hitech");
    if (variant % 2 == 1) p.add_tags()->set_id("org.new_rd_institution.public_interest");
    if (variant >= 4) p.add_tags()->set_id("qual.sme_tech");
    profiles.push_back(p);
  }
  const Taxonomy& tax = RealTaxonomy();
  int compared = 0;
  for (const std::string& src : exprs) {
    std::unique_ptr<Node> n = Checked(src);
    ASSERT_NE(n, nullptr) << src;
    const std::optional<RowProgram> program = RowProgram::Compile(*n);
    ASSERT_TRUE(program.has_value()) << src;
    for (const FirmProfile& p : profiles) {
      const Firm firm = MakeFirm(p);
      const FirmView view(firm, tax, absl::CivilDay(2024, 6, 30));
      std::vector<uint64_t> held((tax.num_tags() + 63) / 64, 0);
      for (int t = 0; t < tax.num_tags(); ++t) {
        if (view.HoldsTag(TagId(t))) held[t / 64] |= uint64_t{1} << (t % 64);
      }
      RowProgram::Row row;
      row.facts = firm.facts.data();
      row.held = held.data();
      row.region = firm.region;
      row.industry = firm.industry;
      row.founded_known = firm.founded.has_value();
      if (firm.founded) row.founded = RowProgram::DayOf(*firm.founded);
      row.as_of = RowProgram::DayOf(view.AsOf());
      const RowProgram::Result got = program->Run(row);
      const RowProgram::Result want = Reference(*n, view);
      EXPECT_EQ(got.known, want.known) << src << "\n" << p.DebugString();
      if (want.known) {
        EXPECT_EQ(got.raw, want.raw) << src << "\n" << p.DebugString();
      }
      ++compared;
    }
  }
  EXPECT_EQ(compared, static_cast<int>(exprs.size() * profiles.size()));
}

TEST(RowProgramTest, LeavesTheRestToTheReference) {
  for (const char* src : {"industry == \"C3511\"", "industry in [\"C3511\", \"C3512\"]",
                          "employees in [1, 2]", "valid_to(qual.hitech) > as_of",
                          "valid_from(qual.hitech) <= date(\"2024-01-01\") or qual.sme_tech"}) {
    std::unique_ptr<Node> n = Checked(src);
    ASSERT_NE(n, nullptr) << src;
    EXPECT_FALSE(RowProgram::Compile(*n).has_value()) << src;
  }
}

}  // namespace
}  // namespace polmatch
