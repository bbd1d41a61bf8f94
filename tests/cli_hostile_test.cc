// The command line against hostile input (issue 12): bad flag values on every subcommand, inputs
// that are not regular files, output paths polmatch did not write, leftovers of killed runs, and
// malformed credit codes. Every case must end with an exit code (never a signal or a hang) and
// must never delete or replace a file polmatch did not create.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "engine/ingest/credit_code.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// exit_code -1: killed by a signal; 124: timed out (hung).
using RunResult = testing::CmdResult;

// The binary under `timeout` (a hang is a failure, not a stuck suite), stdout and stderr together.
RunResult Polmatch(const std::string& args) { return testing::Polmatch(args, /*kill_after_seconds=*/30); }

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A PID that no process has: a child that has exited and been reaped.
pid_t DeadPid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  waitpid(pid, &status, 0);
  return pid;
}

class HostileCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("hostile_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    rules_ = testing::RulesDir();
    firms_ = rules_ + "/demo/notable_firms.jsonl";
    // A directory with a file and a subdirectory of the user's.
    fs::create_directories(dir_ / "mine/sub");
    std::ofstream(dir_ / "mine/notes.txt") << "keep\n";
    std::ofstream(dir_ / "mine/sub/deep.txt") << "keep too\n";
    std::ofstream(dir_ / "some.snap") << "not a snapshot\n";
    ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0644), 0);
    fs::copy_file(firms_, dir_ / "firms.jsonl");  // a firm file that a wrong --out may not replace
  }
  void TearDown() override { fs::remove_all(dir_); }
  // `text` with {R} rules, {F} firms, {D} the test directory, {S} a snapshot built once.
  std::string Expand(const std::string& text) {
    if (text.find("{S}") != std::string::npos && !fs::exists(dir_ / "ok.snap")) {
      RunResult r = Polmatch("index --rules " + rules_ + " --firms " + firms_ + " --out " + (dir_ / "ok.snap").string());
      EXPECT_EQ(r.exit_code, 0) << r.out;
    }
    return absl::StrReplaceAll(text, {{"{R}", rules_}, {"{F}", firms_}, {"{D}", dir_.string()},
                                      {"{S}", (dir_ / "ok.snap").string()}});
  }
  void ExpectUserFilesIntact() {
    EXPECT_EQ(Slurp(dir_ / "mine/notes.txt"), "keep\n");
    EXPECT_EQ(Slurp(dir_ / "mine/sub/deep.txt"), "keep too\n");
    EXPECT_EQ(Slurp(dir_ / "some.snap"), "not a snapshot\n");
    EXPECT_TRUE(fs::is_regular_file(dir_ / "some.snap"));
    EXPECT_EQ(Slurp(dir_ / "firms.jsonl"), Slurp(firms_));
  }
  fs::path dir_;
  std::string rules_, firms_;
  static inline int counter_ = 0;
};

constexpr char kCode[] = "91441502MA4W0PA9X8";  // 汕尾海峰新型研发研究院 in the demo data

TEST_F(HostileCliTest, ExampleCodesOfTheHelpAreValid) {
  EXPECT_TRUE(ValidateCreditCode(kCode).ok());
  for (const char* cmd : {"query", "check", "path", "reserve", "simulate", "batch", "index"}) {
    const RunResult r = Polmatch(std::string(cmd) + " --help");
    ASSERT_EQ(r.exit_code, 0) << cmd;
    // Every 18-character run of the code alphabet starting with 9 in the help is a valid code.
    for (size_t at = r.out.find("--firm 9"); at != std::string::npos; at = r.out.find("--firm 9", at + 1)) {
      const std::string code = r.out.substr(at + 7, 18);
      EXPECT_TRUE(ValidateCreditCode(code).ok()) << cmd << ": " << code;
    }
  }
}

