// RunNightly (engine/api/nightly.h): the nightly job as a library call — its files, its report,
// what it tells its observer, and the nights it refuses without writing anything.
#include "engine/api/nightly.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/output/output_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Everything told, in order, as "phase NAME", "message TEXT", "diagnostic TEXT", "rejects N".
class Recorder : public NightlyObserver {
 public:
  void OnPhase(absl::string_view phase, double seconds, bool concurrent) override {
    EXPECT_GE(seconds, 0);
    events.push_back(absl::StrCat(concurrent ? "aside " : "phase ", phase));
  }
  void OnDiagnostic(const Diagnostic& d) override { events.push_back("diagnostic " + d.ToString()); }
  void OnMessage(absl::string_view text) override { events.push_back(absl::StrCat("message ", text)); }
  void OnProgress(uint64_t done, uint64_t total) override {
    EXPECT_LE(done, total);
    last_progress = done;
  }
  absl::Status OnRejects(const std::vector<Rejection>& rejects) override {
    events.push_back(absl::StrCat("rejects ", rejects.size()));
    return rejects_status;
  }
  std::vector<std::string> Phases() const {
    std::vector<std::string> out;
    for (const std::string& e : events) {
      if (absl::StartsWith(e, "phase ")) out.push_back(e.substr(6));
    }
    return out;
  }
  bool Told(absl::string_view prefix) const {
    for (const std::string& e : events) {
      if (absl::StartsWith(e, prefix)) return true;
    }
    return false;
  }
  std::vector<std::string> events;
  uint64_t last_progress = 0;
  absl::Status rejects_status;
};

class NightlyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / absl::StrCat("nightly_", ::getpid(), "_",
                                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The demo registry (3,000 generated firms and the notable ones) on 2021-06-30 into `out`.
  NightlyOptions Demo(const std::string& out) const {
    NightlyOptions o;
    o.rules_dir = testing::RulesDir();
    o.firm_files = {testing::RulesDir() + "/demo/generated_firms.jsonl",
                    testing::RulesDir() + "/demo/notable_firms.jsonl"};
    o.as_of = absl::CivilDay(2021, 6, 30);
    o.out_dir = (dir_ / out).string();
    o.threads = 2;
    return o;
  }
  // The entries of the test's directory, by name.
  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    for (const fs::directory_entry& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path dir_;
};

TEST_F(NightlyTest, WritesTheNightAndReportsIt) {
  Recorder recorder;
  absl::StatusOr<NightlyReport> report = RunNightly(Demo("night1"), &recorder);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->firms, 3021);
  EXPECT_EQ(report->ingest.accepted, 3021);
  EXPECT_TRUE(report->rejects.empty());
  EXPECT_GT(report->policies, 0);
  EXPECT_GT(report->founded_after, 0);  // the demo registry holds firms founded after 2021-06-30
  EXPECT_FALSE(report->ledger.has_value());
  EXPECT_TRUE(report->kept.empty());
  EXPECT_THAT(recorder.Phases(), ElementsAre("rules", "ingest", "index", "match", "collect", "state", "pushes",
                                             "summary", "grants", "commit"));
  EXPECT_TRUE(recorder.Told("rejects 0"));
  EXPECT_TRUE(recorder.Told(absl::StrCat("message 3021 firms × ", report->policies, " policies")));
  EXPECT_TRUE(recorder.Told(absl::StrCat("message warning: ", report->founded_after, " firm(s) founded after")));

  const fs::path night = dir_ / "night1";
  for (const char* file : {"summary.json", "grants.csv", "lists.csv", "pushes.jsonl", "state.pmstate"}) {
    EXPECT_TRUE(fs::is_regular_file(night / file)) << file;
  }
  EXPECT_FALSE(fs::exists(night / "proposals.csv"));
  absl::StatusOr<NightResult> state = ReadStateFile((night / "state.pmstate").string());
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->num_firms(), 3021u);
  EXPECT_EQ(Read(night / "summary.json"), SummaryJson(*state));
  EXPECT_THAT(Read(night / "grants.csv"), ::testing::StartsWith("policy_id,credit_code,name,benefit_yuan\n"));
  const std::string pushes = Read(night / "pushes.jsonl");
  EXPECT_GT(std::count(pushes.begin(), pushes.end(), '\n'), 0);

  // The reference matcher writes the same bytes, and tells its progress.
  NightlyOptions reference = Demo("night1-reference");
  reference.matcher = NightlyMatcher::kReference;
  Recorder ref_recorder;
  ASSERT_TRUE(RunNightly(reference, &ref_recorder).ok());
  EXPECT_EQ(ref_recorder.last_progress, 3021u);
  for (const char* file : {"summary.json", "grants.csv", "lists.csv", "pushes.jsonl", "state.pmstate"}) {
    EXPECT_EQ(Read(night / file), Read(dir_ / "night1-reference" / file)) << file;
  }

  // The same night again with the first as --previous: nothing changed, nothing to push.
  NightlyOptions again = Demo("night2");
  again.previous_dir = night.string();
  again.ledger_path = (dir_ / "grants.db").string();
  Recorder again_recorder;
  absl::StatusOr<NightlyReport> second = RunNightly(again, &again_recorder);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Read(dir_ / "night2" / "pushes.jsonl"), "");
  EXPECT_EQ(Read(dir_ / "night2" / "grants.csv"), Read(night / "grants.csv"));
  ASSERT_TRUE(second->ledger.has_value());
  EXPECT_GT(second->ledger->proposed, 0);
  EXPECT_TRUE(fs::is_regular_file(dir_ / "night2" / "proposals.csv"));
  EXPECT_TRUE(again_recorder.Told(absl::StrCat("message ledger: ", second->ledger->proposed, " proposed")));
  EXPECT_THAT(again_recorder.Phases(), ElementsAre("rules", "previous", "ingest", "index", "match", "collect",
                                                   "state", "pushes", "summary", "grants", "ledger", "commit"));
}

