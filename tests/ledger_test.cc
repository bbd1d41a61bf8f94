// The grant ledger (SPEC §7): the nightly rules over several nights of small hand-made registries,
// the lifecycle steps and their refusals, audit, a property test over random nights, and readers
// during a writer.
#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/catalog/catalog.h"
#include "engine/ledger/lifecycle.h"
#include "engine/ledger/nightly.h"
#include "engine/output/night_from.h"
#include "engine/util/dates.h"
#include "engine/util/framing.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;
using ::polmatch::testing::MakeFirm;
using ::polmatch::testing::MakeProfile;

absl::CivilDay Day(const char* text) { return *ParseDate(text); }

// Policies over `revenue` of firms in 汕尾 (441500); each grants 10% of revenue.
std::string PolicyText(const std::string& id, const std::string& extra = "") {
  return absl::StrCat("policy { id: \"", id, "\" title: \"t ", id, "\" mode: AUTO_GRANT ",
                      "eligibility: \"region under \\\"441500\\\" and revenue >= 100\" ",
                      "benefit: \"revenue * 10%\" ", extra, " }\n");
}

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    dir_ = fs::path(::testing::TempDir()) / absl::StrCat("ledger_", ::getpid(), "_", counter++);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto ledger = OpenSqliteLedger((dir_ / "grants.db").string(), LedgerMode::kReadWrite);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ledger_ = std::move(*ledger);
    auto texts = ReadTaxonomyTexts(::polmatch::testing::RulesDir() + "/taxonomy");
    ASSERT_TRUE(texts.ok()) << texts.status();
    taxonomy_texts_ = *texts;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static Catalog Compile(const std::string& text) {
    PolicyCatalog proto;
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &proto)) << text;
    static const std::shared_ptr<const Taxonomy> tax(&::polmatch::testing::RealTaxonomy(), [](const Taxonomy*) {});
    Diagnostics diags;
    absl::StatusOr<Catalog> c = Catalog::FromProtos(tax, {proto}, &diags);
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  }

  // Firm `serial` in 汕尾 with `revenue` (nullopt: no such firm tonight).
  static Firm FirmWith(int serial, int64_t revenue) {
    FirmProfile p = MakeProfile("441502", serial);
    p.set_name(absl::StrCat("企业", serial));
    (*p.mutable_facts())["revenue"] = absl::StrCat(revenue);
    return MakeFirm(p);
  }
  static std::string Code(int serial) { return ::polmatch::testing::MakeCreditCode("441502", serial); }

  LedgerNightCounts Night(const Catalog& catalog, const std::vector<Firm>& firms, const char* as_of) {
    return NightOn(*ledger_, catalog, firms, as_of, LedgerNight().batch_grants);
  }
  LedgerNightCounts NightOn(LedgerStore& ledger, const Catalog& catalog, const std::vector<Firm>& firms,
                            const char* as_of, int64_t batch_grants) {
    NightResult night = NightFromReference(catalog, firms, Day(as_of));
    LedgerNight in;
    in.catalog = &catalog;
    in.night = &night;
    in.firm_of = [&](uint32_t i) { return firms[i]; };
    in.taxonomy = taxonomy_texts_;
    in.batch_grants = batch_grants;
    // proposals.csv as the night makes it (from its own entries, or read back after a rerun of
    // the same date) is exactly what the ledger lists afterwards.
    std::string csv;
    absl::StatusOr<LedgerNightCounts> counts = ProposeNight(ledger, in, &csv);
    EXPECT_TRUE(counts.ok()) << counts.status();
    absl::StatusOr<std::string> listed = ProposalsCsv(ledger, as_of);
    EXPECT_TRUE(listed.ok()) << listed.status();
    EXPECT_EQ(csv, listed.value_or("")) << as_of;
    return counts.ok() ? *counts : LedgerNightCounts();
  }
  // Every field of every grant and its history (without the store's sequence numbers).
  static std::string Dump(LedgerStore& ledger) {
    auto all = ListGrants(ledger, GrantQuery());
    EXPECT_TRUE(all.ok()) << all.status();
    std::string out;
    for (const GrantWithHistory& gh : all.value_or(std::vector<GrantWithHistory>())) {
      const GrantRecord& g = gh.grant;
      absl::StrAppend(&out, g.id, "|", g.policy_id, "|", g.credit_code, "|", g.name, "|", g.period, "|", g.base_id, "|",
                      g.cap_key, "|", StateName(g.state), "|", static_cast<int>(g.withdrawn_by), "|", g.amount_fen, "|",
                      g.uncapped_fen, "|", g.entitlement_fen, "|", g.paid_fen, "|", g.recovered_fen, "|", g.review_fen,
                      "|", g.requires_confirmation, g.confirmed, g.objection_open, "|", g.as_of, "|", g.policy_digest,
                      "|", g.taxonomy_digest, "|", g.firm_data, "|", g.publicity_from, "|", g.publicity_to, "|",
                      g.paid_on, "|", g.payment_reference, "\n");
      for (const HistoryEntry& h : gh.history) {
        absl::StrAppend(&out, "  ", h.date, " ", h.event, " ", StateName(h.state), " ", h.amount_fen, " ",
                        h.previous_fen, " ", h.by_night, " ", h.note, "\n");
      }
    }
    return out;
  }

  std::optional<GrantRecord> Get(const std::string& id) {
    std::optional<GrantRecord> out;
    EXPECT_TRUE(ledger_->Read([&](LedgerTransaction& txn) -> absl::Status {
      auto g = txn.Find(id);
      if (!g.ok()) return g.status();
      out = *g;
      return absl::OkStatus();
    }).ok());
    return out;
  }
  std::vector<HistoryEntry> History(const std::string& id) {
    std::vector<HistoryEntry> out;
    EXPECT_TRUE(ledger_->Read([&](LedgerTransaction& txn) -> absl::Status {
      auto h = txn.History(id);
      if (!h.ok()) return h.status();
      out = *h;
      return absl::OkStatus();
    }).ok());
    return out;
  }
  std::vector<GrantRecord> All() {
    auto all = ListGrants(*ledger_, GrantQuery());
    EXPECT_TRUE(all.ok());
    std::vector<GrantRecord> out;
    for (auto& g : *all) out.push_back(g.grant);
    return out;
  }
  std::string Proposals(const char* as_of) {
    auto csv = ProposalsCsv(*ledger_, as_of);
    EXPECT_TRUE(csv.ok()) << csv.status();
    return *csv;
  }

  // Publishes, approves and pays every PROPOSED grant of `policy` (no 公示 days in these catalogs).
  void PayAll(const std::string& policy, const char* date) {
    auto published = PublishGrants(*ledger_, policy, Day(date), [](absl::CivilDay d, int) { return d; });
    ASSERT_TRUE(published.ok()) << published.status();
    auto approved = ApproveGrants(*ledger_, Day(date));
    ASSERT_TRUE(approved.ok()) << approved.status();
    std::vector<Payment> payments;
    for (const GrantRecord& g : *approved) {
      payments.push_back(Payment{static_cast<int>(payments.size()) + 2, g.id, FenToYuan(g.amount_fen), date, "REF-" + g.id});
    }
    auto paid = RecordPayments(*ledger_, payments);
    ASSERT_TRUE(paid.ok()) << paid.status();
    ASSERT_TRUE(paid->refused.empty()) << paid->refused[0];
  }

  fs::path dir_;
  std::unique_ptr<LedgerStore> ledger_;
  TaxonomyTexts taxonomy_texts_;
};