// Issue 12 items 4, 6 and 11: a bad value of every flag of every subcommand is bad usage (exit 2)
// with a `polmatch:` line, never a signal, a hang or a run that goes on.
TEST_F(HostileCliTest, BadFlagValuesAreBadUsage) {
  const std::string q = "--rules {R} --snapshot {S}";
  const std::vector<std::string> cases = {
      // lint / test
      "lint {R} --as-of 2023-02-30", "lint {R} --as-of yesterday", "lint {R} --as-of ''",
      "lint ''", "lint {D}/nope", "lint {F}", "lint {R} --bogus", "test ''", "test {F}",
      "test {R} --frobnicate",
      // query / check / path: the credit code as the API checks it, dates, registries
      "query " + q + " --firm 91441502MA4W0PA9X9", "query " + q + " --firm 91441502ma4w0pa9x8",
      "query " + q + " --firm 9144150", "query " + q + " --firm ''",
      "query " + q + " --firm 91441502MA4W0PA9X8X", "query " + q + " --firm 91441502MA4W0PA9Z8",
      "query " + q + " --firm '91441502MA4W0PA9 8'", "query " + q + " --firm 91441502MA4W0PA9X8 --as-of 2021-13-01",
      "query --rules {R} --snapshot {F} --firm 91441502MA4W0PA9X8",
      "query --rules {R} --snapshot {D} --firm 91441502MA4W0PA9X8",
      "query --rules {R} --snapshot /dev/zero --firm 91441502MA4W0PA9X8",
      "query --rules {R} --snapshot {D}/fifo --firm 91441502MA4W0PA9X8",
      "query --rules {R} --firms {D}/fifo --firm 91441502MA4W0PA9X8",
      "query --rules {R} --firms /dev/zero --firm 91441502MA4W0PA9X8",
      "query --rules {R} --snapshot {S} --firms {F} --firm 91441502MA4W0PA9X8",
      "query --rules {R} --firm 91441502MA4W0PA9X8", "query --rules '' --snapshot {S} --firm 91441502MA4W0PA9X8",
      "check " + q + " --firm 91441502MA4W0PA9X9 --policy shanwei-2021.4.4",
      "check " + q + " --firm 91441502MA4W0PA9x8 --policy shanwei-2021.4.4",
      "check " + q + " --firm 91441502MA4W0PA9X8", "path " + q + " --firm 91441502MA4W0PA9X9",
      "path " + q + " --firm 91441502MA4W0PA9X8 --as-of x",
      // index
      "index --rules {R} --firms {F} --out ''", "index --rules {R} --firms {F} --out {D}/mine",
      "index --rules {R} --firms {F} --out {D}/some.snap", "index --rules {R} --firms {F} --out {D}/firms.jsonl",
      "index --rules {R} --firms /dev/zero --out {D}/x.snap", "index --rules {R} --firms {D}/fifo --out {D}/x.snap",
      "index --rules {R} --firms {D} --out {D}/x.snap", "index --rules {R} --firms '' --out {D}/x.snap",
      "index --rules {F} --firms {F} --out {D}/x.snap",
      "index --rules {R} --firms {D}/firms.jsonl --out {D}/x.snap --rejects {D}/firms.jsonl",
      "index --rules {R} --firms {F} --out {D}/x.snap --rejects {D}/mine",
      "index --rules {R} --firms {F} --out {D}/x.snap --rejects {D}/fifo",
      "index --rules {R} --firms {F} --out {D}/x.snap --rejects ''",
      "batch --rules {R} --firms {D}/firms.jsonl --as-of 2023-06-30 --out {D}/n --rejects {D}/firms.jsonl",
      // batch
      "batch " + q + " --as-of 2023-06-30 --out ''", "batch " + q + " --as-of 2023-06-30 --out {D}/mine",
      "batch " + q + " --as-of 2023-06-30 --out {D}/mine/.", "batch " + q + " --as-of 2023-06-30 --out {D}/mine/sub/..",
      "batch " + q + " --as-of 2023-06-30 --out {D}/some.snap", "batch " + q + " --as-of 2023-06-30 --out /",
      "batch " + q + " --as-of 2023-06-30 --out {D}", "batch " + q + " --as-of 2023-06-30 --out {D}/n --threads 0",
      "batch " + q + " --as-of 2023-06-30 --out {D}/n --threads -1",
      "batch " + q + " --as-of 2023-06-30 --out {D}/n --threads 100000",
      "batch " + q + " --as-of 2023-06-30 --out {D}/n --threads abc",
      "batch " + q + " --as-of 2023-06-30 --out {D}/n --threads 1.5",
      "batch " + q + " --as-of 2023-06-30 --out {D}/n --threads 99999999999",
      "batch " + q + " --as-of 2023-02-29 --out {D}/n", "batch " + q + " --as-of '' --out {D}/n",
      "batch " + q + " --as-of 2023-06-30 --out {D}/n --engine gpu",
      "batch " + q + " --as-of 2023-06-30 --out {D}/n --previous {D}/nope",
      "batch " + q + " --as-of 2023-06-30 --out {D}/n --previous {F}",
      "batch " + q + " --as-of 2023-06-30 --out {D}/n --previous {D}/mine",
      "batch --rules {R} --snapshot /dev/zero --as-of 2023-06-30 --out {D}/n",
      "batch --rules {R} --snapshot {D}/fifo --as-of 2023-06-30 --out {D}/n",
      "batch --rules {R} --firms {D}/fifo --as-of 2023-06-30 --out {D}/n",
      // simulate / reserve
      "simulate " + q + " --policy shanwei-2021.4.4 --benefit 1 --threads 0",
      "simulate " + q + " --policy shanwei-2021.4.4 --benefit 1 --threads 100000",
      "simulate " + q + " --policy shanwei-2021.4.4 --benefit 1 --top -1",
      "simulate " + q + " --policy shanwei-2021.4.4 --benefit 1 --top x",
      "simulate " + q + " --reform /dev/zero", "simulate " + q + " --reform {D}/fifo", "simulate " + q + " --reform ''",
      "reserve " + q + " --limit -1", "reserve " + q + " --limit x", "reserve " + q + " --as-of 2023-02-30",
      // gen
      "gen --firms -1 --out {D}/g", "gen --firms x --out {D}/g", "gen --firms 1e3 --out {D}/g",
      "gen --policies -5 --out {D}/g", "gen --firms 3 --seed -1 --out {D}/g", "gen --firms 3 --seed x --out {D}/g",
      "gen --firms 3 --out ''", "gen --firms 3 --policies 3 --out {D}/g", "gen --firms 3 --regions 999999 --out {D}/g",
      "gen --firms 3 --as-of 2023-13-01 --out {D}/g", "gen --firms 99999999999999 --out {D}/g",
      // serve: checked before it listens
      "serve --rules {R} --snapshot {S} --port 70000", "serve --rules {R} --snapshot {S} --threads 0",
  };
  int tried = 0;
  for (const std::string& c : cases) {
    const RunResult r = Polmatch(Expand(c));
    ++tried;
    EXPECT_EQ(r.exit_code, 2) << c << "\n" << r.out;
    EXPECT_THAT(r.out, HasSubstr("polmatch")) << c;
    EXPECT_THAT(r.out, Not(HasSubstr("terminate called"))) << c;
  }
  ExpectUserFilesIntact();
  EXPECT_FALSE(fs::exists(dir_ / "n")) << "a refused batch wrote its outputs";
  std::printf("%d bad flag values tried\n", tried);
}

