// Batch outputs: state round trip and corruption, summary/grants/pushes, --previous diffs, and
// atomic replacement of the output directory under a kill.
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/output/night.h"
#include "engine/output/output_dir.h"
#include "engine/util/textproto.h"
#include "google/protobuf/util/json_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

Outcome O(MatchStatus s, const char* benefit = nullptr) {
  Outcome o;
  o.status = s;
  if (benefit) o.benefit = *Decimal::Parse(benefit);
  return o;
}

// Three firms × two policies; `changes` lets a test alter one outcome.
NightResult MakeNight(const std::vector<std::vector<Outcome>>& outcomes,
                      std::vector<std::string> codes = {"91440000000000001A", "91440000000000002B",
                                                        "91440000000000003C"}) {
  // Policies in id order: p.apply (index 0), p.auto (index 1); outcomes[f] = {auto, apply}.
  NightBuilder b("2023-06-30", {"p.apply", "p.auto"}, {false, true});
  for (size_t f = 0; f < codes.size(); ++f) {
    uint32_t id = b.AddFirm(codes[f], "企业\"" + std::to_string(f) + ",有限公司");
    b.Set(id, 0, outcomes[f][1]);
    b.Set(id, 1, outcomes[f][0]);
  }
  return std::move(b).Finish();
}

std::vector<std::vector<Outcome>> Base() {
  return {{O(ELIGIBLE, "2000000.00"), O(NEAR_MISS)},
          {O(UNDETERMINED), O(ELIGIBLE)},
          {O(INELIGIBLE), O(EXCLUDED, "5.00")}};
}

TEST(OutputTest, StateRoundTrips) {
  NightResult n = MakeNight(Base());
  std::string bytes = SerializeState(n);
  absl::StatusOr<NightResult> back = ParseState(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->as_of, "2023-06-30");
  EXPECT_EQ(back->codes, n.codes);
  EXPECT_EQ(back->code_order, n.code_order);
  ASSERT_EQ(back->policies.size(), 2u);
  for (size_t p = 0; p < 2; ++p) {
    EXPECT_EQ(back->policies[p].id, n.policies[p].id);
    EXPECT_EQ(back->policies[p].auto_grant, n.policies[p].auto_grant);
    EXPECT_EQ(back->policies[p].benefits, n.policies[p].benefits);
    for (uint32_t f = 0; f < 3; ++f) EXPECT_EQ(back->policies[p].StatusOf(f), n.policies[p].StatusOf(f));
  }
  EXPECT_EQ(SerializeState(*back), bytes);  // byte-identical
}

TEST(OutputTest, CorruptStateIsRefused) {
  std::string bytes = SerializeState(MakeNight(Base()));
  EXPECT_FALSE(ParseState("").ok());
  EXPECT_FALSE(ParseState("hello world, not a state").ok());
  for (size_t cut : {size_t{9}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_EQ(ParseState(bytes.substr(0, cut)).status().code(), absl::StatusCode::kDataLoss) << cut;
  }
  for (size_t i = 8; i < bytes.size(); i += 7) {
    std::string flipped = bytes;
    flipped[i] ^= 0x20;
    EXPECT_FALSE(ParseState(flipped).ok()) << i;
  }
}

TEST(OutputTest, SummaryGrantsAndPushes) {
  NightResult n = MakeNight(Base());
  BatchSummary s = Summarize(n);
  EXPECT_EQ(s.firms(), 3);
  EXPECT_EQ(s.policies(1).policy(), "p.auto");
  EXPECT_EQ(s.policies(1).eligible(), 1);
  EXPECT_EQ(s.policies(1).undetermined(), 1);
  EXPECT_EQ(s.policies(1).auto_granted(), 1);
  EXPECT_EQ(s.policies(1).benefit_total_yuan(), "2000000.00");
  EXPECT_EQ(s.policies(0).near_miss(), 1);
  EXPECT_EQ(s.policies(0).excluded(), 1);
  EXPECT_EQ(s.policies(0).auto_granted(), 0);
  EXPECT_EQ(s.policies(0).benefit_total_yuan(), "0.00");  // the excluded firm's 5.00 is not granted
  EXPECT_THAT(SummaryJson(n), HasSubstr("\"benefit_total_yuan\": \"2000000.00\""));

  EXPECT_EQ(GrantsCsv(n),
            "policy_id,credit_code,name,benefit_yuan\n"
            "p.auto,91440000000000001A,\"企业\"\"0,有限公司\",2000000.00\n");

  const std::string pushes = PushesJsonl(n, nullptr);
  EXPECT_EQ(pushes,
            "{\"credit_code\":\"91440000000000001A\",\"policy\":\"p.apply\",\"status\":\"NEAR_MISS\",\"benefit_yuan\":\"\",\"change\":\"NEW\"}\n"
            "{\"credit_code\":\"91440000000000001A\",\"policy\":\"p.auto\",\"status\":\"ELIGIBLE\",\"benefit_yuan\":\"2000000.00\",\"change\":\"NEW\"}\n"
            "{\"credit_code\":\"91440000000000002B\",\"policy\":\"p.apply\",\"status\":\"ELIGIBLE\",\"benefit_yuan\":\"\",\"change\":\"NEW\"}\n"
            "{\"credit_code\":\"91440000000000002B\",\"policy\":\"p.auto\",\"status\":\"UNDETERMINED\",\"benefit_yuan\":\"\",\"change\":\"NEW\"}\n");
  // Each line is the protobuf JSON mapping of polmatch.Push.
  std::istringstream lines(pushes);
  for (std::string line; std::getline(lines, line);) {
    Push p;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &p).ok()) << line;
  }
}

