// The polmatch command line end to end: exit codes, --help, lint/test/query/check output.
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

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTempDir("cli");
    fs::create_directories(dir_ / "tests");
    testing::WriteRulesDir(dir_, R"pb(
      policy { id: "sw-4.4" title: "新型研发机构引进资助" mode: AUTO_GRANT
        eligibility: "org.new_rd_institution and region under \"441500\" and new_rd_equipment_investment > 0"
        benefit: "min(new_rd_equipment_investment * 20%, if(org.new_rd_institution.public_interest, 200万, 100万))" }
      policy { id: "sw-it" title: "培育名录库" mode: AUTO_GRANT benefit_note: "纳入培育名录库"
        eligibility: "industry under \"I\" and revenue >= 1000万元" }
    )pb");
    code_ = testing::MakeCreditCode("441502", 42);
    other_ = testing::MakeCreditCode("441502", 43);
    std::ofstream(dir_ / "firms.jsonl")
        << "{\"credit_code\":\"" << code_ << "\",\"name\":\"汕尾海峰研究院\",\"region\":\"441502\","
        << "\"industry\":\"I6513\",\"founded\":\"2019-03-01\",\"facts\":{\"new_rd_equipment_investment\":"
        << "15000000,\"revenue\":\"9000000\"},\"tags\":[{\"id\":\"org.new_rd_institution.public_interest\"}]}\n"
        << "{\"credit_code\":\"" << other_ << "\",\"region\":\"441502\"}\n"
        << "{\"credit_code\":\"91441502000000000X\",\"region\":\"441502\"}\n";
  }
  std::string Rules() const { return dir_.string(); }
  std::string Firms() const { return (dir_ / "firms.jsonl").string(); }
  fs::path dir_;
  std::string code_, other_;
};

TEST_F(CliTest, UsageAndHelp) {
  EXPECT_EQ(Polmatch("").exit_code, 2);
  EXPECT_EQ(Polmatch("frobnicate").exit_code, 2);
  CmdResult help = Polmatch("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("免申即享"));
  for (const char* cmd : {"lint", "test", "query", "check", "index", "batch", "gen"}) {
    CmdResult r = Polmatch(std::string(cmd) + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_THAT(r.out, HasSubstr("usage: polmatch " + std::string(cmd))) << cmd;
  }
  EXPECT_EQ(Polmatch("query --rules x").exit_code, 2);
  EXPECT_EQ(Polmatch("lint --bogus").exit_code, 2);
}

TEST_F(CliTest, LintCleanAndBroken) {
  CmdResult ok = Polmatch("lint " + Rules());
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  std::ofstream(dir_ / "policies/bad.textproto")
      << "policy {\n  id: \"bad\"\n  title: \"t\"\n  eligibility: \"revenue >\"\n}\n";
  CmdResult bad = Polmatch("lint " + Rules());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.out, HasSubstr("bad.textproto:4:26: policy bad: eligibility: expected a value, found end of expression"));
  EXPECT_EQ(Polmatch("lint /nonexistent").exit_code, 2);
}

TEST_F(CliTest, PolicyTests) {
  std::ofstream(dir_ / "tests/t.textproto") << "test { name: \"n\" policy: \"sw-4.4\" as_of: \"2021-06-30\" "
      << "expect_status: ELIGIBLE expect_benefit: \"2000000.00\" firm { credit_code: \"" << code_
      << "\" region: \"441502\" facts { key: \"new_rd_equipment_investment\" value: \"15000000\" } "
      << "tags { id: \"org.new_rd_institution.public_interest\" } } }\n"
      << "test { name: \"wrong\" policy: \"sw-4.4\" as_of: \"2021-06-30\" expect_status: ELIGIBLE "
      << "firm { credit_code: \"" << code_ << "\" region: \"441502\" } }\n";
  CmdResult r = Polmatch("test " + Rules());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("1 passed, 1 failed"));
  EXPECT_THAT(r.out, HasSubstr("t.textproto:2: FAIL wrong: expected ELIGIBLE, got INELIGIBLE"));
}