// Issue 12 item 1: --out replaces only what polmatch wrote.
TEST_F(HostileCliTest, OutReplacesOnlyWhatPolmatchWrote) {
  const std::string batch = Expand("batch --rules {R} --firms {F} --as-of 2023-06-30 --out ");
  // A directory of the user's, the current directory, a file: refused, untouched.
  for (const fs::path& out : {dir_ / "mine", dir_ / "mine" / ".", dir_ / "some.snap"}) {
    const RunResult r = Polmatch(batch + out.string());
    EXPECT_EQ(r.exit_code, 2) << out << r.out;
    EXPECT_THAT(r.out, HasSubstr("polmatch replaces only a new or empty directory, or one it wrote"));
  }
  ExpectUserFilesIntact();
  // A symbolic link to a night: refused (the link is the user's).
  ASSERT_EQ(Polmatch(batch + (dir_ / "night").string()).exit_code, 0);
  fs::create_directory_symlink(dir_ / "night", dir_ / "link");
  EXPECT_EQ(Polmatch(batch + (dir_ / "link").string()).exit_code, 2);
  EXPECT_TRUE(fs::is_symlink(dir_ / "link"));
  // An empty directory, and a night written by polmatch (marked): replaced.
  fs::create_directory(dir_ / "empty");
  EXPECT_EQ(Polmatch(batch + (dir_ / "empty").string()).exit_code, 0);
  EXPECT_TRUE(fs::exists(dir_ / "empty/.polmatch"));
  EXPECT_TRUE(fs::exists(dir_ / "empty/summary.json"));
  const RunResult again = Polmatch(batch + (dir_ / "night").string() + " --previous " + (dir_ / "night").string());
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_TRUE(fs::exists(dir_ / "night/state.pmstate"));
  // A night of an earlier polmatch (no marker, only its files): still replaced.
  fs::remove(dir_ / "night/.polmatch");
  EXPECT_EQ(Polmatch(batch + (dir_ / "night").string()).exit_code, 0);
  EXPECT_TRUE(fs::exists(dir_ / "night/.polmatch"));
  // A night with a file of the user's dropped in: refused, the file kept.
  std::ofstream(dir_ / "night/notes.txt") << "mine\n";
  const RunResult foreign = Polmatch(batch + (dir_ / "night").string());
  EXPECT_EQ(foreign.exit_code, 2);
  EXPECT_THAT(foreign.out, HasSubstr("notes.txt"));
  EXPECT_EQ(Slurp(dir_ / "night/notes.txt"), "mine\n");
  EXPECT_TRUE(fs::exists(dir_ / "night/summary.json"));
  // Unmarked files named like polmatch's but without its state: not taken for a night.
  fs::create_directory(dir_ / "lookalike");
  std::ofstream(dir_ / "lookalike/summary.json") << "{}\n";
  EXPECT_EQ(Polmatch(batch + (dir_ / "lookalike").string()).exit_code, 2);
  EXPECT_EQ(Slurp(dir_ / "lookalike/summary.json"), "{}\n");
}

