// The grant ledger as processes use it: `batch --ledger` killed at random moments (the ledger is
// the state before or after, and a rerun completes), and the firm's grants through
// Engine::Grants() and GET /api/v1/firms/{code}/grants while a batch writes the ledger.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/index/snapshot.h"
#include "engine/ledger/lifecycle.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "polmatch/engine.h"
#include "tests/test_util.h"
#include "tests/http_test_client.h"
#include "tools/http_server.h"
#include "tools/http_service.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;

class LedgerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    root_ = fs::path(::testing::TempDir()) / absl::StrCat("ledger_svc_", ::getpid(), "_", counter++);
    fs::remove_all(root_);
    fs::create_directories(root_ / "rules/policies");
    fs::create_directory_symlink(fs::path(testing::RulesDir()) / "taxonomy", root_ / "rules/taxonomy");
    fs::create_directory_symlink(fs::path(testing::RulesDir()) / "calendar", root_ / "rules/calendar");
    std::ofstream(root_ / "rules/policies/p.textproto")
        << "policy { id: \"p.monthly\" title: \"按月补贴\" source { document: \"某市办法\" clause: \"一\" } "
           "mode: AUTO_GRANT grant_period: MONTHLY "
           "eligibility: \"region under \\\"441500\\\" and revenue >= 100\" benefit: \"revenue * 10%\" }\n"
        << "policy { id: \"p.once\" title: \"一次性资助\" mode: AUTO_GRANT publicity_days: 5 requires_confirmation: true "
           "eligibility: \"region under \\\"441500\\\" and revenue >= 100\" benefit: \"1万\" }\n";
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  // `n` firms in 汕尾 with revenue 1000 + i, as JSON Lines; returns their codes.
  std::vector<std::string> WriteFirms(int n, std::vector<Firm>* firms = nullptr) {
    std::ofstream out(root_ / "firms.jsonl");
    std::vector<std::string> codes;
    for (int i = 0; i < n; ++i) {
      FirmProfile p = testing::MakeProfile("441502", 1000 + i);
      p.set_name(absl::StrCat("企业", i));
      (*p.mutable_facts())["revenue"] = absl::StrCat(1000 + i);
      std::string line;
      EXPECT_TRUE(google::protobuf::util::MessageToJsonString(p, &line).ok());
      out << line << "\n";
      codes.push_back(p.credit_code());
      if (firms != nullptr) firms->push_back(testing::MakeFirm(p));
    }
    return codes;
  }

  std::vector<std::string> BatchArgs(const std::string& as_of, const fs::path& ledger, const std::string& out) const {
    return {POLMATCH_BINARY, "batch", "--rules", (root_ / "rules").string(), "--firms", (root_ / "firms.jsonl").string(),
            "--as-of", as_of, "--out", (root_ / out).string(), "--ledger", ledger.string(), "--threads", "1"};
  }

  // Starts `args`; returns the child's pid.
  static pid_t Spawn(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      const int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      execv(argv[0], argv.data());
      _exit(127);
    }
    return pid;
  }
  static int Wait(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }

  // Everything the ledger holds, as text ("" for no ledger or an empty one).
  static std::string Dump(const fs::path& ledger) {
    if (!fs::exists(ledger)) return "";
    absl::StatusOr<std::unique_ptr<LedgerStore>> store = OpenSqliteLedger(ledger.string(), LedgerMode::kReadOnly);
    if (absl::IsNotFound(store.status())) return "";  // created, but its first transaction never committed
    if (!store.ok()) return absl::StrCat("unreadable: ", store.status().message());
    absl::StatusOr<std::vector<GrantWithHistory>> all = ListGrants(**store, GrantQuery());
    if (!all.ok()) return absl::StrCat("unreadable: ", all.status().message());
    std::string out;
    for (const GrantWithHistory& g : *all) {
      absl::StrAppend(&out, g.grant.id, " ", StateName(g.grant.state), " ", g.grant.amount_fen, " ",
                      g.grant.firm_data.size(), " ", g.history.size(), "\n");
    }
    return out;
  }

  // A copy of the ledger as it is (its file and write-ahead log), and putting it back ("" = no
  // ledger at all), so that a run that finished before its kill can be tried again.
  static void Save(const fs::path& ledger, const fs::path& copy) {
    for (const char* ext : {"", "-wal"}) {
      fs::remove(copy.string() + ext);
      if (fs::exists(ledger.string() + ext)) fs::copy_file(ledger.string() + ext, copy.string() + ext);
    }
  }
  static void Restore(const fs::path& copy, const fs::path& ledger) {
    for (const char* ext : {"", "-wal", "-shm"}) fs::remove(ledger.string() + ext);
    if (copy.empty()) return;
    for (const char* ext : {"", "-wal"}) {
      if (fs::exists(copy.string() + ext)) fs::copy_file(copy.string() + ext, ledger.string() + ext);
    }
  }
  static int64_t MicrosSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
  }

  fs::path root_;
};