TEST_F(CliTest, QueryTextAndJson) {
  CmdResult r = Polmatch("query --rules " + Rules() + " --firms " + Firms() + " --firm " + code_ + " --as-of 2021-06-30");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("1 record(s) rejected"));
  EXPECT_THAT(r.out, HasSubstr("firms.jsonl:3:"));
  EXPECT_THAT(r.out, HasSubstr("ELIGIBLE     sw-4.4  新型研发机构引进资助  2000000.00 元  [免申即享]"));
  EXPECT_THAT(r.out, HasSubstr("NEAR_MISS    sw-it"));
  CmdResult j = Polmatch("query --json --rules " + Rules() + " --firms " + Firms() + " --firm " + code_ + " --as-of 2021-06-30");
  EXPECT_EQ(j.exit_code, 0);
  EXPECT_THAT(j.out, HasSubstr("\"credit_code\":\"" + code_ + "\""));
  EXPECT_THAT(j.out, HasSubstr("\"as_of\":\"2021-06-30\""));
  EXPECT_THAT(j.out, HasSubstr("\"status\":\"ELIGIBLE\""));
  EXPECT_THAT(j.out, HasSubstr("\"benefit_yuan\":\"2000000.00\""));
  EXPECT_THAT(j.out, HasSubstr("\"value\":\"FALSE\""));
  EXPECT_THAT(j.out, HasSubstr("\"name\":\"汕尾海峰研究院\""));
  EXPECT_THAT(j.out, HasSubstr("\"explanation_zh\":\"贵企业还差一项条件:年营业收入不低于1,000万元(贵企业:900万元)。满足后即可享受。\""));
  EXPECT_THAT(r.out, HasSubstr("贵企业符合全部条件,无需申请即可享受(免申即享),可获200万元。"));
  // A well-formed code not in the data: 1; a malformed one (bad check digit): 2, as the API's 400.
  EXPECT_EQ(Polmatch("query --rules " + Rules() + " --firms " + Firms() + " --firm " + testing::MakeCreditCode("441502", 99)).exit_code, 1);
  EXPECT_EQ(Polmatch("query --rules " + Rules() + " --firms " + Firms() + " --firm 91441502000000000X").exit_code, 2);
  EXPECT_EQ(Polmatch("query --rules " + Rules() + " --firms /nope.jsonl --firm " + code_).exit_code, 2);
  EXPECT_EQ(Polmatch("query --rules " + Rules() + " --firms " + Firms() + " --firm " + code_ + " --as-of 2021-02-30").exit_code, 2);
}