TEST_F(HostileCliTest, IndexOutReplacesOnlyASnapshot) {
  const std::string index = Expand("index --rules {R} --firms {F} --out ");
  for (const fs::path& out : {dir_ / "some.snap", dir_ / "mine", dir_ / "firms.jsonl"}) {
    const RunResult r = Polmatch(index + out.string());
    EXPECT_EQ(r.exit_code, 2) << out << r.out;
  }
  ExpectUserFilesIntact();
  std::ofstream(dir_ / "empty.snap").close();
  EXPECT_EQ(Polmatch(index + (dir_ / "empty.snap").string()).exit_code, 0);
  EXPECT_EQ(Polmatch(index + (dir_ / "empty.snap").string()).exit_code, 0);  // a snapshot: replaced
  fs::create_symlink(dir_ / "empty.snap", dir_ / "link.snap");
  EXPECT_EQ(Polmatch(index + (dir_ / "link.snap").string()).exit_code, 2);
  EXPECT_TRUE(fs::is_symlink(dir_ / "link.snap"));
}

// Issue 12 item 6: inputs that are not regular files are refused at once, wherever they are read.
TEST_F(HostileCliTest, FifosAndDevicesAsInputsDoNotHang) {
  // The rules: a FIFO as a catalog and as the tag library (found while listing the directory).
  const fs::path rules = dir_ / "rules";
  fs::create_directories(rules / "policies");
  fs::copy(fs::path(rules_) / "taxonomy", rules / "taxonomy", fs::copy_options::recursive);
  ASSERT_EQ(::mkfifo((rules / "policies/fifo.textproto").c_str(), 0644), 0);
  RunResult r = Polmatch("lint " + rules.string());
  EXPECT_NE(r.exit_code, 124) << "hung";
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("fifo.textproto"));
  fs::remove(rules / "policies/fifo.textproto");
  fs::remove(rules / "taxonomy/tags.textproto");
  ASSERT_EQ(::mkfifo((rules / "taxonomy/tags.textproto").c_str(), 0644), 0);
  r = Polmatch("lint " + rules.string());
  EXPECT_NE(r.exit_code, 124) << "hung";
  EXPECT_NE(r.exit_code, 0);
  // The previous night's state.
  fs::create_directory(dir_ / "prev");
  ASSERT_EQ(::mkfifo((dir_ / "prev/state.pmstate").c_str(), 0644), 0);
  r = Polmatch(Expand("batch --rules {R} --firms {F} --as-of 2023-06-30 --out {D}/n --previous {D}/prev"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("not a regular file (a FIFO)"));
  // Firms and snapshots: a FIFO and /dev/zero.
  for (const std::string& input : {(dir_ / "fifo").string(), std::string("/dev/zero")}) {
    r = Polmatch(Expand("index --rules {R} --firms " + input + " --out {D}/x.snap"));
    EXPECT_EQ(r.exit_code, 2) << input << r.out;
    EXPECT_THAT(r.out, HasSubstr(input + ": not a regular file"));
    r = Polmatch(Expand("batch --rules {R} --snapshot " + input + " --as-of 2023-06-30 --out {D}/n"));
    EXPECT_EQ(r.exit_code, 2) << input << r.out;
    EXPECT_THAT(r.out, HasSubstr(input + ": not a regular file"));
  }
}