TEST(OutputTest, UnchangedNightPushesNothing) {
  NightResult a = MakeNight(Base());
  NightResult b = MakeNight(Base());
  EXPECT_EQ(PushesJsonl(b, &a), "");
}

TEST(OutputTest, OneChangedFirmPushesOnlyThatFirm) {
  NightResult a = MakeNight(Base());
  auto changed = Base();
  changed[0][0] = O(ELIGIBLE, "1000000.00");   // amount changed
  changed[1][1] = O(INELIGIBLE);               // revoked
  changed[2][0] = O(NEAR_MISS);                // new
  NightResult b = MakeNight(changed);
  EXPECT_EQ(PushesJsonl(b, &a),
            "{\"credit_code\":\"91440000000000001A\",\"policy\":\"p.auto\",\"status\":\"ELIGIBLE\",\"benefit_yuan\":\"1000000.00\",\"change\":\"CHANGED\"}\n"
            "{\"credit_code\":\"91440000000000002B\",\"policy\":\"p.apply\",\"status\":\"INELIGIBLE\",\"benefit_yuan\":\"\",\"change\":\"REVOKED\"}\n"
            "{\"credit_code\":\"91440000000000003C\",\"policy\":\"p.auto\",\"status\":\"NEAR_MISS\",\"benefit_yuan\":\"\",\"change\":\"NEW\"}\n");
}

TEST(OutputTest, FirmsAndPoliciesComeAndGo) {
  NightResult a = MakeNight(Base());
  // Tonight: firm 1A gone, a new firm 4D; same outcomes otherwise.
  auto outcomes = Base();
  outcomes[0] = {O(ELIGIBLE, "7.00"), O(INELIGIBLE)};
  NightResult b = MakeNight({outcomes[1], outcomes[2], outcomes[0]},
                            {"91440000000000002B", "91440000000000003C", "91440000000000004D"});
  EXPECT_EQ(PushesJsonl(b, &a),
            "{\"credit_code\":\"91440000000000001A\",\"policy\":\"p.apply\",\"status\":\"INELIGIBLE\",\"benefit_yuan\":\"\",\"change\":\"REVOKED\"}\n"
            "{\"credit_code\":\"91440000000000001A\",\"policy\":\"p.auto\",\"status\":\"INELIGIBLE\",\"benefit_yuan\":\"\",\"change\":\"REVOKED\"}\n"
            "{\"credit_code\":\"91440000000000004D\",\"policy\":\"p.auto\",\"status\":\"ELIGIBLE\",\"benefit_yuan\":\"7.00\",\"change\":\"NEW\"}\n");
  // A withdrawn policy revokes its pushes.
  NightBuilder nb("2023-07-01", {"p.auto"}, {true});
  for (size_t f = 0; f < 3; ++f) nb.Set(nb.AddFirm(std::string(a.code(f)), ""), 0, Base()[f][0]);
  NightResult c = std::move(nb).Finish();
  EXPECT_EQ(PushesJsonl(c, &a),
            "{\"credit_code\":\"91440000000000001A\",\"policy\":\"p.apply\",\"status\":\"INELIGIBLE\",\"benefit_yuan\":\"\",\"change\":\"REVOKED\"}\n"
            "{\"credit_code\":\"91440000000000002B\",\"policy\":\"p.apply\",\"status\":\"INELIGIBLE\",\"benefit_yuan\":\"\",\"change\":\"REVOKED\"}\n");
}

std::string Slurp(const fs::path& p) { return *ReadFileToString(p.string()); }

TEST(OutputDirTest, ReplacesAtomicallyEvenWhenKilled) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("atomic_out_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_TRUE(WriteDirectoryAtomically(dir.string(), {{"a.txt", "old a"}, {"b.txt", "old b"}}).ok());
  EXPECT_EQ(Slurp(dir / "a.txt"), "old a");
  // A writer killed after its first file: the old set stays complete.
  for (int kill_after = 1; kill_after <= 2; ++kill_after) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int written = 0;
      (void)WriteDirectoryAtomically(dir.string(), {{"a.txt", "new a"}, {"b.txt", "new b"}},
                                     [&](const std::string&) {
                                       if (++written == kill_after) _exit(9);
                                     });
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 9);
    EXPECT_EQ(Slurp(dir / "a.txt"), "old a");
    EXPECT_EQ(Slurp(dir / "b.txt"), "old b");
  }
  ASSERT_TRUE(WriteDirectoryAtomically(dir.string(), {{"a.txt", "new a"}, {"c.txt", "new c"}}).ok());
  EXPECT_EQ(Slurp(dir / "a.txt"), "new a");
  EXPECT_EQ(Slurp(dir / "c.txt"), "new c");
  EXPECT_FALSE(fs::exists(dir / "b.txt"));  // exactly the new set
}

}  // namespace
}  // namespace polmatch