TEST_F(NightlyTest, ABadPreviousNightWritesNothing) {
  NightlyOptions o = Demo("night");
  o.previous_dir = (dir_ / "no-such-night").string();
  absl::StatusOr<NightlyReport> report = RunNightly(o);
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(absl::IsNotFound(report.status())) << report.status();
  EXPECT_EQ(NightlyFailureOf(report.status()), NightlyFailure::kBadInput);
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("cannot read the previous run's state"));
  EXPECT_TRUE(Entries().empty());
}

TEST_F(NightlyTest, AGuardRefusesTheNightBeforeWritingAndForceOverridesIt) {
  ASSERT_TRUE(RunNightly(Demo("night1")).ok());
  // Tonight's export holds only the 21 notable firms: the registry "shrank" by 99%.
  NightlyOptions o = Demo("night2");
  o.firm_files = {testing::RulesDir() + "/demo/notable_firms.jsonl"};
  o.previous_dir = (dir_ / "night1").string();
  Recorder recorder;
  absl::StatusOr<NightlyReport> report = RunNightly(o, &recorder);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(NightlyFailureOf(report.status()), NightlyFailure::kRefused);
  EXPECT_THAT(std::string(report.status().message()), HasSubstr("the registry shrank from 3021 to 21 firms"));
  EXPECT_FALSE(recorder.Told("phase match"));
  EXPECT_THAT(Entries(), ElementsAre("night1"));

  o.force = true;
  Recorder forced;
  report = RunNightly(o, &forced);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->guard_overridden, HasSubstr("the registry shrank from 3021 to 21 firms"));
  EXPECT_TRUE(forced.Told("message --force: running although the registry shrank"));
  EXPECT_THAT(Entries(), ElementsAre("night1", "night2"));
}