TEST_F(LedgerServiceTest, BatchKilledAtRandomMomentsLeavesTheLedgerBeforeOrAfter) {
  WriteFirms(6000);
  // The state after each night, from runs that were not interrupted, and how long they took.
  const fs::path reference = root_ / "reference.db";
  std::vector<std::string> nights = {"2023-05-31", "2023-06-01"};
  std::vector<std::string> after;
  int64_t span_us = 1000;
  for (const std::string& night : nights) {
    const auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(Wait(Spawn(BatchArgs(night, reference, "ref_out"))), 0);
    span_us = std::max(span_us, MicrosSince(start));
    after.push_back(Dump(reference));
  }
  ASSERT_NE(after[0], "");
  ASSERT_NE(after[0], after[1]);

  // Each night is killed at random moments within an uninterrupted run's span; a run that
  // finished first is undone (the ledger put back as before) and tried again, so that every
  // night is killed mid-run twice whatever the machine's speed.
  const fs::path ledger = root_ / "grants.db";
  const fs::path saved = root_ / "saved.db";
  std::mt19937 rng(7);
  for (size_t n = 0; n < nights.size(); ++n) {
    const std::string before = n == 0 ? "" : after[n - 1];
    if (n > 0) Save(ledger, saved);
    int killed_before = 0;
    for (int attempt = 0; attempt < 40 && killed_before < 2; ++attempt) {
      const pid_t pid = Spawn(BatchArgs(nights[n], ledger, "out"));
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % span_us));
      kill(pid, SIGKILL);
      const int status = Wait(pid);
      const std::string now = Dump(ledger);
      ASSERT_TRUE(now == before || now == after[n]) << "night " << nights[n] << " attempt " << attempt << ":\n"
                                                    << now.substr(0, 400);
      if (now == before) {
        killed_before += status == -SIGKILL;
      } else {
        Restore(n == 0 ? fs::path() : saved, ledger);  // committed before the kill: undo, try again
        ASSERT_EQ(Dump(ledger), before);
      }
    }
    EXPECT_GT(killed_before, 0) << nights[n];
    // A rerun completes and leaves exactly the uninterrupted run's state.
    ASSERT_EQ(Wait(Spawn(BatchArgs(nights[n], ledger, "out"))), 0);
    ASSERT_EQ(Dump(ledger), after[n]);
    std::ifstream proposals(root_ / "out/proposals.csv");
    ASSERT_TRUE(proposals.good());
  }
}

// The same night again with --previous: the ledger changes nothing, and proposals.csv (the same
// bytes, read back from the ledger) is linked to the previous night's file rather than written.
TEST_F(LedgerServiceTest, TheSameNightAgainLinksProposalsToThePreviousNight) {
  auto Slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  WriteFirms(3);
  const fs::path ledger = root_ / "grants.db";
  ASSERT_EQ(Wait(Spawn(BatchArgs("2023-09-01", ledger, "first"))), 0);
  const std::string before = Dump(ledger);
  std::vector<std::string> args = BatchArgs("2023-09-01", ledger, "again");
  args.insert(args.end(), {"--previous", (root_ / "first").string()});
  ASSERT_EQ(Wait(Spawn(args)), 0);
  EXPECT_EQ(Dump(ledger), before);
  const std::string first = Slurp((root_ / "first/proposals.csv").string());
  EXPECT_NE(first.find("/ONCE,"), std::string::npos) << first;  // the night proposed grants
  EXPECT_EQ(Slurp((root_ / "again/proposals.csv").string()), first);
  EXPECT_TRUE(fs::equivalent(root_ / "first/proposals.csv", root_ / "again/proposals.csv"));
  // A night whose proposals differ is written, not linked.
  args = BatchArgs("2024-09-01", ledger, "next");
  args.insert(args.end(), {"--previous", (root_ / "again").string()});
  ASSERT_EQ(Wait(Spawn(args)), 0);
  EXPECT_FALSE(fs::equivalent(root_ / "again/proposals.csv", root_ / "next/proposals.csv"));
}

