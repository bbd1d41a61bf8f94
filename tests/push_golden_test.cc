// The demo nights' pushes as a firm reads them (SPEC §5): a golden excerpt with every change kind,
// every pushed status and every revocation reason; every message, missing condition, lost
// condition and data name (and every text_zh / explanation_zh of the demo firms' answers) free of
// ids, rule syntax and English; the words the same on one thread or several.
//
// Nights: 2021-06-30 (everything; the 汕尾 and 湖北 2021 measures are in force), 2021-12-31 against
// it with every 97th firm gone from the registry (FIRM_GONE) and every 13th firm's revenue cut to a
// tenth (CHANGED, CONDITION_LOST), 2022-06-30 against that (the 2021 measures have ended:
// POLICY_ENDED; 武汉 2022 is in force).
// To regenerate the golden file after a deliberate change of the demo data, catalogs or wording:
//   POLMATCH_UPDATE_GOLDEN=1 build/tests/polmatch_tests --gtest_filter='PushGolden*'
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/ingest/firm_reader.h"
#include "engine/match/bulk_matcher.h"
#include "engine/match/explain.h"
#include "engine/match/reference.h"
#include "engine/output/night_from.h"
#include "engine/output/push_texts.h"
#include "engine/util/dates.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

struct Night {
  std::unique_ptr<FirmStore> store;
  NightResult result;
  std::string pushes;
};

class PushGoldenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Diagnostics diags;
    absl::StatusOr<Catalog> c = Catalog::LoadDir(testing::RulesDir(), &diags);
    ASSERT_TRUE(c.ok()) << c.status();
    catalog_ = new Catalog(std::move(*c));
    std::vector<Rejection> rejects;
    IngestStats stats;
    absl::StatusOr<std::vector<Firm>> firms =
        LoadFirms({testing::RulesDir() + "/demo/generated_firms.jsonl", testing::RulesDir() + "/demo/notable_firms.jsonl"},
                  catalog_->taxonomy(), &rejects, &stats);
    ASSERT_TRUE(firms.ok()) << firms.status();
    firms_ = new std::vector<Firm>(std::move(*firms));
    // The later nights: every 97th firm gone from the registry, and every 13th firm's revenue
    // updated to a tenth of what it was (so statuses change: CHANGED to NEAR_MISS, and back).
    const std::optional<FactId> revenue = catalog_->taxonomy().FindFact("revenue");
    ASSERT_TRUE(revenue.has_value());
    std::vector<Firm> fewer;
    for (size_t i = 0; i < firms_->size(); ++i) {
      if (i % 97 == 5) continue;
      fewer.push_back((*firms_)[i]);
      std::optional<Decimal>& r = fewer.back().facts[revenue->value];
      if (i % 13 == 3 && r) r = Decimal::FromRawUnchecked(r->raw() / 10);
    }
    nights_ = new std::vector<Night>();
    MakeNight(*firms_, "2021-06-30", nullptr, 2);
    MakeNight(fewer, "2021-12-31", &(*nights_)[0].result, 2);
    MakeNight(fewer, "2022-06-30", &(*nights_)[1].result, 2);
  }
  static void MakeNight(const std::vector<Firm>& firms, const char* as_of, const NightResult* previous, int threads) {
    Night n;
    absl::StatusOr<FirmStore> store = FirmStore::Build(firms, catalog_->taxonomy());
    ASSERT_TRUE(store.ok());
    n.store = std::make_unique<FirmStore>(std::move(*store));
    absl::StatusOr<BulkMatcher> m = BulkMatcher::Create(*catalog_, *n.store);
    ASSERT_TRUE(m.ok());
    const absl::CivilDay day = *ParseDate(as_of);
    n.result = NightFromBulk(*catalog_, *n.store, m->Match(day, 2), day);
    n.pushes = Pushes(n, previous, threads);
    nights_->push_back(std::move(n));
  }
  static std::string Pushes(const Night& n, const NightResult* previous, int threads) {
    const PushTexts texts(*catalog_, *ParseDate(n.result.as_of), n.store.get());
    StreamOptions o;
    o.threads = threads;
    o.push_texts = &texts;
    return PushesJsonl(n.result, previous, o);
  }

  static Catalog* catalog_;
  static std::vector<Firm>* firms_;
  static std::vector<Night>* nights_;
};
Catalog* PushGoldenTest::catalog_ = nullptr;
std::vector<Firm>* PushGoldenTest::firms_ = nullptr;
std::vector<Night>* PushGoldenTest::nights_ = nullptr;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST_F(PushGoldenTest, EveryChangeStatusAndReasonAsGolden) {
  // The first push of each kind (change, status, reason, and for an AUTO_GRANT eligible one
  // whether it has an amount), in night and file order.
  std::map<std::string, std::string> first;
  std::vector<std::string> order;
  for (size_t i = 0; i < nights_->size(); ++i) {
    for (const std::string& line : Lines((*nights_)[i].pushes)) {
      Push p;
      ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &p).ok()) << line;
      const std::string key = absl::StrCat(Push::Change_Name(p.change()), " ", MatchStatus_Name(p.status()), " ",
                                           Push::Reason_Name(p.reason()), p.benefit_yuan().empty() ? "" : " amount");
      if (first.emplace(key, line).second) order.push_back(key);
    }
  }
  for (const char* want : {"NEW ELIGIBLE REASON_UNSPECIFIED amount", "NEW ELIGIBLE REASON_UNSPECIFIED",
                           "NEW NEAR_MISS REASON_UNSPECIFIED", "NEW UNDETERMINED REASON_UNSPECIFIED",
                           "CHANGED ELIGIBLE REASON_UNSPECIFIED", "CHANGED NEAR_MISS REASON_UNSPECIFIED",
                           "REVOKED INELIGIBLE POLICY_ENDED", "REVOKED INELIGIBLE FIRM_GONE",
                           "REVOKED INELIGIBLE CONDITION_LOST"}) {
    EXPECT_TRUE(first.count(want)) << "the demo nights have no push of kind " << want;
  }
  std::string got;
  for (const std::string& k : order) absl::StrAppend(&got, first[k], "\n");
  const std::string path = std::string(POLMATCH_SOURCE_DIR) + "/tests/golden/demo_pushes.jsonl";
  if (std::getenv("POLMATCH_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path) << got;
    GTEST_SKIP() << "wrote " << path;
  }
  std::ifstream in(path);
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(got, want.str()) << "regenerate with POLMATCH_UPDATE_GOLDEN=1 if the change is meant";
}