TEST(GrantFieldsTest, LintChecksCapsAndGrantFields) {
  PolicyCatalog proto;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      PolicyText("p.a", "cap_group: \"nope\"") +
          "policy { id: \"p.apply\" title: \"t\" mode: APPLY eligibility: \"revenue > 0\" grant_period: YEARLY "
          "publicity_days: 5 }\n"
          "grant_cap { id: \"c\" period: YEARLY max_yuan_per_firm: \"一百万\" }\n"
          "grant_cap { id: \"d\" period: YEARLY max_yuan_per_firm: \"100万\" }\n"
          "grant_cap { id: \"d\" period: YEARLY max_yuan_per_firm: \"1\" }\n",
      &proto));
  static const std::shared_ptr<const Taxonomy> tax(&::polmatch::testing::RealTaxonomy(), [](const Taxonomy*) {});
  Diagnostics diags;
  absl::StatusOr<Catalog> c = Catalog::FromProtos(tax, {proto}, &diags, {"cat.textproto"});
  EXPECT_FALSE(c.ok());
  std::string all;
  for (const Diagnostic& d : diags.items()) absl::StrAppend(&all, d.ToString(), "\n");
  EXPECT_NE(all.find("policy p.a: cap_group \"nope\" names no grant_cap"), std::string::npos) << all;
  EXPECT_NE(all.find("policy p.apply: grant_period is for AUTO_GRANT (免申即享) policies only"), std::string::npos) << all;
  EXPECT_NE(all.find("policy p.apply: publicity_days is for AUTO_GRANT"), std::string::npos) << all;
  EXPECT_NE(all.find("grant_cap c: max_yuan_per_firm \"一百万\" is not an amount"), std::string::npos) << all;
  EXPECT_NE(all.find("duplicate grant_cap id \"d\""), std::string::npos) << all;

  PolicyCatalog good;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      PolicyText("p.a", "cap_group: \"d\" grant_period: MONTHLY publicity_days: 5 requires_confirmation: true") +
          "grant_cap { id: \"d\" period: YEARLY max_yuan_per_firm: \"100万\" }\n",
      &good));
  Diagnostics ok_diags;
  absl::StatusOr<Catalog> ok = Catalog::FromProtos(tax, {good}, &ok_diags);
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_NE(ok->FindCap("d"), nullptr);
  EXPECT_EQ(ok->FindCap("d")->max_yuan.ToString(), "1000000");
}

TEST_F(LedgerTest, OnceOnlyIsProposedOnceAcrossNightsAndYears) {
  Catalog c = Compile(PolicyText("p.once"));
  std::vector<Firm> firms = {FirmWith(1, 1000), FirmWith(2, 50)};
  EXPECT_EQ(Night(c, firms, "2023-06-30").proposed, 1);
  const std::string id = "p.once/" + Code(1) + "/ONCE";
  ASSERT_TRUE(Get(id));
  EXPECT_EQ(Get(id)->state, GrantState::kProposed);
  EXPECT_EQ(Get(id)->amount_fen, 10000);
  EXPECT_EQ(Get(id)->as_of, "2023-06-30");
  EXPECT_EQ(Night(c, firms, "2023-07-01").proposed, 0);
  EXPECT_EQ(Night(c, firms, "2024-03-01").proposed, 0);
  PayAll("p.once", "2024-03-02");
  EXPECT_EQ(Night(c, firms, "2025-01-01").proposed, 0);
  EXPECT_EQ(All().size(), 1u);
  EXPECT_EQ(Get(id)->state, GrantState::kPaid);
}

TEST_F(LedgerTest, RecurringPeriodsStartAnewAtTheirBoundaries) {
  Catalog c = Compile(PolicyText("p.y", "grant_period: YEARLY") + PolicyText("p.q", "grant_period: QUARTERLY") +
                      PolicyText("p.m", "grant_period: MONTHLY"));
  std::vector<Firm> firms = {FirmWith(1, 1000)};
  EXPECT_EQ(Night(c, firms, "2023-03-31").proposed, 3);
  EXPECT_EQ(Night(c, firms, "2023-03-31").proposed, 0);
  // April: a new month and quarter, the same year.
  EXPECT_EQ(Night(c, firms, "2023-04-01").proposed, 2);
  EXPECT_EQ(Night(c, firms, "2023-04-30").proposed, 0);
  EXPECT_EQ(Night(c, firms, "2024-01-01").proposed, 3);
  const std::string code = Code(1);
  for (const std::string& id : {"p.y/" + code + "/2023", "p.y/" + code + "/2024", "p.q/" + code + "/2023Q1",
                               "p.q/" + code + "/2023Q2", "p.q/" + code + "/2024Q1", "p.m/" + code + "/2023-03",
                               "p.m/" + code + "/2023-04", "p.m/" + code + "/2024-01"}) {
    EXPECT_TRUE(Get(id)) << id;
  }
  EXPECT_EQ(All().size(), 8u);
}

TEST_F(LedgerTest, UnpaidAmountChangesAreKeptInHistory) {
  Catalog c = Compile(PolicyText("p.once"));
  Night(c, {FirmWith(1, 1000)}, "2023-06-01");
  LedgerNightCounts n = Night(c, {FirmWith(1, 3000)}, "2023-06-02");
  EXPECT_EQ(n.changed, 1);
  const std::string id = "p.once/" + Code(1) + "/ONCE";
  EXPECT_EQ(Get(id)->amount_fen, 30000);
  EXPECT_EQ(Get(id)->as_of, "2023-06-02");
  std::vector<HistoryEntry> h = History(id);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].event, "NEW");
  EXPECT_EQ(h[1].event, "CHANGED");
  EXPECT_EQ(h[1].previous_fen, 10000);
  EXPECT_EQ(h[1].amount_fen, 30000);
  EXPECT_NE(Proposals("2023-06-02").find(absl::StrCat(id, ",p.once,", Code(1), ",企业1,ONCE,CHANGED,300.00,100.00,")),
            std::string::npos)
      << Proposals("2023-06-02");
}