// The command line of one round: each step, its files, and its refusals (one line, exit 1).
TEST_F(LedgerServiceTest, GrantsCommandsCarryARoundAndRefuseWhatTheStateForbids) {
  std::vector<std::string> codes = WriteFirms(3);
  const std::string ledger = (root_ / "grants.db").string();
  const std::string rules = (root_ / "rules").string();
  ASSERT_EQ(Wait(Spawn(BatchArgs("2023-09-01", ledger, "night"))), 0);
  std::ifstream proposals(root_ / "night/proposals.csv");
  std::string header;
  std::getline(proposals, header);
  EXPECT_EQ(header, "grant_id,policy_id,credit_code,name,period,change,amount_yuan,previous_amount_yuan,reason");
  const std::string L = " --ledger " + ledger;
  const std::string a = "p.once/" + codes[0] + "/ONCE", b = "p.once/" + codes[1] + "/ONCE", c = "p.once/" + codes[2] + "/ONCE";
  // 公示 from Thursday 2023-09-28, 5 working days: 中秋/国庆 09-29..10-06 off, 10-07 and 10-08 worked.
  testing::CmdResult r = testing::Polmatch("grants publish" + L + " --policy p.once --from 2023-09-28 --rules " + rules +
                                           " --out " + (root_ / "lists").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("公示 2023-09-28 至 2023-10-10"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(root_ / "lists/公示名单-p.once-2023-09-28.xlsx"));
  EXPECT_TRUE(fs::exists(root_ / "lists/公示名单-p.once-2023-09-28.csv"));
  r = testing::Polmatch("grants publish" + L + " --policy p.once --from 2023-09-28 --rules " + rules);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("policy p.once has no PROPOSED grant to publish"), std::string::npos) << r.out;

  r = testing::Polmatch("grants object" + L + " --grant " + c + " --date 2023-10-09 --note 异议");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::ofstream(root_ / "confirm.csv") << "\xEF\xBB\xBFgrant_id,name\n" << a << ",x\n" << b << ",y\n";
  r = testing::Polmatch("grants confirm" + L + " --file " + (root_ / "confirm.csv").string() + " --date 2023-10-09");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = testing::Polmatch("grants decline" + L + " --grant " + b + " --date 2023-10-09");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = testing::Polmatch("grants confirm" + L + " --grant " + b + " --date 2023-10-09");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "polmatch: grant " + b + " is WITHDRAWN: cannot confirm (only an unpaid grant can be confirmed)\n");
  r = testing::Polmatch("grants approve" + L + " --date 2023-10-10");
  EXPECT_NE(r.out.find("0 approved"), std::string::npos) << r.out;
  r = testing::Polmatch("grants approve" + L + " --date 2023-10-11");
  EXPECT_NE(r.out.find("1 approved"), std::string::npos) << r.out;
  r = testing::Polmatch("grants export" + L + " --state APPROVED --out " + (root_ / "pay").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::ifstream exported(root_ / "pay.csv");
  std::string bom_header, row;
  std::getline(exported, bom_header);
  std::getline(exported, row);
  EXPECT_EQ(bom_header, "\xEF\xBB\xBF序号,企业名称,统一社会信用代码,政策事项,文件与条款,金额(元),期间,公示起止\r");
  EXPECT_EQ(row, "1,企业0," + codes[0] + ",一次性资助,,10000.00,一次性,2023-09-28 至 2023-10-10\r");
  std::ofstream(root_ / "paid.csv") << "grant_id,amount_yuan,paid_on,reference\n"
                                    << a << ",10000.00,2023-10-20,R1\n" << c << ",10000.00,2023-10-20,R2\n";
  r = testing::Polmatch("grants pay" + L + " --file " + (root_ / "paid.csv").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find((root_ / "paid.csv").string() + ":3: grant " + c + ": is OBJECTED, not APPROVED"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("1 paid, 1 refused"), std::string::npos) << r.out;
  r = testing::Polmatch("grants audit" + L + " --grant " + a);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("the replay agrees"), std::string::npos) << r.out;
  r = testing::Polmatch("grants list" + L + " --policy p.once --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  google::protobuf::Struct list;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &list).ok()) << r.out;
  const auto& grants = list.fields().at("grants").list_value().values();
  ASSERT_EQ(grants.size(), 3);
  const auto& first = grants[0].struct_value().fields();
  for (const char* key : {"id", "policy", "credit_code", "name", "period", "state", "amount_yuan", "uncapped_amount_yuan",
                          "publicity_from", "publicity_to", "history"}) {
    EXPECT_TRUE(first.contains(key)) << key;
  }
  EXPECT_EQ(first.size(), 11u);
  EXPECT_EQ(first.at("state").string_value(), "PAID");
  EXPECT_EQ(first.at("history").list_value().values(0).struct_value().fields().size(), 3u);
  EXPECT_EQ(grants[1].struct_value().fields().at("state").string_value(), "WITHDRAWN");
  EXPECT_EQ(testing::Polmatch("grants frobnicate" + L).exit_code, 2);
  EXPECT_EQ(testing::Polmatch("grants list --ledger " + (root_ / "none.db").string()).exit_code, 2);
}

TEST_F(LedgerServiceTest, FirmGrantsThroughTheEngineAndHttpWhileABatchWrites) {
  std::vector<Firm> firms;
  std::vector<std::string> codes = WriteFirms(300, &firms);
  const fs::path ledger = root_ / "grants.db";
  ASSERT_EQ(Wait(Spawn(BatchArgs("2023-01-15", ledger, "out"))), 0);
  absl::StatusOr<FirmStore> store = FirmStore::Build(firms, testing::RealTaxonomy());
  ASSERT_TRUE(store.ok());
  const std::string snapshot = (root_ / "r.snap").string();
  ASSERT_TRUE(WriteSnapshotFile(snapshot, *store, testing::RealTaxonomy()).ok());

  EngineOptions options;
  options.rules_dir = (root_ / "rules").string();
  options.snapshot_path = snapshot;
  absl::StatusOr<std::unique_ptr<Engine>> plain = Engine::Create(options);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition((*plain)->Grants(codes[0]).status()));
  options.ledger_path = ledger.string();
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  absl::StatusOr<std::vector<FirmGrant>> grants = (*engine)->Grants(codes[7]);
  ASSERT_TRUE(grants.ok());
  ASSERT_EQ(grants->size(), 2u);
  EXPECT_EQ((*grants)[0].id, "p.monthly/" + codes[7] + "/2023-01");
  EXPECT_EQ((*grants)[0].amount_yuan, "100.70");
  EXPECT_EQ((*grants)[0].state, "PROPOSED");
  EXPECT_EQ((*grants)[1].id, "p.once/" + codes[7] + "/ONCE");
  EXPECT_TRUE(absl::IsInvalidArgument((*engine)->Grants("not-a-code").status()));

  http::HttpService service(**engine);
  http::HttpServer server(service, {});
  absl::StatusOr<int> listening = server.Listen("127.0.0.1", 0);
  ASSERT_TRUE(listening.ok()) << listening.status();
  const int port = *listening;
  server.Start();
  testing::HttpClient client("127.0.0.1", port);
  client.set_read_timeout(10, 0);
  testing::HttpResult r = client.Get("/api/v1/firms/" + codes[7] + "/grants");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("\"state_zh\":\"拟兑现\""), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"amount_yuan\":\"100.70\""), std::string::npos) << r->body;
  google::protobuf::Struct parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r->body, &parsed).ok()) << r->body;
  EXPECT_EQ(client.Get("/api/v1/firms/bad/grants")->status, 400);

  // Readers while nights write: every answer is whole (one monthly grant per night seen, never
  // fewer than before, each grant with its history).
  std::atomic<bool> done{false};
  std::atomic<int> answers{0}, bad{0};
  std::thread reader([&] {
    testing::HttpClient c("127.0.0.1", port);
    c.set_read_timeout(10, 0);
    size_t seen = 0;
    while (!done) {
      testing::HttpResult res = c.Get("/api/v1/firms/" + codes[answers % codes.size()] + "/grants");
      google::protobuf::Struct body;
      if (!res || res->status != 200 || !google::protobuf::util::JsonStringToMessage(res->body, &body).ok()) {
        ++bad;
        continue;
      }
      const auto& list = body.fields().at("grants").list_value().values();
      for (const auto& g : list) {
        if (g.struct_value().fields().at("history").list_value().values_size() == 0) ++bad;
      }
      if (answers % codes.size() == 0) {
        if (static_cast<size_t>(list.size()) < seen) ++bad;
        seen = list.size();
      }
      ++answers;
    }
  });
  for (const char* night : {"2023-02-15", "2023-03-15", "2023-04-15"}) {
    ASSERT_EQ(Wait(Spawn(BatchArgs(night, ledger, "out"))), 0);
  }
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(answers.load(), 0);
  grants = (*engine)->Grants(codes[7]);
  ASSERT_TRUE(grants.ok());
  EXPECT_EQ(grants->size(), 5u);  // four months and the one-off
  server.Drain(std::chrono::milliseconds(1000));
}

}  // namespace
}  // namespace polmatch

