// The embedded API (engine/include/polmatch/engine.h): queries, errors, and reload under load.
#include "polmatch/engine.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/index/firm_store.h"
#include "engine/index/snapshot.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::FreshTempDir("engine");
    for (const char* amount : {"10万", "20万"}) {
      testing::WriteRulesDir(
          root_ / (std::string("rules_") + (amount[0] == '1' ? "a" : "b")),
          absl::StrCat("policy { id: \"grant\" title: \"高企奖励\" mode: AUTO_GRANT eligibility: \"qual.hitech and "
                       "region under \\\"441500\\\"\" benefit: \"",
                       amount, "\" }\n",
                       "policy { id: \"top1\" title: \"择优\" eligibility: \"qual.hitech\" limit: 1 rank_by: \"revenue\" }\n"
                       "policy { id: \"wuhan\" title: \"武汉\" eligibility: \"region under \\\"420100\\\" and "
                       "qual.hitech\" }\n"));
    }
    snapshot_ = (root_ / "r.snap").string();
    codes_ = testing::WriteHitechSnapshot(snapshot_, 500, 100);
    ASSERT_FALSE(HasFailure());
  }
  EngineOptions Options(const char* rules) const {
    EngineOptions o;
    o.rules_dir = (root_ / rules).string();
    o.snapshot_path = snapshot_;
    return o;
  }
  static const PolicyResult* Find(const FirmMatches& m, const std::string& id) {
    for (const PolicyResult& r : m.results()) {
      if (r.policy() == id) return &r;
    }
    return nullptr;
  }
  fs::path root_;
  std::string snapshot_;
  std::vector<std::string> codes_;
  const absl::CivilDay as_of_{2023, 6, 30};
};

TEST_F(EngineTest, MatchExplainEvaluate) {
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(Options("rules_a"));
  ASSERT_TRUE(engine.ok()) << engine.status();
  EXPECT_EQ((*engine)->num_firms(), 3u);
  EXPECT_EQ((*engine)->num_policies(), 3u);
  absl::StatusOr<FirmMatches> m = (*engine)->Match(codes_[0], as_of_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->credit_code(), codes_[0]);
  EXPECT_EQ(m->results(0).policy(), "grant");  // eligible with the largest amount first
  EXPECT_EQ(m->results(0).benefit_yuan(), "100000.00");
  EXPECT_EQ(Find(*m, "top1")->status(), NOT_SELECTED);  // revenue 100 < 102
  EXPECT_EQ(Find(*m, "wuhan")->status(), INELIGIBLE);   // out of region: never evaluated
  absl::StatusOr<FirmMatches> best = (*engine)->Match(codes_[2], as_of_);
  EXPECT_EQ(Find(*best, "top1")->status(), ELIGIBLE);

  absl::StatusOr<std::vector<PolicyMatch>> fast = (*engine)->MatchStatuses(codes_[0], as_of_);
  ASSERT_TRUE(fast.ok());
  ASSERT_EQ(fast->size(), 2u);  // grant ELIGIBLE, top1 NOT_SELECTED; wuhan INELIGIBLE is left out
  EXPECT_EQ((*fast)[0].policy, "grant");
  EXPECT_EQ((*fast)[0].status, ELIGIBLE);
  EXPECT_EQ((*fast)[0].benefit_fen, 10000000);
  EXPECT_EQ((*fast)[1].status, NOT_SELECTED);
  EXPECT_EQ((*fast)[1].benefit_fen, -1);

  // Into a reused vector (the portal's hot path): the same answer, overwritten by the next
  // firm's; emptied on an error.
  std::vector<PolicyMatch> reused(7);
  ASSERT_TRUE((*engine)->MatchStatuses(codes_[0], as_of_, &reused).ok());
  ASSERT_EQ(reused.size(), fast->size());
  for (size_t i = 0; i < reused.size(); ++i) {
    EXPECT_EQ(reused[i].policy, (*fast)[i].policy);
    EXPECT_EQ(reused[i].status, (*fast)[i].status);
    EXPECT_EQ(reused[i].benefit_fen, (*fast)[i].benefit_fen);
  }
  ASSERT_TRUE((*engine)->MatchStatuses(codes_[2], as_of_, &reused).ok());
  absl::StatusOr<std::vector<PolicyMatch>> third = (*engine)->MatchStatuses(codes_[2], as_of_);
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(reused.size(), third->size());
  for (size_t i = 0; i < reused.size(); ++i) EXPECT_EQ(reused[i].policy, (*third)[i].policy);
  EXPECT_EQ((*engine)->MatchStatuses(testing::MakeCreditCode("441502", 777), as_of_, &reused).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(reused.empty());
  ASSERT_TRUE((*engine)->MatchStatuses(codes_[0], as_of_, &reused).ok());
  EXPECT_EQ((*engine)->MatchStatuses("not a code", as_of_, &reused).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(reused.empty());

  absl::StatusOr<PolicyResult> why = (*engine)->Explain(codes_[0], "grant", as_of_);
  ASSERT_TRUE(why.ok());
  EXPECT_EQ(why->conditions_size(), 2);
  EXPECT_EQ(why->conditions(0).value(), ConditionTrace::TRUE);

  FirmProfile what_if = testing::MakeProfile("420102", 900);
  what_if.add_tags()->set_id("qual.hitech");
  absl::StatusOr<FirmMatches> calc = (*engine)->Evaluate(what_if, as_of_);
  ASSERT_TRUE(calc.ok()) << calc.status();
  EXPECT_EQ(Find(*calc, "wuhan")->status(), ELIGIBLE);
  EXPECT_EQ(Find(*calc, "grant")->status(), INELIGIBLE);
  EXPECT_EQ(Find(*calc, "top1")->status(), ELIGIBLE);  // a hypothetical firm is not ranked

  EXPECT_TRUE((*engine)->GetPolicy("grant").ok());
  EXPECT_EQ((*engine)->GetPolicy("nope").status().code(), absl::StatusCode::kNotFound);
}

// snapshot_in_place: the same answers, and a snapshot replaced by a rename (as `index` does) does
// not disturb the engine that has the old one mapped; Reload() picks up the new one.
TEST_F(EngineTest, SnapshotInPlace) {
  EngineOptions options = Options("rules_a");
  options.snapshot_in_place = true;
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  absl::StatusOr<std::unique_ptr<Engine>> copied = Engine::Create(Options("rules_a"));
  ASSERT_TRUE(copied.ok());
  absl::StatusOr<std::vector<PolicyMatch>> a = (*engine)->MatchStatuses(codes_[2], as_of_);
  absl::StatusOr<std::vector<PolicyMatch>> b = (*copied)->MatchStatuses(codes_[2], as_of_);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].policy, (*b)[i].policy);
    EXPECT_EQ((*a)[i].status, (*b)[i].status);
    EXPECT_EQ((*a)[i].benefit_fen, (*b)[i].benefit_fen);
  }
  // A new registry of one firm renamed over the file.
  FirmProfile p = testing::MakeProfile("441502", 900);
  absl::StatusOr<FirmStore> one = FirmStore::Build({testing::MakeFirm(p)}, testing::RealTaxonomy());
  ASSERT_TRUE(one.ok());
  ASSERT_TRUE(WriteSnapshotFile(snapshot_, *one, testing::RealTaxonomy()).ok());
  EXPECT_EQ((*engine)->num_firms(), 3u);
  EXPECT_TRUE((*engine)->MatchStatuses(codes_[2], as_of_).ok());
  ASSERT_TRUE((*engine)->Reload(options).ok());
  EXPECT_EQ((*engine)->num_firms(), 1u);
  EXPECT_FALSE((*engine)->MatchStatuses(codes_[2], as_of_).ok());
}