TEST_F(LedgerTest, PaidThenHigherIsAnAdjustmentAndLowerIsReviewNeverRecovery) {
  Catalog c = Compile(PolicyText("p.once"));
  Night(c, {FirmWith(1, 1000)}, "2023-06-01");
  PayAll("p.once", "2023-06-05");
  const std::string id = "p.once/" + Code(1) + "/ONCE";
  LedgerNightCounts n = Night(c, {FirmWith(1, 1500)}, "2023-06-10");
  EXPECT_EQ(n.adjustments, 1);
  std::optional<GrantRecord> adj = Get(id + "/ADJ1");
  ASSERT_TRUE(adj);
  EXPECT_EQ(adj->amount_fen, 5000);
  EXPECT_EQ(adj->base_id, id);
  EXPECT_EQ(adj->state, GrantState::kProposed);
  EXPECT_EQ(Night(c, {FirmWith(1, 1500)}, "2023-06-11").adjustments, 0);  // idempotent
  // Higher again before the adjustment is paid: the adjustment changes.
  EXPECT_EQ(Night(c, {FirmWith(1, 1800)}, "2023-06-12").changed, 1);
  EXPECT_EQ(Get(id + "/ADJ1")->amount_fen, 8000);
  PayAll("p.once", "2023-06-13");
  EXPECT_EQ(Get(id + "/ADJ1")->state, GrantState::kPaid);
  EXPECT_EQ(Night(c, {FirmWith(1, 1800)}, "2023-06-14").adjustments, 0);
  // Lower than paid: flagged once, never recovered.
  LedgerNightCounts lower = Night(c, {FirmWith(1, 900)}, "2023-06-15");
  EXPECT_EQ(lower.review, 1);
  EXPECT_EQ(Night(c, {FirmWith(1, 900)}, "2023-06-16").review, 0);
  EXPECT_EQ(Get(id)->state, GrantState::kPaid);
  EXPECT_EQ(Get(id + "/ADJ1")->state, GrantState::kPaid);
  EXPECT_NE(Proposals("2023-06-15").find(",REVIEW,90.00,180.00,"), std::string::npos) << Proposals("2023-06-15");
  // Not eligible at all after payment: nothing is withdrawn.
  EXPECT_EQ(Night(c, {FirmWith(1, 10)}, "2023-06-17").withdrawn, 0);
  EXPECT_EQ(Get(id)->state, GrantState::kPaid);
}

TEST_F(LedgerTest, CapAcrossTwoPoliciesReducesInPolicyIdOrderAndKeepsTheUncapped) {
  Catalog c = Compile(PolicyText("p.a", "grant_period: YEARLY cap_group: \"c\"") +
                      PolicyText("p.b", "grant_period: YEARLY cap_group: \"c\"") +
                      "grant_cap { id: \"c\" period: YEARLY max_yuan_per_firm: \"150\" }\n");
  Night(c, {FirmWith(1, 1000)}, "2023-02-01");  // 100 + 100 against 150
  const std::string a = "p.a/" + Code(1) + "/2023", b = "p.b/" + Code(1) + "/2023";
  EXPECT_EQ(Get(a)->amount_fen, 10000);
  EXPECT_EQ(Get(b)->amount_fen, 5000);
  EXPECT_EQ(Get(b)->uncapped_fen, 10000);
  PayAll("p.a", "2023-02-02");
  PayAll("p.b", "2023-02-02");
  // Both higher: p.a's adjustment would take the rest, but nothing is left.
  Night(c, {FirmWith(1, 2000)}, "2023-03-01");
  int64_t total = 0;
  for (const GrantRecord& g : All()) {
    if (g.state != GrantState::kWithdrawn) total += g.state == GrantState::kPaid ? g.paid_fen : g.amount_fen;
  }
  EXPECT_EQ(total, 15000);
  // The next year starts a new cap period.
  Night(c, {FirmWith(1, 1000)}, "2024-01-02");
  EXPECT_EQ(Get("p.a/" + Code(1) + "/2024")->amount_fen, 10000);
  EXPECT_EQ(Get("p.b/" + Code(1) + "/2024")->amount_fen, 5000);
}

TEST_F(LedgerTest, WithdrawnWhenEligibilityIsLostBeforePaymentWithTheReason) {
  Catalog c = Compile(PolicyText("p.once"));
  Night(c, {FirmWith(1, 1000), FirmWith(2, 1000)}, "2023-06-01");
  LedgerNightCounts n = Night(c, {FirmWith(1, 50)}, "2023-06-02");
  EXPECT_EQ(n.withdrawn, 2);
  const std::string one = "p.once/" + Code(1) + "/ONCE", two = "p.once/" + Code(2) + "/ONCE";
  EXPECT_EQ(Get(one)->state, GrantState::kWithdrawn);
  EXPECT_EQ(History(one).back().note, "CONDITION_LOST: revenue >= 100 is now false");
  EXPECT_EQ(History(two).back().note, "FIRM_GONE: the firm is not in tonight's registry");
  EXPECT_NE(Proposals("2023-06-02").find(",WITHDRAWN,0.00,100.00,CONDITION_LOST"), std::string::npos);
  // Eligible again: the night proposes it again (the night withdrew it, not a person).
  EXPECT_EQ(Night(c, {FirmWith(1, 1000)}, "2023-06-03").proposed, 1);
  EXPECT_EQ(Get(one)->state, GrantState::kProposed);
}