namespace polmatch {
namespace {

// `grants pay` on a large file, killed at random moments: the ledger is exactly as before the
// payment run or as after it, and a rerun completes it (SPEC §7: each command one transaction).
TEST_F(LedgerServiceTest, PayKilledAtRandomMomentsLeavesTheLedgerBeforeOrAfter) {
  const std::vector<std::string> codes = WriteFirms(3000);
  const std::string rules = (root_ / "rules").string();
  {
    std::ofstream confirm(root_ / "confirm.csv");
    std::ofstream pay(root_ / "pay.csv");
    confirm << "grant_id\n";
    pay << "grant_id,amount_yuan,paid_on,reference\n";
    for (size_t i = 0; i < codes.size(); ++i) {
      confirm << "p.once/" << codes[i] << "/ONCE\n";
      pay << "p.once/" << codes[i] << "/ONCE,10000.00,2023-10-12,BANK-" << i << "\n";
    }
  }
  // Every grant APPROVED: the night, 公示, confirmations, approval.
  auto prepare = [&](const fs::path& ledger) {
    const std::string L = " --ledger " + ledger.string();
    ASSERT_EQ(Wait(Spawn(BatchArgs("2023-09-01", ledger, "night_" + ledger.stem().string()))), 0);
    ASSERT_EQ(testing::Polmatch("grants publish" + L + " --policy p.once --from 2023-09-28 --rules " + rules +
                                " --out " + (root_ / ("pub_" + ledger.stem().string())).string()).exit_code, 0);
    ASSERT_EQ(testing::Polmatch("grants confirm" + L + " --file " + (root_ / "confirm.csv").string() +
                                " --date 2023-10-09").exit_code, 0);
    ASSERT_EQ(testing::Polmatch("grants approve" + L + " --date 2023-10-11").exit_code, 0);
  };
  auto pay_args = [&](const fs::path& ledger) {
    return std::vector<std::string>{POLMATCH_BINARY, "grants", "pay", "--ledger", ledger.string(), "--file",
                                    (root_ / "pay.csv").string()};
  };
  const fs::path reference = root_ / "reference.db";
  prepare(reference);
  const std::string before = Dump(reference);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(Wait(Spawn(pay_args(reference))), 0);
  // Kills fall within the span an uninterrupted payment run takes (start-up included).
  const int64_t span_us = std::max<int64_t>(
      1000, std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count());
  const std::string after = Dump(reference);
  ASSERT_NE(before, after);
  ASSERT_NE(after.find("PAID"), std::string::npos);

  const fs::path ledger = root_ / "grants.db";
  prepare(ledger);
  ASSERT_EQ(Dump(ledger), before);
  const fs::path saved = root_ / "saved.db";
  Save(ledger, saved);
  std::mt19937 rng(11);
  int killed_before = 0;
  for (int attempt = 0; attempt < 40 && killed_before < 2; ++attempt) {
    const pid_t pid = Spawn(pay_args(ledger));
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % span_us));
    kill(pid, SIGKILL);
    const int status = Wait(pid);
    const std::string now = Dump(ledger);
    ASSERT_TRUE(now == before || now == after) << "attempt " << attempt << ":\n" << now.substr(0, 400);
    if (now == before) {
      killed_before += status == -SIGKILL;
    } else {
      Restore(saved, ledger);  // paid before the kill: undo, try again
      ASSERT_EQ(Dump(ledger), before);
    }
  }
  EXPECT_GT(killed_before, 0);
  ASSERT_EQ(Wait(Spawn(pay_args(ledger))), 0);
  EXPECT_EQ(Dump(ledger), after);
}

}  // namespace
}  // namespace polmatch