// What a firm reads has no ids, no rule operators and no English: no two ASCII letters in a row
// (a tag or fact id, a keyword, an English word; a single one occurs in official names such as
// GB/T 4754's 三维（3D）打印技术推广服务), and none of the rule language's operator spellings.
void ExpectReadable(const std::string& text, const std::string& where) {
  static const RE2 kAscii("[A-Za-z]{2}");
  static const RE2 kOperator("(>=|<=|==|!=|&&|\\|\\||[<>!])");
  EXPECT_FALSE(RE2::PartialMatch(text, kAscii)) << where << ": " << text;
  EXPECT_FALSE(RE2::PartialMatch(text, kOperator)) << where << ": " << text;
}

TEST_F(PushGoldenTest, NoIdsRuleSyntaxOrEnglishInWhatAFirmReads) {
  size_t checked = 0;
  for (const Night& n : *nights_) {
    for (const std::string& line : Lines(n.pushes)) {
      Push p;
      ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &p).ok()) << line;
      EXPECT_FALSE(p.message().empty()) << line;
      ExpectReadable(p.message(), line);
      ExpectReadable(p.missing(), line);
      ExpectReadable(p.lost_condition(), line);
      for (const std::string& d : p.data_needed()) ExpectReadable(d, line);
      if (p.status() == NEAR_MISS && p.change() != Push::REVOKED) {
        EXPECT_FALSE(p.missing().empty()) << line;
      }
      if (p.status() == UNDETERMINED && p.change() != Push::REVOKED) {
        EXPECT_FALSE(p.data_needed().empty()) << line;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 10000u);
  // Every demo firm's answer on each night, every policy traced.
  for (const char* as_of : {"2021-06-30", "2023-06-30"}) {
    const ReferenceMatcher matcher(*catalog_);
    for (size_t i = 0; i < firms_->size(); i += 7) {
      const FirmView view((*firms_)[i], catalog_->taxonomy(), *ParseDate(as_of));
      const FirmMatches m = ExplainFirm(*catalog_, view, matcher.EvaluateFirm(view));
      for (const PolicyResult& r : m.results()) {
        ExpectReadable(r.explanation_zh(), r.policy());
        for (const ConditionTrace& c : r.conditions()) ExpectReadable(c.text_zh(), c.text());
      }
    }
  }
}

// Pushes read firms in place from the store: StoreRowView answers as FirmView over the same firm.
TEST_F(PushGoldenTest, StoreRowViewAnswersAsFirmView) {
  const Night& n = (*nights_)[0];
  const Taxonomy& tax = catalog_->taxonomy();
  for (const char* as_of : {"2021-06-30", "2024-01-01"}) {
    const absl::CivilDay day = *ParseDate(as_of);
    for (uint32_t row = 0; row < n.store->num_rows(); ++row) {
      const Firm firm = n.store->ToFirm(row);
      const FirmView a(firm, tax, day);
      const StoreRowView b(*n.store, tax, row, day);
      ASSERT_EQ(a.Region(), b.Region());
      ASSERT_EQ(a.Industry(), b.Industry());
      ASSERT_EQ(a.Founded(), b.Founded());
      for (int f = 0; f < tax.num_facts(); ++f) ASSERT_EQ(a.Fact(FactId(f)), b.Fact(FactId(f)));
      for (int t = 0; t < tax.num_tags(); ++t) {
        ASSERT_EQ(a.HoldsTag(TagId(t)), b.HoldsTag(TagId(t))) << firm.credit_code << " " << tax.tag(TagId(t)).id;
        ASSERT_EQ(a.TagValidFrom(TagId(t)), b.TagValidFrom(TagId(t))) << firm.credit_code;
        ASSERT_EQ(a.TagValidTo(TagId(t)), b.TagValidTo(TagId(t))) << firm.credit_code;
      }
    }
  }
}

TEST_F(PushGoldenTest, SameWordsOnOneThreadOrSeveral) {
  EXPECT_EQ(Pushes((*nights_)[1], &(*nights_)[0].result, 1), (*nights_)[1].pushes);
  EXPECT_EQ(Pushes((*nights_)[0], nullptr, 3), (*nights_)[0].pushes);
}

}  // namespace
}  // namespace polmatch