TEST_F(LedgerTest, ObjectionsHoldApprovalUntilDismissedAndWithdrawWhenUpheld) {
  Catalog c = Compile(PolicyText("p.once", "publicity_days: 5"));
  Night(c, {FirmWith(1, 1000), FirmWith(2, 1000)}, "2023-09-01");
  // A stand-in calendar: five days later.
  auto end = [](absl::CivilDay d, int days) -> absl::StatusOr<absl::CivilDay> { return d + days - 1; };
  auto published = PublishGrants(*ledger_, "p.once", Day("2023-09-04"), end);
  ASSERT_TRUE(published.ok());
  ASSERT_EQ(published->size(), 2u);
  EXPECT_EQ((*published)[0].publicity_to, "2023-09-08");
  EXPECT_TRUE(absl::IsFailedPrecondition(PublishGrants(*ledger_, "p.once", Day("2023-09-04"), end).status()));
  const std::string one = "p.once/" + Code(1) + "/ONCE", two = "p.once/" + Code(2) + "/ONCE";
  ASSERT_TRUE(RecordActions(*ledger_, {{ClerkStep::kObject, one, Day("2023-09-05"), "举报: 数据有误"},
                                       {ClerkStep::kObject, two, Day("2023-09-05"), "重复"}}).ok());
  // During 公示 nothing is approved; after it, objected grants are not.
  EXPECT_TRUE(ApproveGrants(*ledger_, Day("2023-09-08"))->empty());
  EXPECT_TRUE(ApproveGrants(*ledger_, Day("2023-09-09"))->empty());
  ASSERT_TRUE(RecordActions(*ledger_, {{ClerkStep::kDismiss, one, Day("2023-09-10"), "核实无误"}}).ok());
  ASSERT_TRUE(RecordActions(*ledger_, {{ClerkStep::kUphold, two, Day("2023-09-10"), "核实属实"}}).ok());
  EXPECT_EQ(Get(one)->state, GrantState::kPublished);
  EXPECT_EQ(Get(two)->state, GrantState::kWithdrawn);
  // Resolving again is refused, and changes nothing.
  absl::Status again = RecordActions(*ledger_, {{ClerkStep::kDismiss, two, Day("2023-09-11"), ""}});
  EXPECT_TRUE(absl::IsFailedPrecondition(again));
  EXPECT_EQ(again.message(), "grant " + two + " is WITHDRAWN: cannot resolve an objection (it has no open objection)");
  auto approved = ApproveGrants(*ledger_, Day("2023-09-11"));
  ASSERT_EQ(approved->size(), 1u);
  EXPECT_EQ((*approved)[0].id, one);
  // An upheld objection is a person's decision: the next night does not propose it again.
  EXPECT_EQ(Night(c, {FirmWith(1, 1000), FirmWith(2, 1000)}, "2023-09-12").proposed, 0);
  EXPECT_EQ(Get(two)->state, GrantState::kWithdrawn);
}

TEST_F(LedgerTest, ConfirmationIsRequiredBeforeApprovalAndADeclineWithdraws) {
  Catalog c = Compile(PolicyText("p.once", "requires_confirmation: true"));
  Night(c, {FirmWith(1, 1000), FirmWith(2, 1000), FirmWith(3, 1000)}, "2023-09-01");
  ASSERT_TRUE(PublishGrants(*ledger_, "p.once", Day("2023-09-04"), [](absl::CivilDay d, int) { return d; }).ok());
  const std::string one = "p.once/" + Code(1) + "/ONCE", two = "p.once/" + Code(2) + "/ONCE",
                    three = "p.once/" + Code(3) + "/ONCE";
  EXPECT_TRUE(ApproveGrants(*ledger_, Day("2023-09-05"))->empty());
  ASSERT_TRUE(RecordActions(*ledger_, {{ClerkStep::kConfirm, one, Day("2023-09-05"), "", 2},
                                       {ClerkStep::kDecline, two, Day("2023-09-05"), "", 3}}).ok());
  // A file with one bad row records nothing.
  absl::Status bad = RecordActions(*ledger_, {{ClerkStep::kConfirm, three, Day("2023-09-06"), "", 2},
                                              {ClerkStep::kConfirm, two, Day("2023-09-06"), "", 3}});
  EXPECT_TRUE(absl::IsFailedPrecondition(bad));
  EXPECT_NE(bad.message().find("line 3: grant " + two + " is WITHDRAWN: cannot confirm"), std::string::npos) << bad;
  EXPECT_FALSE(Get(three)->confirmed);
  auto approved = ApproveGrants(*ledger_, Day("2023-09-06"));
  ASSERT_EQ(approved->size(), 1u);
  EXPECT_EQ((*approved)[0].id, one);
  EXPECT_EQ(Night(c, {FirmWith(1, 1000), FirmWith(2, 1000), FirmWith(3, 1000)}, "2023-09-07").proposed, 0);
}

TEST_F(LedgerTest, PaymentsMustMatchAnApprovedGrantAndItsAmount) {
  Catalog c = Compile(PolicyText("p.once"));
  Night(c, {FirmWith(1, 1000), FirmWith(2, 2000), FirmWith(3, 3000)}, "2023-09-01");
  ASSERT_TRUE(PublishGrants(*ledger_, "p.once", Day("2023-09-04"), [](absl::CivilDay d, int) { return d; }).ok());
  ASSERT_EQ(ApproveGrants(*ledger_, Day("2023-09-04"))->size(), 3u);
  const std::string one = "p.once/" + Code(1) + "/ONCE", two = "p.once/" + Code(2) + "/ONCE",
                    three = "p.once/" + Code(3) + "/ONCE";
  auto out = RecordPayments(*ledger_, {{2, one, "100.00", "2023-09-20", "BANK-1"},
                                       {3, two, "199.99", "2023-09-20", "BANK-2"},
                                       {4, one, "100.00", "2023-09-20", "BANK-3"},
                                       {5, "p.once/nope/ONCE", "1", "2023-09-20", "BANK-4"},
                                       {6, three, "300", "2023-09-31", "BANK-5"}});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->paid, std::vector<std::string>{one});
  ASSERT_EQ(out->refused.size(), 4u);
  EXPECT_EQ(out->refused[0], "line 3: grant " + two + ": amount 199.99 does not match the approved 200.00");
  EXPECT_EQ(out->refused[1], "line 4: grant " + one + ": paid twice in this file");
  EXPECT_EQ(out->refused[2], "line 5: grant p.once/nope/ONCE: no such grant");
  EXPECT_NE(out->refused[3].find("line 6: grant " + three + ": paid_on:"), std::string::npos);
  // Paying a PAID grant again is refused: nothing is paid twice.
  auto twice = RecordPayments(*ledger_, {{2, one, "100.00", "2023-09-21", "BANK-6"}});
  EXPECT_EQ(twice->refused, std::vector<std::string>{"line 2: grant " + one + ": is PAID, not APPROVED"});
  EXPECT_EQ(Get(one)->payment_reference, "BANK-1");
  EXPECT_EQ(Get(two)->state, GrantState::kApproved);
  // Recovery only after payment.
  EXPECT_TRUE(absl::IsFailedPrecondition(RecordActions(*ledger_, {{ClerkStep::kRecover, two, Day("2023-10-01"), ""}})));
  ASSERT_TRUE(RecordActions(*ledger_, {{ClerkStep::kRecover, one, Day("2023-10-01"), "骗取"}}).ok());
  EXPECT_EQ(Get(one)->state, GrantState::kRecovered);
  EXPECT_EQ(Night(c, {FirmWith(1, 1000)}, "2023-10-02").proposed, 0);
}