// Issue 12 item 11: --firm is checked as the API checks it.
TEST_F(HostileCliTest, FirmCodesAreValidated) {
  const std::string q = Expand("query --rules {R} --firms {F} --as-of 2021-06-30 --firm ");
  RunResult r = Polmatch(q + "91441502MA4W0PA9X9");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("bad check digit: expected '8', found '9'"));
  r = Polmatch(q + "91441502ma4w0pa9x8");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("invalid character 'm'"));
  r = Polmatch(q + "9144150");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("has 7 characters, want 18"));
  EXPECT_EQ(Polmatch(q + kCode).exit_code, 0);
  EXPECT_EQ(Polmatch(q + testing::MakeCreditCode("441502", 77)).exit_code, 1);  // valid, unknown
}

// Issue 12 item 12: leftovers of killed runs are removed by the next run, and only they.
TEST_F(HostileCliTest, LeftoversOfKilledRunsAreCleanedOnlyIfPolmatchs) {
  const pid_t dead = DeadPid();
  const std::string live = std::to_string(::getpid());
  auto night_tmp = [&](const std::string& name, bool marker, bool foreign) {
    fs::create_directory(dir_ / name);
    if (marker) std::ofstream(dir_ / name / ".polmatch") << "polmatch night directory\n";
    std::ofstream(dir_ / name / "grants.csv") << "policy_id,credit_code,name,benefit_yuan\n";
    if (foreign) std::ofstream(dir_ / name / "notes.txt") << "mine\n";
  };
  const std::string stale = ".night.new-" + std::to_string(dead);
  night_tmp(stale, true, false);
  night_tmp(".night.old-" + std::to_string(dead), true, false);
  night_tmp(".night.new-" + live, true, false);                    // its writer still runs
  night_tmp(".night.new-1" + std::to_string(dead) + "x", true, false);  // not the exact name
  night_tmp(".other.new-" + std::to_string(dead), true, false);    // another target's
  night_tmp(".night.new-" + std::to_string(DeadPid()), false, false);  // no marker
  const std::string with_notes = ".night.new-" + std::to_string(DeadPid());
  night_tmp(with_notes, true, true);
  const RunResult r = Polmatch(Expand("batch --rules {R} --firms {F} --as-of 2023-06-30 --out {D}/night"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / stale));
  EXPECT_FALSE(fs::exists(dir_ / (".night.old-" + std::to_string(dead))));
  int kept = 0;
  for (const auto& e : fs::directory_iterator(dir_)) kept += e.path().filename().string().rfind(".", 0) == 0;
  EXPECT_EQ(kept, 5);
  EXPECT_EQ(Slurp(dir_ / with_notes / "notes.txt"), "mine\n");

  // Snapshot temporaries: removed when the writer is dead and the file is a (partial) snapshot
  // or empty; kept otherwise.
  const std::string snap = (dir_ / "s.snap").string();
  std::ofstream(snap + ".tmp-" + std::to_string(dead)) << std::string("PMSNAP\x1a\n", 8) << "partial";
  std::ofstream(snap + ".tmp-" + std::to_string(DeadPid())).close();
  const std::string foreign = snap + ".tmp-" + std::to_string(DeadPid());
  std::ofstream(foreign) << "mine\n";
  const std::string running = snap + ".tmp-" + live;
  std::ofstream(running) << std::string("PMSNAP\x1a\n", 8);
  ASSERT_EQ(Polmatch(Expand("index --rules {R} --firms {F} --out ") + snap).exit_code, 0);
  int tmp_files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) tmp_files += e.path().filename().string().find("s.snap.tmp-") == 0;
  EXPECT_EQ(tmp_files, 2);
  EXPECT_EQ(Slurp(foreign), "mine\n");
  EXPECT_TRUE(fs::exists(running));
}

// Issue 12 item 12: index says how many rejects it did not show.
TEST_F(HostileCliTest, IndexCountsTheRejectsItDoesNotShow) {
  std::ofstream firms(dir_ / "bad.jsonl");
  for (char c = 'a'; c < 'a' + 8; ++c) firms << "{\"credit_code\":\"91441502000000000" << c << "\",\"region\":\"441502\"}\n";
  firms.close();
  const RunResult r = Polmatch(Expand("index --rules {R} --firms {D}/bad.jsonl --out {D}/x.snap"));
  EXPECT_THAT(r.out, HasSubstr("8 rejected"));
  EXPECT_THAT(r.out, HasSubstr("… 3 more"));
}

}  // namespace
}  // namespace polmatch
