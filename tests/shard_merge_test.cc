// Sharded nights: `index/batch --shard K/N` and `polmatch merge` against an unsharded batch, byte
// for byte, on random registries and catalogs (limits binding across shards, ties, exclusive
// groups, firms that come, go and change between nights, empty shards), and merge's refusals.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/output/night_shard.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::Polmatch;

constexpr const char* kNightFiles[] = {"summary.json", "grants.csv", "lists.csv", "pushes.jsonl", "state.pmstate"};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Limits that bind (ranked by a fact, by a difference some firms lack, all tied), a limit in an
// exclusive group, a list with a limit, near misses of a limited policy, a limit never reached.
constexpr char kLimitCatalog[] = R"catalog(
policy { id: "t.limit-grant" title: "限额补助" mode: AUTO_GRANT eligibility: "employees > 10" benefit: "10万" limit: 7 rank_by: "employees" }
policy { id: "t.limit-list" title: "入库" mode: AUTO_GRANT eligibility: "revenue > 1000000" benefit_note: "纳入培育库" limit: 5 rank_by: "revenue - revenue_last_year" }
policy { id: "t.limit-apply" title: "择优" eligibility: "employees > 0 and tech_staff >= 1" benefit: "min(revenue * 1%, 50万)" limit: 9 rank_by: "1" }
policy { id: "t.group-a" title: "就高A" mode: AUTO_GRANT exclusive_group: "g1" eligibility: "revenue > 2000000" benefit: "5万" limit: 4 rank_by: "revenue" }
policy { id: "t.group-b" title: "就高B" mode: AUTO_GRANT exclusive_group: "g1" eligibility: "employees > 20" benefit: "revenue * 1%" }
policy { id: "t.near" title: "差一步" eligibility: "employees > 50 and revenue > 5000000" benefit: "1万" limit: 3 rank_by: "tax_paid" }
policy { id: "t.big-limit" title: "大名额" mode: AUTO_GRANT eligibility: "revenue > 0" benefit: "2000" limit: 100000 rank_by: "revenue" }
)catalog";

class ShardMergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("shard_merge_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string P(const std::string& name) const { return (root_ / name).string(); }

  void Run(const std::string& args) {
    const testing::CmdResult r = Polmatch(args);
    ASSERT_EQ(r.exit_code, 0) << args << "\n" << r.out;
  }

  // rules/ (the tag library, a generated catalog and kLimitCatalog), firms1.jsonl and
  // firms2.jsonl (the next night's: every 9th firm gone, every 4th changed, new firms).
  void MakeInputs(int seed, int firms) {
    fs::create_directories(root_ / "rules/policies");
    fs::create_directory_symlink(fs::path(testing::RulesDir()) / "taxonomy", root_ / "rules/taxonomy");
    std::ofstream(root_ / "rules/policies/t.textproto") << kLimitCatalog;
    Run(absl::StrCat("gen --policies 30 --seed ", seed, " --as-of 2022-01-01 --rules ", P("rules"), " --out ",
                     P("rules/policies/gen.textproto")));
    Run(absl::StrCat("gen --firms ", firms + firms / 5 + 1, " --seed ", seed, " --rules ", P("rules"), " --out ",
                     P("all.jsonl")));
    const std::vector<std::string> lines = absl::StrSplit(ReadFile(root_ / "all.jsonl"), '\n', absl::SkipEmpty());
    std::ofstream first(root_ / "firms1.jsonl"), second(root_ / "firms2.jsonl");
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string line = lines[i];
      if (i < static_cast<size_t>(firms)) first << line << "\n";
      if (i % 9 == 4) continue;  // gone by the second night
      if (i % 4 == 1) {          // more staff by the second night
        const size_t at = line.find("\"employees\":\"");
        if (at != std::string::npos) {
          const size_t from = at + 13, to = line.find('"', from);
          line.replace(from, to - from, std::to_string(std::stoll(line.substr(from, to - from)) * 3 + 7));
        }
      }
      second << line << "\n";
    }
  }

  void ExpectSameNight(const std::string& want, const std::string& got, const std::string& what) {
    for (const char* f : kNightFiles) {
      const fs::path a = fs::path(want) / f, b = fs::path(got) / f;
      ASSERT_EQ(fs::exists(a), fs::exists(b)) << what << ": " << f;
      if (!fs::exists(a)) continue;
      EXPECT_TRUE(ReadFile(a) == ReadFile(b)) << what << ": " << f << " differs";
    }
  }

  // Both nights unsharded, then sharded over N in several ways; every merge equals the unsharded.
  // `first` and `both` are flags added to the first night's batches and to every batch.
  void CheckShards(const std::vector<uint32_t>& counts, const std::string& first = "", const std::string& both = "") {
    const std::string rules = P("rules") + " " + both;
    const std::string rules1 = rules + " " + first;
    Run(absl::StrCat("index --rules ", P("rules"), " --firms ", P("firms1.jsonl"), " --out ", P("whole1.snap")));
    Run(absl::StrCat("index --rules ", P("rules"), " --firms ", P("firms2.jsonl"), " --out ", P("whole2.snap")));
    Run(absl::StrCat("batch --rules ", rules1, " --snapshot ", P("whole1.snap"), " --as-of 2021-06-30 --out ", P("u1")));
    Run(absl::StrCat("batch --rules ", rules, " --snapshot ", P("whole2.snap"),
                     " --as-of 2022-06-30 --force --previous ", P("u1"), " --out ", P("u2")));
    for (uint32_t n : counts) {
      const std::string tag = absl::StrCat("n", n);
      std::string night1, night2_merged, night2_own;
      for (uint32_t k = 0; k < n; ++k) {
        const std::string shard = absl::StrCat(k, "/", n);
        const std::string d1 = P(absl::StrCat(tag, "-1-", k)), d2 = P(absl::StrCat(tag, "-2m-", k)),
                          d3 = P(absl::StrCat(tag, "-2s-", k));
        // Night 1: shard snapshots for N = 3, --firms for N = 2, the whole snapshot otherwise.
        if (n == 3) {
          const std::string snap = P(absl::StrCat(tag, "-", k, ".snap"));
          Run(absl::StrCat("index --rules ", P("rules"), " --firms ", P("firms1.jsonl"), " --shard ", shard, " --out ", snap));
          Run(absl::StrCat("batch --rules ", rules1, " --snapshot ", snap, " --shard ", shard,
                           " --as-of 2021-06-30 --out ", d1));
          // The whole snapshot cut to the shard gives the same shard night, byte for byte.
          Run(absl::StrCat("batch --rules ", rules1, " --snapshot ", P("whole1.snap"), " --shard ", shard,
                           " --as-of 2021-06-30 --out ", d1, "w"));
          for (const std::string& f : ShardNightDirKind().files) {
            const fs::path a = fs::path(d1) / f, b = fs::path(d1 + "w") / f;
            ASSERT_EQ(fs::exists(a), fs::exists(b)) << shard << ": " << f;
            if (!fs::exists(a)) continue;
            EXPECT_TRUE(ReadFile(a) == ReadFile(b)) << shard << ": " << f << " differs";
          }
        } else if (n == 2) {
          Run(absl::StrCat("batch --rules ", rules1, " --firms ", P("firms1.jsonl"), " --shard ", shard,
                           " --as-of 2021-06-30 --out ", d1));
        } else {
          Run(absl::StrCat("batch --rules ", rules1, " --snapshot ", P("whole1.snap"), " --shard ", shard,
                           " --as-of 2021-06-30 --out ", d1));
        }
        night1 += " " + d1;
        night2_merged += " " + d2;
        night2_own += " " + d3;
      }
      Run(absl::StrCat("merge --out ", P(tag + "-m1"), night1));
      ExpectSameNight(P("u1"), P(tag + "-m1"), tag + " night 1");
      // Night 2: --previous the merged night, or each shard's own night (merge marked it).
      for (uint32_t k = 0; k < n; ++k) {
        const std::string shard = absl::StrCat(k, "/", n);
        Run(absl::StrCat("batch --rules ", rules, " --snapshot ", P("whole2.snap"), " --shard ", shard,
                         " --as-of 2022-06-30 --force --previous ", P(tag + "-m1"), " --out ",
                         P(absl::StrCat(tag, "-2m-", k))));
        Run(absl::StrCat("batch --rules ", rules, " --snapshot ", P("whole2.snap"), " --shard ", shard,
                         " --as-of 2022-06-30 --force --previous ", P(absl::StrCat(tag, "-1-", k)), " --out ",
                         P(absl::StrCat(tag, "-2s-", k))));
      }
      Run(absl::StrCat("merge --out ", P(tag + "-m2"), night2_merged));
      ExpectSameNight(P("u2"), P(tag + "-m2"), tag + " night 2, --previous merged");
      Run(absl::StrCat("merge --out ", P(tag + "-m2s"), night2_own));
      ExpectSameNight(P("u2"), P(tag + "-m2s"), tag + " night 2, --previous per shard");
    }
  }

  fs::path root_;
};