TEST_F(LedgerTest, TheSameNightTwiceChangesNothingAndListsTheSameProposals) {
  Catalog c = Compile(PolicyText("p.a", "grant_period: YEARLY cap_group: \"c\"") + PolicyText("p.b", "cap_group: \"c\"") +
                      "grant_cap { id: \"c\" period: YEARLY max_yuan_per_firm: \"1万\" }\n");
  std::vector<Firm> firms;
  for (int i = 1; i <= 40; ++i) firms.push_back(FirmWith(i, i * 3000));
  Night(c, firms, "2023-05-01");
  const std::string first = Proposals("2023-05-01");
  std::vector<HistoryEntry> before = History("p.b/" + Code(40) + "/ONCE");
  LedgerNightCounts again = Night(c, firms, "2023-05-01");
  EXPECT_EQ(again.proposed + again.changed + again.withdrawn + again.adjustments + again.review, 0);
  EXPECT_EQ(Proposals("2023-05-01"), first);
  EXPECT_EQ(History("p.b/" + Code(40) + "/ONCE").size(), before.size());
  // From firm 34 on (300 × 34 ≥ 1万), p.a takes the whole cap and p.b gets nothing: no grant.
  EXPECT_EQ(std::count(first.begin(), first.end(), '\n'), 1 + 80 - 7);
  EXPECT_NE(first.find(absl::StrCat("p.a/", Code(34), "/2023,p.a,", Code(34), ",企业34,2023,NEW,10000.00,,capped by grant_cap c (uncapped 10200.00)")), std::string::npos) << first;
}

// A rerun of a night that writes nothing may reuse the night's proposals.csv (its size and checksum
// remembered by the run that made it) instead of reading the entries back; any later write to
// the ledger forgets the memo, and a rerun that writes reads back as before.
TEST_F(LedgerTest, ARerunReusesTheNightsProposalsOnlyWhileTheLedgerIsUnchanged) {
  Catalog c = Compile(PolicyText("p.a") + PolicyText("p.b"));
  std::vector<Firm> firms = {FirmWith(1, 1000), FirmWith(2, 2000)};
  auto night_of = [&](const std::vector<Firm>& fs, const char* as_of, const std::function<bool(const ProposalsMemo&)>& reuse,
                      std::string* csv) {
    NightResult night = NightFromReference(c, fs, Day(as_of));
    LedgerNight in;
    in.catalog = &c;
    in.night = &night;
    in.firm_of = [&](uint32_t i) { return fs[i]; };
    in.taxonomy = taxonomy_texts_;
    in.can_reuse_proposals = reuse;
    absl::StatusOr<LedgerNightCounts> counts = ProposeNight(*ledger_, in, csv);
    EXPECT_TRUE(counts.ok()) << counts.status();
    return counts.value_or(LedgerNightCounts());
  };
  std::vector<ProposalsMemo> asked;
  auto accept = [&](const ProposalsMemo& m) { asked.push_back(m); return true; };
  auto refuse = [&](const ProposalsMemo& m) { asked.push_back(m); return false; };
  std::string first;
  EXPECT_FALSE(night_of(firms, "2023-06-01", accept, &first).proposals_reused);
  EXPECT_TRUE(asked.empty());  // a first night makes its file; it asks nothing
  ASSERT_EQ(std::count(first.begin(), first.end(), '\n'), 1 + 4) << first;

  // The same night again: the memo names the first file; accepted, nothing is read back.
  std::string again;
  EXPECT_TRUE(night_of(firms, "2023-06-01", accept, &again).proposals_reused);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].date, "2023-06-01");
  EXPECT_EQ(asked[0].size, first.size());
  EXPECT_EQ(asked[0].checksum, Checksum64(first));
  // Refused (the caller has no such file): read back, the same bytes.
  EXPECT_FALSE(night_of(firms, "2023-06-01", refuse, &again).proposals_reused);
  EXPECT_EQ(again, first);
  // A clerk's step writes the ledger: the memo is gone, the night is read back (the same rows).
  asked.clear();
  auto published = PublishGrants(*ledger_, "p.a", Day("2023-06-01"), [](absl::CivilDay d, int) { return d; });
  ASSERT_TRUE(published.ok()) << published.status();
  EXPECT_FALSE(night_of(firms, "2023-06-01", accept, &again).proposals_reused);
  EXPECT_TRUE(asked.empty());
  EXPECT_EQ(again, first);
  // The file read back is remembered in turn: the next rerun reuses it.
  EXPECT_TRUE(night_of(firms, "2023-06-01", accept, &again).proposals_reused);
  EXPECT_EQ(asked.size(), 1u);
  // Another date's memo is not offered to this date's rerun.
  asked.clear();
  std::string other;
  night_of(firms, "2023-06-02", accept, &other);  // nothing new (ONCE grants): a memo of 06-02
  EXPECT_TRUE(asked.empty());
  EXPECT_FALSE(night_of(firms, "2023-06-01", accept, &again).proposals_reused);
  EXPECT_TRUE(asked.empty());
  EXPECT_EQ(again, first);

  // A rerun of the first date that writes (a firm joined): not reused, its new grants listed.
  asked.clear();
  std::vector<Firm> more = firms;
  more.push_back(FirmWith(3, 3000));
  std::string grown;
  EXPECT_FALSE(night_of(more, "2023-06-01", accept, &grown).proposals_reused);
  EXPECT_TRUE(asked.empty());
  EXPECT_EQ(std::count(grown.begin(), grown.end(), '\n'), 1 + 6) << grown;
  EXPECT_EQ(grown.substr(0, first.size()), first);
}