TEST_F(CliTest, CheckExplains) {
  CmdResult r = Polmatch("check --rules " + Rules() + " --firms " + Firms() + " --firm " + code_ +
                   " --policy sw-it --as-of 2021-06-30");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("status: NEAR_MISS — 贵企业还差一项条件:年营业收入不低于1,000万元(贵企业:900万元)。"));
  EXPECT_THAT(r.out, HasSubstr("✗ 年营业收入不低于1,000万元(贵企业:900万元)\n"
                               "      规则原文: revenue >= 1000万元   [年营业收入 revenue = 9000000]"));
  EXPECT_THAT(r.out, HasSubstr("✓ 属于信息传输、软件和信息技术服务业(贵企业:应用软件开发)\n"
                               "      规则原文: industry under \"I\"   [industry = I6513 应用软件开发]"));
  EXPECT_THAT(r.out, HasSubstr("reason:  one condition missing: revenue >= 1000万元"));
  CmdResult b = Polmatch("check --rules " + Rules() + " --firms " + Firms() + " --firm " + code_ +
                   " --policy sw-4.4 --as-of 2021-06-30");
  EXPECT_THAT(b.out, HasSubstr("= 2000000 → 2000000.00 元"));
  EXPECT_THAT(b.out, HasSubstr("计算方法:新增研发仪器设备投资额1,500万元 × 20% = 300万元,"));
  CmdResult bj = Polmatch("check --json --rules " + Rules() + " --firms " + Firms() + " --firm " + code_ +
                          " --policy sw-it --as-of 2021-06-30");
  EXPECT_THAT(bj.out, HasSubstr("\"name\":\"汕尾海峰研究院\""));
  EXPECT_THAT(bj.out, HasSubstr("\"text_zh\":\"年营业收入不低于1,000万元(贵企业:900万元)\""));
  EXPECT_EQ(Polmatch("check --rules " + Rules() + " --firms " + Firms() + " --firm " + code_ + " --policy nope").exit_code, 1);
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(CliTest, IndexBatchAndPrevious) {
  const fs::path snap = dir_ / "r.snap";
  CmdResult idx = Polmatch("index --rules " + Rules() + " --firms " + Firms() + " --out " + snap.string() +
                           " --rejects " + (dir_ / "rejects.txt").string());
  ASSERT_EQ(idx.exit_code, 0) << idx.out;
  EXPECT_THAT(Slurp(dir_ / "rejects.txt"), HasSubstr("firms.jsonl:3: "));
  EXPECT_EQ(Polmatch("index --strict --rules " + Rules() + " --firms " + Firms() + " --out " + snap.string()).exit_code, 1);

  const std::string batch = "batch --rules " + Rules() + " --as-of 2021-06-30 ";
  CmdResult first = Polmatch(batch + "--snapshot " + snap.string() + " --out " + (dir_ / "n1").string());
  ASSERT_EQ(first.exit_code, 0) << first.out;
  EXPECT_THAT(first.out, HasSubstr("peak RSS"));
  EXPECT_EQ(Slurp(dir_ / "n1/grants.csv"),
            "policy_id,credit_code,name,benefit_yuan\nsw-4.4," + code_ + ",汕尾海峰研究院,2000000.00\n");
  EXPECT_EQ(Slurp(dir_ / "n1/lists.csv"), "policy_id,credit_code,name,benefit_note\n");
  EXPECT_THAT(Slurp(dir_ / "n1/summary.json"), HasSubstr("\"benefit_total_yuan\": \"2000000.00\""));
  EXPECT_THAT(Slurp(dir_ / "n1/pushes.jsonl"), HasSubstr("\"change\":\"NEW\""));

  // The same inputs give byte-identical outputs, from a snapshot or from the files, with either engine.
  ASSERT_EQ(Polmatch(batch + "--firms " + Firms() + " --out " + (dir_ / "n1b").string()).exit_code, 0);
  ASSERT_EQ(Polmatch(batch + "--snapshot " + snap.string() + " --engine reference --out " + (dir_ / "n1c").string()).exit_code, 0);
  for (const char* f : {"summary.json", "grants.csv", "lists.csv", "pushes.jsonl", "state.pmstate"}) {
    EXPECT_EQ(Slurp(dir_ / "n1" / f), Slurp(dir_ / "n1b" / f)) << f;
    EXPECT_EQ(Slurp(dir_ / "n1" / f), Slurp(dir_ / "n1c" / f)) << f;
  }

  // An unchanged night pushes nothing.
  ASSERT_EQ(Polmatch(batch + "--snapshot " + snap.string() + " --out " + (dir_ / "n2").string() +
                     " --previous " + (dir_ / "n1").string()).exit_code, 0);
  EXPECT_EQ(Slurp(dir_ / "n2/pushes.jsonl"), "");

  // --no-pushes seeds the state without a push list; the next night diffs against it.
  ASSERT_EQ(Polmatch(batch + "--snapshot " + snap.string() + " --no-pushes --out " + (dir_ / "seed").string()).exit_code, 0);
  EXPECT_FALSE(fs::exists(dir_ / "seed/pushes.jsonl"));
  EXPECT_EQ(Slurp(dir_ / "seed/state.pmstate"), Slurp(dir_ / "n1/state.pmstate"));
  EXPECT_EQ(Slurp(dir_ / "seed/grants.csv"), Slurp(dir_ / "n1/grants.csv"));
  ASSERT_EQ(Polmatch(batch + "--snapshot " + snap.string() + " --out " + (dir_ / "after_seed").string() +
                     " --previous " + (dir_ / "seed").string()).exit_code, 0);
  EXPECT_EQ(Slurp(dir_ / "after_seed/pushes.jsonl"), "");

  // One changed firm (a later source raises its revenue) pushes only that firm.
  std::ofstream(dir_ / "update.csv") << "credit_code,name,region,industry,founded,revenue\n"
                                     << code_ << ",汕尾海峰研究院,441502,I6513,2019-03-01,12000000\n";
  // (firms.jsonl holds 1 bad record of 4: more than --max-reject-rate's default 1%.)
  ASSERT_EQ(Polmatch(batch + "--firms " + Firms() + " --firms " + (dir_ / "update.csv").string() +
                     " --max-reject-rate 30% --out " + (dir_ / "n3").string() + " --previous " +
                     (dir_ / "n1").string()).exit_code, 0);
  EXPECT_EQ(Slurp(dir_ / "n3/pushes.jsonl"),
            "{\"credit_code\":\"" + code_ + "\",\"policy\":\"sw-it\",\"status\":\"ELIGIBLE\",\"benefit_yuan\":\"\","
            "\"change\":\"CHANGED\",\"name\":\"汕尾海峰研究院\",\"title\":\"培育名录库\","
            "\"message\":\"贵企业符合「培育名录库」的条件,无需申请即可享受(免申即享):纳入培育名录库。(此前通知:还差一项条件)\","
            "\"previous_status\":\"NEAR_MISS\",\"previous_benefit_yuan\":\"\"}\n");
  // The 名录库 entry (AUTO_GRANT, no amount) is a list, not a grant.
  EXPECT_EQ(Slurp(dir_ / "n3/lists.csv"),
            "policy_id,credit_code,name,benefit_note\nsw-it," + code_ + ",汕尾海峰研究院,纳入培育名录库\n");
  EXPECT_EQ(Slurp(dir_ / "n3/grants.csv"), Slurp(dir_ / "n1/grants.csv"));
  // --push chooses the statuses told: with ELIGIBLE only, the first night's near miss is not pushed.
  ASSERT_EQ(Polmatch(batch + "--snapshot " + snap.string() + " --push ELIGIBLE --out " + (dir_ / "n4").string()).exit_code, 0);
  EXPECT_THAT(Slurp(dir_ / "n1/pushes.jsonl"), HasSubstr("\"status\":\"NEAR_MISS\""));
  EXPECT_THAT(Slurp(dir_ / "n4/pushes.jsonl"), Not(HasSubstr("\"status\":\"NEAR_MISS\"")));
  EXPECT_THAT(Slurp(dir_ / "n4/pushes.jsonl"), HasSubstr("\"status\":\"ELIGIBLE\""));
  EXPECT_EQ(Polmatch(batch + "--snapshot " + snap.string() + " --push ELIGIBLE,INELIGIBLE --out " +
                     (dir_ / "n5").string()).exit_code, 2);

  // A truncated snapshot or a corrupt previous state is refused with exit 2; outputs untouched.
  const std::string bytes = Slurp(snap);
  std::ofstream(dir_ / "cut.snap", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  CmdResult cut = Polmatch(batch + "--snapshot " + (dir_ / "cut.snap").string() + " --out " + (dir_ / "n1").string());
  EXPECT_EQ(cut.exit_code, 2);
  EXPECT_THAT(cut.out, HasSubstr("snapshot is corrupt or truncated"));
  std::ofstream(dir_ / "n2/state.pmstate", std::ios::binary) << "garbage";
  EXPECT_EQ(Polmatch(batch + "--snapshot " + snap.string() + " --out " + (dir_ / "n1").string() +
                     " --previous " + (dir_ / "n2").string()).exit_code, 2);
  EXPECT_EQ(Slurp(dir_ / "n1/grants.csv"), Slurp(dir_ / "n1b/grants.csv"));
  // Query from the snapshot.
  CmdResult q = Polmatch("query --rules " + Rules() + " --snapshot " + snap.string() + " --firm " + code_ + " --as-of 2021-06-30");
  EXPECT_EQ(q.exit_code, 0) << q.out;
  EXPECT_THAT(q.out, HasSubstr("2000000.00 元"));
  EXPECT_EQ(Polmatch("query --rules " + Rules() + " --snapshot " + snap.string() + " --firms " + Firms() + " --firm " + code_).exit_code, 2);
}

}  // namespace
}  // namespace polmatch