TEST(ShardHashTest, TestVectors) {
  // The table in tools/README.md: FNV-1a 64 of the ASCII bytes, mod N.
  EXPECT_EQ(ShardHash(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(ShardHash("91441502MA4W0PA9X8"), 0xe40f0a1933dfbd7aULL);
  EXPECT_EQ(ShardHash("91441581MA56LF002E"), 0x69a49be77aa84a68ULL);
  EXPECT_EQ(ShardHash("913204028BTJ5P4R00"), 0x52c389d4f28573afULL);
  EXPECT_EQ(ShardOf("91441502MA4W0PA9X8", 3), 2u);
  EXPECT_EQ(ShardOf("91441502MA4W0PA9X8", 7), 0u);
  EXPECT_EQ(ShardOf("913204028BTJ5P4R00", 4), 3u);
}

TEST(ShardSpecTest, ParsesAndRefuses) {
  ASSERT_TRUE(ParseShardSpec("0/1").ok());
  EXPECT_EQ(ParseShardSpec("3/4")->index, 3u);
  EXPECT_EQ(ParseShardSpec("3/4")->count, 4u);
  for (const char* bad : {"4/4", "1/0", "0/4097", "-1/4", "1", "a/b", "1/2/3", "", "1/", "/2", " 1/2"}) {
    EXPECT_FALSE(ParseShardSpec(bad).ok()) << bad;
  }
}

TEST_F(ShardMergeTest, MergeEqualsUnshardedBatch) {
  MakeInputs(/*seed=*/11, /*firms=*/400);
  // The limits bind: some firms are NOT_SELECTED, so the merge had to re-rank.
  CheckShards({1, 2, 3, 7});
  const std::string summary = ReadFile(root_ / "u1/summary.json");
  for (const char* limited : {"t.limit-grant", "t.limit-apply", "t.limit-list"}) {
    const size_t at = summary.find(absl::StrCat("\"policy\": \"", limited, "\""));
    ASSERT_NE(at, std::string::npos) << limited;
    const size_t ns = summary.find("\"not_selected\": ", at);
    ASSERT_NE(ns, std::string::npos);
    EXPECT_GT(std::stoi(summary.substr(ns + 16)), 10) << limited << " should leave firms out";
  }
}

TEST_F(ShardMergeTest, MergeEqualsUnshardedBatchOtherSeed) {
  MakeInputs(/*seed=*/29, /*firms=*/250);
  // A first night without pushes (a rollout's seed), then pushes of every status but INELIGIBLE:
  // the not-selected candidates' lines too.
  CheckShards({2, 7}, "--no-pushes", "--push ELIGIBLE,NEAR_MISS,UNDETERMINED,EXCLUDED,NOT_SELECTED");
  EXPECT_FALSE(fs::exists(root_ / "n2-m1/pushes.jsonl"));
  EXPECT_THAT(ReadFile(root_ / "n7-m2/pushes.jsonl"), HasSubstr("\"status\":\"NOT_SELECTED\""));
}

TEST_F(ShardMergeTest, EmptyShards) {
  MakeInputs(/*seed=*/5, /*firms=*/4);  // 4 firms over 7 shards: at least three are empty
  CheckShards({7});
}

// index --shard keeps its shard's records as it reads: a shard with no firm is written empty (not
// refused as "another shard's"), and a record whose code cannot be read is shard 0's to report.
TEST_F(ShardMergeTest, IndexShardWithNoFirmAndUnreadableRecords) {
  fs::create_directories(root_ / "rules/policies");
  fs::create_directory_symlink(fs::path(testing::RulesDir()) / "taxonomy", root_ / "rules/taxonomy");
  std::ofstream(root_ / "rules/policies/t.textproto") << kLimitCatalog;
  // 91441502MA4W0PA9X8 is shard 0 of 2 (the test vectors above).
  std::ofstream(root_ / "one.jsonl") << "{\"credit_code\":\"91441502MA4W0PA9X8\",\"region\":\"441502\"}\n"
                                     << "{oops\n";
  for (int k : {0, 1}) {
    const std::string snap = P(absl::StrCat("s", k, ".snap")), rej = P(absl::StrCat("r", k, ".txt"));
    Run(absl::StrCat("index --rules ", P("rules"), " --firms ", P("one.jsonl"), " --shard ", k, "/2 --out ", snap,
                     " --rejects ", rej));
    const std::string rejects = ReadFile(rej);
    EXPECT_EQ(absl::StrContains(rejects, "one.jsonl:2:"), k == 0) << k << ": " << rejects;
    const testing::CmdResult r = Polmatch(absl::StrCat("batch --rules ", P("rules"), " --snapshot ", snap, " --shard ",
                                                       k, "/2 --as-of 2021-06-30 --out ", P(absl::StrCat("n", k))));
    EXPECT_EQ(r.exit_code, 0) << k << ": " << r.out;
  }
}

TEST_F(ShardMergeTest, MergeIsTheLedgersWriter) {
  // Two nights with --ledger: unsharded, and 3 shards merged with --ledger (the limited grants
  // depend on the merge's selection). The proposals and the ledgers' grants are the same.
  MakeInputs(/*seed=*/7, /*firms=*/300);
  const std::string rules = P("rules");
  for (int night = 1; night <= 2; ++night) {
    const std::string snap = P(absl::StrCat("w", night, ".snap"));
    const std::string as_of = night == 1 ? "2021-06-30" : "2022-06-30";
    const std::string prev = night == 1 ? "" : " --force --previous ";
    Run(absl::StrCat("index --rules ", rules, " --firms ", P(absl::StrCat("firms", night, ".jsonl")), " --out ", snap));
    Run(absl::StrCat("batch --rules ", rules, " --snapshot ", snap, " --as-of ", as_of, " --ledger ", P("u.db"),
                     night == 1 ? "" : prev + P("u1"), " --out ", P(absl::StrCat("u", night))));
    std::string shards;
    for (int k = 0; k < 3; ++k) {
      const std::string dir = P(absl::StrCat("s", night, "-", k));
      Run(absl::StrCat("batch --rules ", rules, " --snapshot ", snap, " --shard ", k, "/3 --as-of ", as_of,
                       night == 1 ? "" : prev + P(absl::StrCat("s1-", k)), " --out ", dir));
      shards += " " + dir;
    }
    Run(absl::StrCat("merge --out ", P(absl::StrCat("m", night)), shards, " --ledger ", P("m.db"), " --rules ", rules,
                     " --snapshot ", snap));
    ExpectSameNight(P(absl::StrCat("u", night)), P(absl::StrCat("m", night)), absl::StrCat("night ", night));
    const std::string proposals = ReadFile(root_ / absl::StrCat("u", night) / "proposals.csv");
    EXPECT_EQ(proposals, ReadFile(root_ / absl::StrCat("m", night) / "proposals.csv")) << night;
    if (night == 1) {
      EXPECT_THAT(proposals, HasSubstr("t.limit-grant/"));
    }
  }
  const testing::CmdResult u = Polmatch(absl::StrCat("grants list --json --ledger ", P("u.db")));
  const testing::CmdResult m = Polmatch(absl::StrCat("grants list --json --ledger ", P("m.db")));
  EXPECT_EQ(u.exit_code, 0);
  EXPECT_EQ(u.out, m.out);
  // The registry must be the one the shards matched.
  const testing::CmdResult r = Polmatch(absl::StrCat("merge --out ", P("m3"), " ", P("s1-0"), " ", P("s1-1"), " ",
                                                     P("s1-2"), " --ledger ", P("m.db"), " --rules ", rules,
                                                     " --snapshot ", P("w2.snap")));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("not the one the shards matched"));
  EXPECT_FALSE(fs::exists(root_ / "m3"));
}

TEST_F(ShardMergeTest, Refusals) {
  MakeInputs(/*seed=*/3, /*firms=*/120);
  const std::string rules = P("rules");
  Run(absl::StrCat("index --rules ", rules, " --firms ", P("firms1.jsonl"), " --out ", P("whole.snap")));
  auto shard_night = [&](const std::string& shard, const std::string& as_of, const std::string& out) {
    Run(absl::StrCat("batch --rules ", rules, " --snapshot ", P("whole.snap"), " --shard ", shard, " --as-of ", as_of,
                     " --out ", P(out)));
  };
  for (int k = 0; k < 3; ++k) shard_night(absl::StrCat(k, "/3"), "2021-06-30", absl::StrCat("s", k));
  shard_night("2/3", "2022-06-30", "later2");
  shard_night("1/2", "2021-06-30", "half1");
  fs::copy(root_ / "s1", root_ / "bad1");
  {
    std::string pushes = ReadFile(root_ / "bad1/pushes.jsonl");
    ASSERT_GT(pushes.size(), 100u);
    pushes[pushes.size() / 2] ^= 1;
    std::ofstream(root_ / "bad1/pushes.jsonl", std::ios::binary | std::ios::trunc) << pushes;
  }
  fs::copy(root_ / "s1", root_ / "bad1m");
  {
    std::string m = ReadFile(root_ / "bad1m/shard.pmshard");
    m[m.size() / 2] ^= 1;
    std::ofstream(root_ / "bad1m/shard.pmshard", std::ios::binary | std::ios::trunc) << m;
  }
  struct Case {
    std::string dirs, message;
  };
  const std::vector<Case> cases = {
      {"s0 s1", "incomplete: shard 2 of 3 missing"},
      {"s0 s1 s1", "are both shard 1/3"},
      {"s0 s1 s2 s0", "are both shard 0/3"},
      {"s0 s1 later2", "has as_of 2022-06-30"},
      {"s0 bad1 s2", "bad1/pushes.jsonl: not the bytes the shard wrote"},
      {"s0 bad1m s2", "bad1m/shard.pmshard: shard manifest is corrupt"},
      {"s0 s1 half1", "is a shard of N = 2"},
      {"s0 s1 whole.snap", "not a shard night"},
  };
  for (const Case& c : cases) {
    std::string dirs;
    for (absl::string_view d : absl::StrSplit(c.dirs, ' ')) dirs += " " + P(std::string(d));
    const testing::CmdResult r = Polmatch(absl::StrCat("merge --out ", P("merged"), dirs));
    EXPECT_EQ(r.exit_code, 2) << c.dirs << "\n" << r.out;
    EXPECT_THAT(r.out, HasSubstr(c.message)) << c.dirs;
    EXPECT_FALSE(fs::exists(root_ / "merged")) << c.dirs;
  }
  // The complete set merges; a missing shard would have been refused above.
  Run(absl::StrCat("merge --out ", P("merged"), " ", P("s2"), " ", P("s0"), " ", P("s1")));
  EXPECT_TRUE(fs::exists(root_ / "s0/selection.pmsel"));

  // batch --shard refusals: a bad K/N, another shard's snapshot, another shard's previous night,
  // a shard night never merged, --ledger.
  for (const char* bad : {"3/3", "0/0", "x"}) {
    const testing::CmdResult r = Polmatch(absl::StrCat("batch --rules ", rules, " --snapshot ", P("whole.snap"),
                                                       " --shard ", bad, " --as-of 2021-06-30 --out ", P("x")));
    EXPECT_EQ(r.exit_code, 2) << bad << r.out;
    EXPECT_THAT(r.out, HasSubstr("--shard")) << bad;
  }
  Run(absl::StrCat("index --rules ", rules, " --firms ", P("firms1.jsonl"), " --shard 1/3 --out ", P("s1.snap")));
  testing::CmdResult r = Polmatch(absl::StrCat("batch --rules ", rules, " --snapshot ", P("s1.snap"),
                                               " --shard 0/3 --as-of 2021-06-30 --out ", P("x")));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("holds only the firms of shard 1/3, not of 0/3"));
  r = Polmatch(absl::StrCat("batch --rules ", rules, " --snapshot ", P("whole.snap"),
                            " --shard 0/3 --as-of 2022-06-30 --previous ", P("s1"), " --out ", P("x")));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("is the night of shard 1/3, not of 0/3"));
  r = Polmatch(absl::StrCat("batch --rules ", rules, " --snapshot ", P("whole.snap"),
                            " --shard 2/3 --as-of 2023-06-30 --previous ", P("later2"), " --out ", P("x")));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.out, HasSubstr("never merged"));
  r = Polmatch(absl::StrCat("batch --rules ", rules, " --snapshot ", P("whole.snap"), " --shard 0/3 --ledger ",
                            P("l.db"), " --as-of 2021-06-30 --out ", P("x")));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_FALSE(fs::exists(root_ / "x"));
  // A shard night's directory is not a night's: batch without --shard refuses to replace it.
  r = Polmatch(absl::StrCat("batch --rules ", rules, " --snapshot ", P("whole.snap"), " --as-of 2021-06-30 --out ",
                            P("s0")));
  EXPECT_EQ(r.exit_code, 2) << r.out;
}

