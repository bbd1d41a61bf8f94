// The analysis subcommands end to end: simulate, reserve, path, and lint's rule checks.
#include <unistd.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using testing::CmdResult;
using testing::Polmatch;

class AnalysisCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTempDir("analysis_cli");
    testing::WriteRulesDir(dir_, R"pb(
      policy { id: "sw-it" title: "培育名录库" mode: AUTO_GRANT benefit: "5万" valid_from: "2021-01-01"
        eligibility: "industry under \"I\" and region under \"441500\" and revenue >= 1000万元" }
      policy { id: "hb-hitech" title: "高企奖励" mode: AUTO_GRANT benefit: "20万" valid_from: "2021-01-01"
        eligibility: "qual.hitech and region under \"420000\"" }
    )pb");
    std::ofstream firms(dir_ / "firms.jsonl");
    const int revenues[] = {9999000, 9000000, 5000000, 12000000};
    for (int i = 0; i < 4; ++i) {
      codes_.push_back(testing::MakeCreditCode("441502", 100 + i));
      firms << "{\"credit_code\":\"" << codes_.back() << "\",\"name\":\"汕尾企业" << i
            << "\",\"region\":\"441502\",\"industry\":\"I6513\",\"facts\":{\"revenue\":" << revenues[i]
            << ",\"employees\":" << 20 * (i + 1) << "}}\n";
    }
    wuhan_ = testing::MakeCreditCode("420106", 7);
    firms << "{\"credit_code\":\"" << wuhan_ << "\",\"name\":\"武汉企业\",\"region\":\"420106\","
          << "\"industry\":\"I65\",\"tags\":[{\"id\":\"qual.sme_tech\"}]}\n";
  }
  std::string Common() const {
    return "--rules " + dir_.string() + " --firms " + (dir_ / "firms.jsonl").string() + " --as-of 2023-06-30";
  }
  fs::path dir_;
  std::vector<std::string> codes_;
  std::string wuhan_;
};

TEST_F(AnalysisCliTest, Help) {
  for (const char* cmd : {"simulate", "reserve", "path"}) {
    CmdResult r = Polmatch(std::string(cmd) + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_THAT(r.out, HasSubstr("usage: polmatch " + std::string(cmd))) << cmd;
  }
  EXPECT_THAT(Polmatch("--help").out, HasSubstr("reserve"));
}

TEST_F(AnalysisCliTest, Reserve) {
  CmdResult r = Polmatch("reserve " + Common() + " --policy sw-it");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("3 firm(s) of 5 miss exactly one condition"));
  EXPECT_THAT(r.out, HasSubstr("1. " + codes_[0]));
  EXPECT_THAT(r.out, HasSubstr("年营业收入 9,999,000 < 10,000,000 (gap 1,000)"));
  EXPECT_THAT(r.out, HasSubstr("2. " + codes_[1]));
  EXPECT_LT(r.out.find(codes_[0]), r.out.find(codes_[1]));  // closest first

  CmdResult j = Polmatch("reserve " + Common() + " --policy sw-it --json --limit 1");
  ASSERT_EQ(j.exit_code, 0) << j.out;
  EXPECT_THAT(j.out, HasSubstr("\"near_miss\":3"));
  EXPECT_THAT(j.out, HasSubstr("\"gap\":\"1000\""));
  EXPECT_THAT(j.out, Not(HasSubstr(codes_[1])));

  CmdResult all = Polmatch("reserve " + Common());
  ASSERT_EQ(all.exit_code, 0) << all.out;
  EXPECT_THAT(all.out, HasSubstr("3  sw-it  培育名录库"));
  EXPECT_THAT(all.out, HasSubstr("3 miss `revenue >= 1000万元`"));

  EXPECT_EQ(Polmatch("reserve " + Common() + " --policy nope").exit_code, 1);
  EXPECT_EQ(Polmatch("reserve --rules " + dir_.string() + " --policy sw-it").exit_code, 2);
}