TEST_F(LedgerTest, AuditReplaysTheKeptTextAfterThePolicyWasEdited) {
  Catalog v1 = Compile(PolicyText("p.once"));
  Night(v1, {FirmWith(1, 1000)}, "2023-06-01");
  PayAll("p.once", "2023-06-02");
  // The policy is edited: 20% now, and it reads another fact.
  Catalog v2 = Compile(
      "policy { id: \"p.once\" title: \"t\" mode: AUTO_GRANT eligibility: \"region under \\\"441500\\\" and "
      "revenue >= 100 and employees > 0\" benefit: \"revenue * 20%\" }");
  FirmProfile p = MakeProfile("441502", 1);
  (*p.mutable_facts())["revenue"] = "1000";
  (*p.mutable_facts())["employees"] = "5";
  Night(v2, {MakeFirm(p)}, "2023-07-01");  // an adjustment under the new text
  const std::string id = "p.once/" + Code(1) + "/ONCE";
  absl::StatusOr<AuditReport> base = AuditGrant(*ledger_, id);
  ASSERT_TRUE(base.ok()) << base.status();
  EXPECT_TRUE(base->agrees) << base->disagreement;
  EXPECT_EQ(base->replay.benefit_yuan(), "100.00");
  ASSERT_EQ(base->replay.conditions_size(), 2);  // the old text: two conditions
  absl::StatusOr<AuditReport> adj = AuditGrant(*ledger_, id + "/ADJ1");
  ASSERT_TRUE(adj.ok());
  EXPECT_TRUE(adj->agrees) << adj->disagreement;
  EXPECT_EQ(adj->replay.benefit_yuan(), "200.00");
  EXPECT_EQ(Get(id + "/ADJ1")->amount_fen, 10000);
  // A grant whose kept amount no longer matches the replay is a disagreement.
  ASSERT_TRUE(ledger_->Write([&](LedgerTransaction& txn) -> absl::Status {
    GrantRecord g = **txn.Find(id);
    g.entitlement_fen += 1;
    return txn.Put(g);
  }).ok());
  absl::StatusOr<AuditReport> tampered = AuditGrant(*ledger_, id);
  ASSERT_TRUE(tampered.ok());
  EXPECT_FALSE(tampered->agrees);
  EXPECT_EQ(tampered->disagreement, "the replay computes 100.00, the ledger granted 100.01");
}

// What a grant keeps of the firm is the FirmProfile JSON protobuf would print (the facts the
// policy reads, every tag), without the code and name (the grant's own fields); audit reads it
// back, and also reads what ledgers written before kept (with the code and name).
TEST_F(LedgerTest, KeptFirmDataIsTheProfileOfWhatThePolicyReads) {
  Catalog c = Compile(
      "policy { id: \"p.k\" title: \"t\" mode: AUTO_GRANT eligibility: \"region under \\\"441500\\\" and "
      "revenue >= 100 and qual.hitech\" benefit: \"revenue * 10% + employees\" }");
  FirmProfile p = MakeProfile("441502", 1, "C13", "2015-06-01");
  p.set_name("企业 \"一\" \\ 号");
  (*p.mutable_facts())["revenue"] = "1000.5";
  (*p.mutable_facts())["employees"] = "7";
  (*p.mutable_facts())["rd_expense"] = "3";  // not read by the policy: not kept
  TagGrant* t = p.add_tags();
  t->set_id("qual.hitech");
  t->set_valid_from("2020-01-01");
  t->set_valid_to("2025-12-31");
  t->set_source("来源 \"认定\" \\ 2020");
  p.add_tags()->set_id("stat.above_scale");
  const Firm firm = MakeFirm(p);
  const std::string json = FirmDataJson(firm, c.policies()[0], c.taxonomy());
  EXPECT_EQ(json.find("rd_expense"), std::string::npos) << json;
  EXPECT_EQ(json.find("credit_code"), std::string::npos) << json;
  FirmProfile kept;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &kept).ok()) << json;
  FirmProfile expected = FirmToProfile(firm, c.taxonomy());
  expected.clear_credit_code();
  expected.clear_name();
  expected.mutable_facts()->erase("rd_expense");
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(kept, expected)) << json;
  // Facts in the tag library's order (protobuf prints a map in no fixed order): the same bytes
  // every night.
  EXPECT_LT(json.find("\"revenue\""), json.find("\"employees\"")) << json;

  // The night keeps it; audit replays it, and replays a grant kept the old way too.
  Night(c, {firm}, "2023-06-01");
  const std::string id = "p.k/" + Code(1) + "/ONCE";
  EXPECT_EQ(Get(id)->firm_data, json);
  absl::StatusOr<AuditReport> audit = AuditGrant(*ledger_, id);
  ASSERT_TRUE(audit.ok()) << audit.status();
  EXPECT_TRUE(audit->agrees) << audit->disagreement;
  EXPECT_EQ(audit->replay.benefit_yuan(), "107.05");
  std::string old_format;
  FirmProfile full = FirmToProfile(firm, c.taxonomy());
  full.mutable_facts()->erase("rd_expense");
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(full, &old_format, opts).ok());
  ASSERT_TRUE(ledger_->Write([&](LedgerTransaction& txn) -> absl::Status {
    GrantRecord g = **txn.Find(id);
    g.firm_data = old_format;
    return txn.Put(g);
  }).ok());
  audit = AuditGrant(*ledger_, id);
  ASSERT_TRUE(audit.ok()) << audit.status();
  EXPECT_TRUE(audit->agrees) << audit->disagreement;
  EXPECT_EQ(audit->replay.benefit_yuan(), "107.05");
}

