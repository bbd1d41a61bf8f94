// The command line's side of firm ingestion, end to end (SPEC §2, §5): a GB18030 export refused or
// read with --encoding, exit 1 when no firm record was accepted, partial sources through --firms,
// the nightly job's --max-shrink / --max-reject-rate / --force guards, and the warning for firms
// founded after --as-of.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
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

// "汕尾海峰研究院" in GB18030 (GBK), as Chinese Excel saves it.
constexpr char kGbkName[] = "\xc9\xc7\xce\xb2\xba\xa3\xb7\xe5\xd1\xd0\xbe\xbf\xd4\xba";

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Lines(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class IngestCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("ingest_cli_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "rules/policies");
    fs::create_directory_symlink(fs::path(testing::RulesDir()) / "taxonomy", dir_ / "rules/taxonomy");
    std::ofstream(dir_ / "rules/policies/p.textproto") << R"pb(
      policy { id: "sw-rev" title: "营收奖励" mode: AUTO_GRANT
        eligibility: "region under \"441500\" and revenue >= 100万" benefit: "revenue * 1%" }
    )pb";
    // Twenty firms, each with a revenue that qualifies.
    std::ofstream out(dir_ / "firms.jsonl");
    for (int i = 0; i < 20; ++i) out << Firm(i, "2019-03-01") << "\n";
  }
  std::string Firm(int i, const std::string& founded) const {
    return absl::StrCat(R"({"credit_code":")", Code(i), R"(","name":"企业)", i,
                        R"(","region":"441502","founded":")", founded,
                        R"(","facts":{"revenue":2000000}})");
  }
  static std::string Code(int i) { return testing::MakeCreditCode("441502", 100 + i); }
  std::string Rules() const { return (dir_ / "rules").string(); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  // Writes the first `n` firms of firms.jsonl (and `extra` lines) to `name`.
  std::string Subset(const std::string& name, int n, const std::string& extra = "") const {
    std::ofstream out(dir_ / name);
    for (int i = 0; i < n; ++i) out << Firm(i, "2019-03-01") << "\n";
    out << extra;
    return Path(name);
  }
  std::string Batch() const { return "batch --rules " + Rules() + " --as-of 2021-06-30 "; }

  fs::path dir_;
  static inline int counter_ = 0;
};