TEST_F(NightlyTest, TheFailuresSayWhoIsAtFault) {
  // No firm record accepted: a problem of the data, told after the rejects were handed over.
  const fs::path bad = dir_ / "bad.jsonl";
  std::ofstream(bad) << "{\"credit_code\":\"bad\"}\n";
  NightlyOptions o = Demo("night");
  o.firm_files = {bad.string()};
  Recorder recorder;
  absl::StatusOr<NightlyReport> report = RunNightly(o, &recorder);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(NightlyFailureOf(report.status()), NightlyFailure::kProblem);
  EXPECT_EQ(report.status().message(),
            "no firm record accepted: all 1 records were rejected (see the reasons above); nothing written");
  EXPECT_TRUE(recorder.Told("message 1 records rejected\n  "));
  EXPECT_TRUE(recorder.Told("rejects 1"));

  // The observer cannot keep the rejects: the night stops with its error.
  Recorder refusing;
  refusing.rejects_status = absl::PermissionDeniedError("rejects.txt: cannot write");
  report = RunNightly(Demo("night"), &refusing);
  EXPECT_EQ(report.status(), refusing.rejects_status);
  EXPECT_EQ(NightlyFailureOf(report.status()), NightlyFailure::kBadInput);

  // Rules with an error: told as diagnostics, nothing more to print.
  const fs::path rules = dir_ / "rules";
  fs::create_directories(rules / "policies");
  fs::create_directory_symlink(fs::path(testing::RulesDir()) / "taxonomy", rules / "taxonomy");
  std::ofstream(rules / "policies" / "broken.textproto") << "policies { id: \"x\" eligibility: \"revenue >\" }\n";
  o = Demo("night");
  o.rules_dir = rules.string();
  Recorder rules_recorder;
  report = RunNightly(o, &rules_recorder);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(NightlyFailureOf(report.status()), NightlyFailure::kRulesInvalid);
  ASSERT_FALSE(rules_recorder.events.empty());
  EXPECT_THAT(rules_recorder.events[0], ::testing::MatchesRegex("diagnostic .*broken.textproto:[0-9]+:.*"));
  EXPECT_FALSE(rules_recorder.Told("phase "));

  // Bad options.
  o = Demo("night");
  o.snapshot_path = (dir_ / "registry.snap").string();  // and firm files
  EXPECT_EQ(RunNightly(o).status().message(), "give either --snapshot or --firms");
  o = Demo("night");
  o.shard = ShardSpec{0, 2};
  o.ledger_path = (dir_ / "grants.db").string();
  EXPECT_TRUE(absl::IsInvalidArgument(RunNightly(o).status()));
  o = Demo("night");
  o.out_dir = bad.string();  // a file polmatch did not write
  report = RunNightly(o);
  EXPECT_THAT(std::string(report.status().message()), ::testing::StartsWith("--out "));
  EXPECT_EQ(NightlyFailureOf(report.status()), NightlyFailure::kBadInput);

  EXPECT_THAT(Entries(), ElementsAre("bad.jsonl", "rules"));
}

TEST_F(NightlyTest, AMergedNightsLedgerNeedsTheShardsRulesAndRegistry) {
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Catalog::LoadDir(testing::RulesDir(), &diags);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  std::vector<Rejection> rejects;
  IngestStats stats;
  absl::StatusOr<std::vector<Firm>> firms =
      LoadFirms({testing::RulesDir() + "/demo/notable_firms.jsonl"}, catalog->taxonomy(), &rejects, &stats);
  ASSERT_TRUE(firms.ok()) << firms.status();
  absl::StatusOr<FirmStore> store = FirmStore::Build(*firms, catalog->taxonomy());
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::unique_ptr<AtomicOutputDir>> out = AtomicOutputDir::Create((dir_ / "merged").string());
  ASSERT_TRUE(out.ok()) << out.status();
  const std::string ledger = (dir_ / "grants.db").string();
  MergeStats merged;
  merged.rules_digest = "the digest of other rules";
  NightResult night;  // no firms: not the registry's
  absl::StatusOr<LedgerNightCounts> counts =
      ProposeMergedNight(ledger, testing::RulesDir(), *catalog, *store, merged, night, out->get());
  EXPECT_EQ(counts.status().message(), "--rules are not the rules the shards were matched with");
  merged.rules_digest = RulesDigest(*catalog);
  counts = ProposeMergedNight(ledger, testing::RulesDir(), *catalog, *store, merged, night, out->get());
  EXPECT_EQ(counts.status().message(), "the registry given is not the one the shards matched (its firms differ)");
  EXPECT_FALSE(fs::exists(ledger));
}

}  // namespace
}  // namespace polmatch