// Deciding the changed policies in batches (here one policy at a time, but those under a changed
// cap together) leaves exactly the ledger and proposals that the whole night as one batch leaves, over random nights with caps, payments,
// and a cap_group moved from one policy to another in the middle of the cap's year.
TEST_F(LedgerTest, BatchesOfPoliciesDecideAsTheWholeNight) {
  const std::string cap = "grant_cap { id: \"c\" period: YEARLY max_yuan_per_firm: \"300\" }\n";
  Catalog before = Compile(PolicyText("p.a", "grant_period: MONTHLY cap_group: \"c\"") +
                           PolicyText("p.b", "grant_period: QUARTERLY cap_group: \"c\"") + PolicyText("p.c") +
                           PolicyText("p.d", "grant_period: MONTHLY") + cap);
  Catalog after = Compile(PolicyText("p.a", "grant_period: MONTHLY") +
                          PolicyText("p.b", "grant_period: QUARTERLY cap_group: \"c\"") +
                          PolicyText("p.c", "cap_group: \"c\"") + PolicyText("p.d", "grant_period: MONTHLY") + cap);
  auto other = OpenSqliteLedger((dir_ / "batched.db").string(), LedgerMode::kReadWrite);
  ASSERT_TRUE(other.ok()) << other.status();
  LedgerStore* ledgers[2] = {ledger_.get(), other->get()};
  std::mt19937 rng(4242);
  std::vector<int64_t> revenue(10);
  for (auto& r : revenue) r = rng() % 2500;
  absl::CivilDay day(2023, 1, 1);
  for (int night = 0; night < 30; ++night, day += 1 + rng() % 12) {
    std::vector<Firm> firms;
    for (size_t f = 0; f < revenue.size(); ++f) {
      if (rng() % 4 == 0) revenue[f] = rng() % 2500;
      if (rng() % 10 != 0) firms.push_back(FirmWith(static_cast<int>(f) + 1, revenue[f]));
    }
    const Catalog& c = night < 15 ? before : after;
    const std::string date = FormatDate(day);
    const uint32_t seed = rng();
    for (int l = 0; l < 2; ++l) {
      NightOn(*ledgers[l], c, firms, date.c_str(), l == 0 ? 0 : 1);
      // The same clerk steps on both.
      std::mt19937 steps(seed);
      for (const char* p : {"p.a", "p.b", "p.c", "p.d"}) {
        if (steps() % 2) (void)PublishGrants(*ledgers[l], p, day, [](absl::CivilDay d, int) { return d; });
      }
      auto approved = ApproveGrants(*ledgers[l], day);
      ASSERT_TRUE(approved.ok());
      std::vector<Payment> pay;
      for (const GrantRecord& g : *approved) {
        if (steps() % 3) pay.push_back({2, g.id, FenToYuan(g.amount_fen), date, "R"});
      }
      ASSERT_TRUE(RecordPayments(*ledgers[l], pay).ok());
    }
    ASSERT_EQ(Dump(*ledgers[1]), Dump(*ledgers[0])) << date;
    std::map<std::string, int64_t> cap_total;  // paid and pending, per cap period and firm
    absl::StatusOr<std::vector<GrantWithHistory>> listed = ListGrants(*ledgers[1], GrantQuery());
    ASSERT_TRUE(listed.ok()) << listed.status();
    for (const GrantWithHistory& gh : *listed) {
      const GrantRecord& g = gh.grant;
      if (g.cap_key.empty() || g.state == GrantState::kWithdrawn || g.state == GrantState::kRecovered) continue;
      cap_total[g.cap_key + "|" + g.credit_code] += g.state == GrantState::kPaid ? g.paid_fen : g.amount_fen;
    }
    for (const auto& [key, total] : cap_total) ASSERT_LE(total, 30000) << key << " on " << date;
    auto one = ProposalsCsv(*ledgers[0], date), batched = ProposalsCsv(*ledgers[1], date);
    ASSERT_TRUE(one.ok() && batched.ok());
    ASSERT_EQ(*batched, *one) << date;
  }
  EXPECT_NE(Dump(*ledgers[0]).find("|c/2023|"), std::string::npos);
}

// A steady night reads no grant of a policy whose rules and eligible firms did not change; a step
// on one of its grants makes the next night look again (here: a decline frees the cap's room).
TEST_F(LedgerTest, SteadyNightsSkipUnchangedPoliciesUntilAStepChangesThem) {
  Catalog c = Compile(PolicyText("p.a", "cap_group: \"c\"") + PolicyText("p.b", "cap_group: \"c\"") +
                      PolicyText("p.z") + "grant_cap { id: \"c\" period: YEARLY max_yuan_per_firm: \"100\" }\n");
  std::vector<Firm> firms = {FirmWith(1, 1000)};
  LedgerNightCounts first = Night(c, firms, "2023-03-01");
  EXPECT_EQ(first.proposed, 2);  // p.a takes the whole cap: p.b has no grant
  EXPECT_EQ(first.policies_changed, 3);
  LedgerNightCounts steady = Night(c, firms, "2023-03-02");
  EXPECT_EQ(steady.policies_changed, 0);
  EXPECT_EQ(steady.grants_scanned, 0);
  ASSERT_TRUE(RecordActions(*ledger_, {{ClerkStep::kDecline, "p.a/" + Code(1) + "/ONCE", Day("2023-03-03"), ""}}).ok());
  LedgerNightCounts after = Night(c, firms, "2023-03-04");
  EXPECT_EQ(after.policies_changed, 2);  // p.a and, through the cap, p.b; not p.z
  EXPECT_EQ(after.proposed, 1);
  EXPECT_EQ(Get("p.b/" + Code(1) + "/ONCE")->amount_fen, 10000);
  // A changed amount is seen the next night.
  EXPECT_EQ(Night(c, {FirmWith(1, 2000)}, "2023-03-05").changed, 2);
  EXPECT_EQ(Get("p.z/" + Code(1) + "/ONCE")->amount_fen, 20000);
  EXPECT_EQ(Get("p.b/" + Code(1) + "/ONCE")->amount_fen, 10000);  // at the cap, uncapped 200
  EXPECT_EQ(Get("p.b/" + Code(1) + "/ONCE")->uncapped_fen, 20000);
}

// A ledger of schema version 2 (as polmatch wrote it before: a period index, a cap index over
// every grant) is migrated when a read-write command opens it: the data stays, the indexes change,
// and a read-only opener asks for that migration first.
TEST_F(LedgerTest, SchemaVersion2IsMigrated) {
  Catalog c = Compile(PolicyText("p.a", "cap_group: \"c\"") + PolicyText("p.b") +
                      "grant_cap { id: \"c\" period: YEARLY max_yuan_per_firm: \"1万\" }\n");
  Night(c, {FirmWith(1, 1000), FirmWith(2, 2000)}, "2023-06-01");
  const std::string before = Dump(*ledger_);
  ledger_.reset();
  const std::string path = (dir_ / "grants.db").string();
  auto sql = [&](const std::string& statements) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, statements.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  };
  auto query = [&](const std::string& statement) {
    std::string out;
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, statement.c_str(), -1, &st, nullptr), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) absl::StrAppend(&out, reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), ";");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  };
  sql("DROP INDEX grants_cap; CREATE INDEX grants_cap ON grants(cap_key); CREATE INDEX grants_period ON "
      "grants(period); DROP TABLE proposals_memo; DELETE FROM migrations WHERE version >= 3; PRAGMA user_version = 2;");
  EXPECT_EQ(query("PRAGMA user_version"), "2;");
  auto read_only = OpenSqliteLedger(path, LedgerMode::kReadOnly);
  EXPECT_TRUE(absl::IsFailedPrecondition(read_only.status())) << read_only.status();

  auto reopened = OpenSqliteLedger(path, LedgerMode::kReadWrite);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ledger_ = std::move(*reopened);
  EXPECT_EQ(query("PRAGMA user_version"), "4;");
  EXPECT_EQ(query("SELECT version FROM migrations ORDER BY version"), "1;2;3;4;");
  EXPECT_EQ(query("SELECT count(*) FROM proposals_memo"), "0;");
  EXPECT_EQ(query("SELECT name FROM sqlite_master WHERE name = 'grants_period'"), "");
  EXPECT_NE(query("SELECT sql FROM sqlite_master WHERE name = 'grants_cap'").find("WHERE cap_key != ''"), std::string::npos);
  EXPECT_EQ(Dump(*ledger_), before);
  // The nightly scan still finds the grants under the cap and of the policies.
  GrantQuery q;
  q.policy_ids = {"p.b"};
  q.periods = {"ONCE"};
  q.cap_keys = {"c/2023"};
  std::vector<std::string> ids;
  ASSERT_TRUE(ledger_->Read([&](LedgerTransaction& txn) -> absl::Status {
    auto found = txn.Query(q);
    if (!found.ok()) return found.status();
    for (const GrantRecord& g : *found) ids.push_back(g.id);
    return absl::OkStatus();
  }).ok());
  EXPECT_EQ(ids, (std::vector<std::string>{"p.a/" + Code(1) + "/ONCE", "p.a/" + Code(2) + "/ONCE",
                                           "p.b/" + Code(1) + "/ONCE", "p.b/" + Code(2) + "/ONCE"}));
  EXPECT_EQ(Night(c, {FirmWith(1, 1000), FirmWith(2, 2000)}, "2023-06-02").policies_changed, 0);
}