TEST_F(EngineTest, Errors) {
  EngineOptions bad = Options("rules_a");
  bad.rules_dir = (root_ / "missing").string();
  EXPECT_FALSE(Engine::Create(bad).ok());
  bad = Options("rules_a");
  bad.snapshot_path = (root_ / "missing.snap").string();
  EXPECT_EQ(Engine::Create(bad).status().code(), absl::StatusCode::kNotFound);
  auto engine = Engine::Create(Options("rules_a"));
  ASSERT_TRUE(engine.ok());
  EXPECT_EQ((*engine)->Match("not-a-code", as_of_).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*engine)->Match(testing::MakeCreditCode("441502", 77), as_of_).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ((*engine)->Explain(codes_[0], "nope", as_of_).status().code(), absl::StatusCode::kNotFound);
  FirmProfile bad_profile = testing::MakeProfile("441502", 1);
  (*bad_profile.mutable_facts())["turnover"] = "1";
  EXPECT_EQ((*engine)->Evaluate(bad_profile, as_of_).status().code(), absl::StatusCode::kInvalidArgument);
  // A failed reload keeps serving the previous state.
  EXPECT_FALSE((*engine)->Reload(bad).ok());
  EXPECT_TRUE((*engine)->Match(codes_[0], as_of_).ok());
}

TEST_F(EngineTest, ReloadWhileQueriesRun) {
  auto engine = Engine::Create(Options("rules_a"));
  ASSERT_TRUE(engine.ok());
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, seen_a{0}, seen_b{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      while (!stop.load()) {
        absl::StatusOr<FirmMatches> m = (*engine)->Match(codes_[t % 3], as_of_);
        if (!m.ok()) {
          ++failures;
          continue;
        }
        const std::string& amount = Find(*m, "grant")->benefit_yuan();
        if (amount == "100000.00") {
          ++seen_a;
        } else if (amount == "200000.00") {
          ++seen_b;
        } else {
          ++failures;
        }
      }
    });
  }
  // After each reload, wait until a query has answered from the new state: the readers must see
  // both states, alternately, or the test proves nothing about swapping under load.
  bool both_seen = true;
  for (int i = 0; i < 20 && both_seen; ++i) {
    const bool to_a = i % 2 == 1;
    std::atomic<int>& seen = to_a ? seen_a : seen_b;
    const int before = seen.load();
    ASSERT_TRUE((*engine)->Reload(Options(to_a ? "rules_a" : "rules_b")).ok());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (seen.load() == before && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    both_seen = seen.load() > before;
  }
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_TRUE(both_seen) << "a reload was never observed by the readers";
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(seen_a.load(), 0);
  EXPECT_GT(seen_b.load(), 0);
}

}  // namespace
}  // namespace polmatch