TEST_F(AnalysisCliTest, Simulate) {
  CmdResult r = Polmatch("simulate " + Common() +
                         " --policy sw-it --eligibility 'industry under \"I\" and region under \"441500\" and revenue >= 500万'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("what-if --policy sw-it"));
  EXPECT_THAT(r.out, HasSubstr("3 firm(s) affected"));
  EXPECT_THAT(r.out, HasSubstr("441500 汕尾市"));
  EXPECT_THAT(r.out, HasSubstr("+150,000.00"));  // 3 × 5万
  EXPECT_THAT(r.out, HasSubstr("simulation"));     // timing on stderr

  std::ofstream(dir_ / "reform.textproto") << R"pb(
    policy { id: "hb-hitech" title: "高企奖励(扩围)" mode: AUTO_GRANT benefit: "20万"
      eligibility: "(qual.hitech or qual.sme_tech) and region under \"420000\"" }
  )pb";
  CmdResult j = Polmatch("simulate " + Common() + " --reform " + (dir_ / "reform.textproto").string() + " --json");
  ASSERT_EQ(j.exit_code, 0) << j.out;
  EXPECT_THAT(j.out, HasSubstr("\"total\":{\"newly_eligible\":1,\"newly_ineligible\":0,\"unchanged\":0,"
                               "\"amount_changed\":0,\"benefit_before_yuan\":\"0.00\","
                               "\"benefit_after_yuan\":\"200000.00\",\"benefit_delta_yuan\":\"200000.00\"}"));
  EXPECT_THAT(j.out, HasSubstr("\"key\":\"420100\",\"label\":\"武汉市\""));

  std::ofstream(dir_ / "bad.textproto") << "policy { id: \"hb-hitech\" title: \"t\" eligibility: \"revenue >\" }\n";
  CmdResult bad = Polmatch("simulate " + Common() + " --reform " + (dir_ / "bad.textproto").string());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.out, HasSubstr("bad.textproto"));
  EXPECT_EQ(Polmatch("simulate " + Common() + " --policy sw-it").exit_code, 2);
  EXPECT_EQ(Polmatch("simulate " + Common() + " --policy sw-it --eligibility x --reform y").exit_code, 2);
}

TEST_F(AnalysisCliTest, Path) {
  CmdResult r = Polmatch("path " + Common() + " --firm " + wuhan_);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("holds: qual.sme_tech"));
  EXPECT_THAT(r.out, HasSubstr("step 1: obtain qual.hitech 高新技术企业"));
  EXPECT_THAT(r.out, HasSubstr("+ hb-hitech  高企奖励  — 200,000.00 元"));
  CmdResult j = Polmatch("path " + Common() + " --firm " + wuhan_ + " --json");
  ASSERT_EQ(j.exit_code, 0) << j.out;
  EXPECT_THAT(j.out, HasSubstr("\"tag\":\"qual.hitech\""));
  EXPECT_THAT(j.out, HasSubstr("\"benefit_yuan\":\"200000.00\""));
  EXPECT_EQ(Polmatch("path " + Common() + " --firm " + testing::MakeCreditCode("441502", 999)).exit_code, 1);  // unknown
  EXPECT_EQ(Polmatch("path " + Common() + " --firm 91441502000000000X").exit_code, 2);  // bad check digit
  EXPECT_EQ(Polmatch("path " + Common() + " --firm " + wuhan_ + " --ladder nope").exit_code, 1);
}

TEST_F(AnalysisCliTest, LintRuleChecks) {
  CmdResult ok = Polmatch("lint " + dir_.string());
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_THAT(ok.out, HasSubstr("no errors, 0 warning(s)"));
  std::ofstream(dir_ / "policies/q.textproto")
      << "policy {\n  id: \"q\"\n  title: \"t\"\n  eligibility: \"revenue > 100万 and revenue < 50万\"\n"
         "  valid_to: \"2021-12-31\"\n}\n";
  CmdResult bad = Polmatch("lint " + dir_.string() + " --as-of 2023-06-30");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.out, HasSubstr("q.textproto:4:36: policy q: eligibility can never be true"));
  EXPECT_THAT(bad.out, HasSubstr("q.textproto:5:14: warning: policy q: ended on 2021-12-31"));
  EXPECT_THAT(bad.out, HasSubstr("q.textproto:2:8: warning: policy q: has no valid_from"));
  EXPECT_THAT(bad.out, HasSubstr("[undated]"));
  EXPECT_THAT(bad.out, HasSubstr("1 error(s), 2 warning(s)"));
}

TEST(AnalysisCliSeedTest, LintSeedCatalogsHasNoErrors) {
  CmdResult r = Polmatch("lint " + testing::RulesDir() + " --as-of 2023-06-30");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // Every seed policy is dated; on 2023-06-30 the 27 of 汕尾 2021, 湖北 2021, 武汉 2022 and 漯河
  // 2018 have ended ([expired]) and the 13 of 湛江 2023 are in force.
  EXPECT_THAT(r.out, HasSubstr("no errors, 27 warning(s)"));
  EXPECT_THAT(r.out, Not(HasSubstr("[undated]")));
}

}  // namespace
}  // namespace polmatch