TEST_F(LedgerTest, HistoryIsAppendOnly) {
  Catalog c = Compile(PolicyText("p.once"));
  Night(c, {FirmWith(1, 1000)}, "2023-06-01");
  auto db = OpenSqliteLedger((dir_ / "grants.db").string(), LedgerMode::kReadOnly);
  ASSERT_TRUE(db.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition((*db)->Write([](LedgerTransaction&) { return absl::OkStatus(); })));
}

// Random nights of random registry changes, payments and clerk steps: no (policy, firm, period)
// is ever paid twice beyond its entitlement, and no cap is ever exceeded.
TEST_F(LedgerTest, PropertyNothingPaidTwiceAndNoCapExceeded) {
  Catalog c = Compile(PolicyText("p.a", "grant_period: MONTHLY cap_group: \"c\"") +
                      PolicyText("p.b", "grant_period: QUARTERLY cap_group: \"c\"") + PolicyText("p.c") +
                      "grant_cap { id: \"c\" period: YEARLY max_yuan_per_firm: \"500\" }\n");
  std::mt19937 rng(20231);
  std::vector<int64_t> revenue(12);
  for (auto& r : revenue) r = rng() % 3000;
  absl::CivilDay day(2023, 1, 1);
  for (int night = 0; night < 60; ++night, day += 1 + rng() % 9) {
    std::vector<Firm> firms;
    for (size_t f = 0; f < revenue.size(); ++f) {
      if (rng() % 4 == 0) revenue[f] = rng() % 3000;
      if (rng() % 10 != 0) firms.push_back(FirmWith(static_cast<int>(f) + 1, revenue[f]));
    }
    const std::string date = FormatDate(day);
    Night(c, firms, date.c_str());
    for (const char* p : {"p.a", "p.b", "p.c"}) {
      if (rng() % 2) (void)PublishGrants(*ledger_, p, day, [](absl::CivilDay d, int) { return d; });
    }
    for (const GrantRecord& g : All()) {
      if (g.state == GrantState::kPublished && rng() % 5 == 0) {
        (void)RecordActions(*ledger_, {{rng() % 2 ? ClerkStep::kObject : ClerkStep::kDecline, g.id, day, ""}});
      } else if (g.state == GrantState::kObjected) {
        (void)RecordActions(*ledger_, {{rng() % 2 ? ClerkStep::kDismiss : ClerkStep::kUphold, g.id, day, ""}});
      }
    }
    auto approved = ApproveGrants(*ledger_, day);
    ASSERT_TRUE(approved.ok());
    std::vector<Payment> pay;
    for (const GrantRecord& g : *approved) {
      if (rng() % 3) pay.push_back({2, g.id, FenToYuan(g.amount_fen), date, "R"});
    }
    if (!pay.empty()) pay.push_back(pay.front());  // a payment file listing one grant twice
    ASSERT_TRUE(RecordPayments(*ledger_, pay).ok());

    // The invariants, over the whole ledger.
    std::map<std::string, int64_t> paid_by_base, entitled_by_base, cap_total;
    for (const GrantRecord& g : All()) {
      const std::string base = g.base_id.empty() ? g.id : g.base_id;
      if (g.state == GrantState::kPaid || g.state == GrantState::kRecovered) {
        paid_by_base[base] += g.paid_fen;
        entitled_by_base[base] = std::max(entitled_by_base[base], g.entitlement_fen);
        int payments = 0;
        for (const HistoryEntry& h : History(g.id)) payments += h.event == "PAID";
        ASSERT_EQ(payments, 1) << g.id;
      }
      if (!g.cap_key.empty() && g.state != GrantState::kWithdrawn && g.state != GrantState::kRecovered) {
        cap_total[g.cap_key + "|" + g.credit_code] += g.state == GrantState::kPaid ? g.paid_fen : g.amount_fen;
      }
    }
    for (const auto& [base, paid] : paid_by_base) {
      ASSERT_LE(paid, entitled_by_base[base]) << base << " on " << date;
    }
    for (const auto& [key, total] : cap_total) ASSERT_LE(total, 50000) << key << " on " << date;
  }
}

// Readers see one committed state or the next, never a half-written night.
TEST_F(LedgerTest, ReadersDuringAWriterSeeWholeNights) {
  Catalog c = Compile(PolicyText("p.m", "grant_period: MONTHLY"));
  std::vector<Firm> firms;
  for (int i = 1; i <= 200; ++i) firms.push_back(FirmWith(i, 1000 + i));
  auto reader = OpenSqliteLedger((dir_ / "grants.db").string(), LedgerMode::kReadOnly);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, torn{0}, errors{0};
  std::thread t([&] {
    while (!done) {
      absl::StatusOr<std::vector<GrantWithHistory>> all = ListGrants(**reader, GrantQuery());
      if (!all.ok()) {
        ++errors;
        continue;
      }
      ++reads;
      if (all->size() % 200 != 0) ++torn;
      for (const auto& g : *all) {
        if (g.history.empty()) ++torn;
      }
    }
  });
  absl::CivilDay day(2023, 1, 1);
  for (int month = 0; month < 12; ++month, day = absl::CivilDay(absl::CivilMonth(day) + 1)) {
    Night(c, firms, FormatDate(day).c_str());
  }
  done = true;
  t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(All().size(), 2400u);
}

}  // namespace
}  // namespace polmatch