TEST(ShardManifestTest, RoundTripAndCorruption) {
  ShardManifest m;
  m.as_of = "2021-06-30";
  m.rules_digest = "0123456789abcdef";
  m.shard = {2, 7};
  m.num_firms = 2;
  m.regions = std::string("441502") + std::string(6, '\0');
  m.policies.push_back({"a", true, 1, 2, 3, 4, 5, static_cast<__int128>(1) << 70});
  ShardLimit l;
  l.policy = 0;
  l.limit = 3;
  ShardCandidate c;
  c.code = "91441502MA4W0PA9X8";
  c.firm = 1;
  c.rank_known = true;
  c.rank_raw = -5;
  c.row_file = 1;
  c.row = "a,91441502MA4W0PA9X8,名,1.00\n";
  c.push_selected = "{}\n";
  l.candidates.push_back(c);
  m.limits.push_back(l);
  m.files.push_back({"grants.csv", 10, 99});
  const std::string bytes = SerializeShardManifest(m);
  absl::StatusOr<ShardManifest> back = ParseShardManifest(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(SerializeShardManifest(*back), bytes);
  EXPECT_EQ(back->policies[0].benefit_total_raw, static_cast<__int128>(1) << 70);
  for (size_t cut : {size_t{0}, size_t{8}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_FALSE(ParseShardManifest(bytes.substr(0, cut)).ok()) << cut;
  }
  std::string flipped = bytes;
  flipped[20] ^= 4;
  EXPECT_FALSE(ParseShardManifest(flipped).ok());

  // Candidates with nothing to write (no row, no pushes) are the smallest: 53 bytes each.
  ShardManifest small;
  small.shard = {0, 1};
  small.num_firms = 3;
  small.regions.assign(18, '\0');
  small.policies.push_back({"p", false, 0, 0, 0, 0, 3, 0});
  ShardLimit three;
  three.limit = 3;
  for (int i = 0; i < 3; ++i) {
    ShardCandidate bare;
    bare.code = absl::StrCat("91441502MA4W0PA9X", i);
    bare.firm = static_cast<uint32_t>(i);
    three.candidates.push_back(bare);
  }
  small.limits.push_back(three);
  absl::StatusOr<ShardManifest> small_back = ParseShardManifest(SerializeShardManifest(small));
  ASSERT_TRUE(small_back.ok()) << small_back.status();
  EXPECT_EQ(small_back->limits[0].candidates.size(), 3u);

  ShardSelection s;
  s.as_of = "2021-06-30";
  s.shard = {0, 2};
  s.selected = {{"a", "91441502MA4W0PA9X8"}, {"b", "91441502MA4W0PA9X8"}};
  const std::string sel = SerializeShardSelection(s);
  absl::StatusOr<ShardSelection> sel_back = ParseShardSelection(sel);
  ASSERT_TRUE(sel_back.ok()) << sel_back.status();
  EXPECT_EQ(sel_back->selected, s.selected);
  EXPECT_FALSE(ParseShardSelection(sel.substr(0, sel.size() - 3)).ok());
}

}  // namespace
}  // namespace polmatch