TEST_F(IngestCliTest, GbkCsvIsRefusedWithOneLineOrReadWithEncoding) {
  std::ofstream(dir_ / "gbk.csv") << "credit_code,name,region,revenue\r\n"
                                  << Code(0) << "," << kGbkName << ",441502,2000000\r\n";
  // Before: "1 records, 0 firms, 1 rejected", exit 0, and a snapshot of no firms.
  CmdResult idx = Polmatch("index --rules " + Rules() + " --firms " + Path("gbk.csv") + " --out " + Path("g.snap"));
  EXPECT_EQ(idx.exit_code, 2) << idx.out;
  EXPECT_EQ(idx.out, "polmatch: " + Path("gbk.csv") +
                         ":2: not UTF-8 but GB18030/GBK (as Chinese Excel and WPS save CSV): read it "
                         "with --encoding gb18030, or convert it with iconv -f GB18030 -t UTF-8\n");
  EXPECT_FALSE(fs::exists(dir_ / "g.snap"));
  CmdResult b = Polmatch(Batch() + "--firms " + Path("gbk.csv") + " --out " + Path("gn"));
  EXPECT_EQ(b.exit_code, 2) << b.out;
  EXPECT_THAT(b.out, HasSubstr("--encoding gb18030"));
  EXPECT_FALSE(fs::exists(dir_ / "gn"));

  CmdResult read = Polmatch("index --encoding gb18030 --rules " + Rules() + " --firms " + Path("gbk.csv") +
                            " --out " + Path("g.snap"));
  EXPECT_EQ(read.exit_code, 0) << read.out;
  EXPECT_THAT(read.out, HasSubstr("1 records, 1 firms, 0 rejected"));
  CmdResult q = Polmatch("query --encoding gbk --rules " + Rules() + " --firms " + Path("gbk.csv") +
                         " --firm " + Code(0) + " --as-of 2021-06-30");
  EXPECT_EQ(q.exit_code, 0) << q.out;
  EXPECT_THAT(q.out, HasSubstr("汕尾海峰研究院"));
  CmdResult bad = Polmatch("index --encoding latin1 --rules " + Rules() + " --firms " + Path("gbk.csv") +
                           " --out " + Path("g.snap"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.out, HasSubstr("--encoding must be utf-8 or gb18030"));
}

TEST_F(IngestCliTest, NoAcceptedRecordExitsOneAndWritesNothing) {
  std::ofstream(dir_ / "bad.jsonl") << R"({"credit_code":"91441502000000000X","region":"441502"})" << "\n";
  std::ofstream(dir_ / "empty.csv") << "";
  for (const char* file : {"bad.jsonl", "empty.csv"}) {
    CmdResult idx = Polmatch("index --rules " + Rules() + " --firms " + Path(file) + " --out " + Path("x.snap"));
    EXPECT_EQ(idx.exit_code, 1) << file << "\n" << idx.out;
    EXPECT_THAT(idx.out, HasSubstr("no firm record accepted"));
    EXPECT_FALSE(fs::exists(dir_ / "x.snap"));
    CmdResult b = Polmatch(Batch() + "--firms " + Path(file) + " --out " + Path("night"));
    EXPECT_EQ(b.exit_code, 1) << file << "\n" << b.out;
    EXPECT_FALSE(fs::exists(dir_ / "night"));
    CmdResult q = Polmatch("query --rules " + Rules() + " --firms " + Path(file) + " --firm " + Code(0));
    EXPECT_EQ(q.exit_code, 1) << q.out;
    EXPECT_THAT(q.out, HasSubstr("no firm record accepted"));
  }
}

TEST_F(IngestCliTest, PartialSourcesCompleteFirmsThroughFirms) {
  // A tax feed with credit_code and one fact, and no region column (refused whole before).
  std::ofstream(dir_ / "tax.csv") << "credit_code,revenue\n" << Code(0) << ",5000000\n"
                                  << testing::MakeCreditCode("441502", 999) << ",1\n";
  CmdResult q = Polmatch("query --rules " + Rules() + " --firms " + Path("firms.jsonl") + " --firms " +
                         Path("tax.csv") + " --firm " + Code(0) + " --as-of 2021-06-30");
  EXPECT_EQ(q.exit_code, 0) << q.out;
  EXPECT_THAT(q.out, HasSubstr("50000.00 元"));  // 1% of the tax feed's 5000000
  EXPECT_THAT(q.out, HasSubstr("tax.csv:3: no base record"));
  CmdResult idx = Polmatch("index --rules " + Rules() + " --firms " + Path("firms.jsonl") + " --firms " +
                           Path("tax.csv") + " --out " + Path("p.snap"));
  EXPECT_EQ(idx.exit_code, 0) << idx.out;
  EXPECT_THAT(idx.out, HasSubstr("22 records, 20 firms, 1 rejected"));
}

TEST_F(IngestCliTest, BatchGuardsRefuseAShrunkOrRejectedRegistryUnlessForced) {
  ASSERT_EQ(Polmatch(Batch() + "--firms " + Path("firms.jsonl") + " --out " + Path("n1")).exit_code, 0);
  // A second night already on disk: a refused night must leave it exactly as it was.
  ASSERT_EQ(Polmatch(Batch() + "--firms " + Path("firms.jsonl") + " --out " + Path("n2")).exit_code, 0);
  const std::string n2_state = Slurp(dir_ / "n2/state.pmstate");
  const std::string n2_pushes = Slurp(dir_ / "n2/pushes.jsonl");

  // 18 of 20 firms: 10% gone, more than the default 5%.
  const std::string shrunk = Subset("shrunk.jsonl", 18);
  CmdResult refused = Polmatch(Batch() + "--firms " + shrunk + " --previous " + Path("n1") + " --out " + Path("n2"));
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_EQ(Lines(refused.out, "batch: refused: "), 1);
  EXPECT_THAT(refused.out, HasSubstr("batch: refused: the registry shrank from 20 to 18 firms (10%, "
                                     "more than --max-shrink 5%)"));
  EXPECT_EQ(Slurp(dir_ / "n2/state.pmstate"), n2_state);
  EXPECT_EQ(Slurp(dir_ / "n2/pushes.jsonl"), n2_pushes);
  // Without --previous there is nothing to withdraw: no guard.
  EXPECT_EQ(Polmatch(Batch() + "--firms " + shrunk + " --out " + Path("n3")).exit_code, 0);
  // A looser limit, as a percentage or a fraction, or --force.
  EXPECT_EQ(Polmatch(Batch() + "--firms " + shrunk + " --previous " + Path("n1") + " --max-shrink 10% --out " +
                     Path("n4")).exit_code, 0);
  EXPECT_EQ(Polmatch(Batch() + "--firms " + shrunk + " --previous " + Path("n1") + " --max-shrink 0.1 --out " +
                     Path("n4")).exit_code, 0);
  CmdResult forced = Polmatch(Batch() + "--firms " + shrunk + " --previous " + Path("n1") + " --force --out " + Path("n5"));
  EXPECT_EQ(forced.exit_code, 0) << forced.out;
  EXPECT_THAT(forced.out, HasSubstr("batch: --force: running although the registry shrank"));
  EXPECT_EQ(Lines(Slurp(dir_ / "n5/pushes.jsonl"), "\"change\":\"REVOKED\""), 2);

  // 20 good records and 1 bad: 4.7619% rejected, more than the default 1%.
  const std::string rejecting = Subset("rejecting.jsonl", 20, "{\"credit_code\":\"x\"}\n");
  CmdResult rate = Polmatch(Batch() + "--firms " + rejecting + " --previous " + Path("n1") + " --out " + Path("n6"));
  EXPECT_EQ(rate.exit_code, 1) << rate.out;
  EXPECT_THAT(rate.out, HasSubstr("batch: refused: 1 of 21 input records were rejected (4.7619%, more "
                                  "than --max-reject-rate 1%)"));
  EXPECT_FALSE(fs::exists(dir_ / "n6"));
  EXPECT_EQ(Polmatch(Batch() + "--firms " + rejecting + " --previous " + Path("n1") + " --max-reject-rate 5% --out " +
                     Path("n6")).exit_code, 0);

  // From a snapshot, the shrink guard holds too.
  ASSERT_EQ(Polmatch("index --rules " + Rules() + " --firms " + shrunk + " --out " + Path("s.snap")).exit_code, 0);
  EXPECT_EQ(Polmatch(Batch() + "--snapshot " + Path("s.snap") + " --previous " + Path("n1") + " --out " +
                     Path("n7")).exit_code, 1);
  EXPECT_FALSE(fs::exists(dir_ / "n7"));

  for (const char* bad : {"5", "-1%", "x", "150%"}) {
    CmdResult usage = Polmatch(Batch() + "--firms " + shrunk + " --max-shrink " + bad + " --out " + Path("n8"));
    EXPECT_EQ(usage.exit_code, 2) << bad << "\n" << usage.out;
    EXPECT_THAT(usage.out, HasSubstr("--max-shrink: ")) << bad;
  }
  EXPECT_FALSE(fs::exists(dir_ / "n8"));
}

TEST_F(IngestCliTest, FirmsFoundedAfterAsOfAreReportedAndMatchedAsGiven) {
  std::ofstream(dir_ / "late.jsonl") << Firm(0, "2019-03-01") << "\n" << Firm(1, "2022-01-01") << "\n"
                                     << Firm(2, "2023-05-05") << "\n";
  CmdResult b = Polmatch(Batch() + "--firms " + Path("late.jsonl") + " --out " + Path("late"));
  EXPECT_EQ(b.exit_code, 0) << b.out;
  EXPECT_THAT(b.out, HasSubstr("batch: warning: 2 firm(s) founded after the as-of date 2021-06-30 (first " +
                               Code(1) + ", founded 2022-01-01)"));
  EXPECT_EQ(Lines(Slurp(dir_ / "late/grants.csv"), "sw-rev,"), 3);
  CmdResult q = Polmatch("query --rules " + Rules() + " --firms " + Path("late.jsonl") + " --firm " + Code(2) +
                         " --as-of 2021-06-30");
  EXPECT_EQ(q.exit_code, 0) << q.out;
  EXPECT_THAT(q.out, HasSubstr("was founded on 2023-05-05, after the as-of date 2021-06-30"));
  CmdResult fine = Polmatch("query --rules " + Rules() + " --firms " + Path("late.jsonl") + " --firm " + Code(0) +
                            " --as-of 2021-06-30");
  EXPECT_THAT(fine.out, Not(HasSubstr("warning")));
}

}  // namespace
}  // namespace polmatch
