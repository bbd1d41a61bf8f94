#include "engine/index/firm_store.h"

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/index/firm_rows.h"
#include "engine/index/snapshot.h"
#include "engine/util/dates.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using testing::MakeFirm;
using testing::MakeProfile;
using testing::RealTaxonomy;

std::vector<Firm> SampleFirms() {
  std::vector<Firm> firms;
  auto add = [&](const std::string& region, int serial, const std::string& industry) {
    FirmProfile p = MakeProfile(region, serial, industry);
    (*p.mutable_facts())["revenue"] = std::to_string(serial * 1000) + ".5";
    if (serial % 2 == 0) (*p.mutable_facts())["employees"] = "12";
    TagGrant* g = p.add_tags();
    g->set_id("qual.hitech");
    if (serial % 3 == 0) g->set_valid_to("2024-12-31");
    firms.push_back(MakeFirm(p));
  };
  add("441502", 5, "I65");
  add("440802", 9, "C13");
  add("440811", 2, "");
  add("440802", 3, "I6513");
  add("420111", 7, "C26");
  add("440000", 4, "C13");
  add("441521", 1, "M");
  return firms;
}

TEST(FirmStoreTest, RowsOrderedByRegionThenCreditCode) {
  const std::vector<Firm> firms = SampleFirms();
  absl::StatusOr<FirmStore> s = FirmStore::Build(firms, RealTaxonomy());
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->num_rows(), firms.size());
  EXPECT_EQ(s->padded_rows() % kBlockRows, 0u);
  for (uint32_t r = 1; r < s->num_rows(); ++r) {
    const std::string prev = std::string(s->region(r - 1)) + std::string(s->credit_code(r - 1));
    const std::string cur = std::string(s->region(r)) + std::string(s->credit_code(r));
    EXPECT_LT(prev, cur);
  }
  for (uint32_t r = 0; r < s->num_rows(); ++r) {
    const Firm& f = firms[s->source_index(r)];
    EXPECT_EQ(s->credit_code(r), f.credit_code);
    EXPECT_EQ(s->region(r), f.region);
    EXPECT_EQ(s->industry(r), f.industry);
    EXPECT_EQ(s->name(r), f.name);
    EXPECT_EQ(s->founded(r), f.founded);
  }
}

TEST(FirmStoreTest, RegionRangesFollowUnder) {
  const std::vector<Firm> firms = SampleFirms();
  absl::StatusOr<FirmStore> s = FirmStore::Build(firms, RealTaxonomy());
  ASSERT_TRUE(s.ok());
  for (const char* code : {"440000", "440800", "440802", "440811", "441500", "441502", "420100",
                           "420111", "110000", "441521", "440801"}) {
    const RowRange range = s->RegionRange(code);
    for (uint32_t r = 0; r < s->num_rows(); ++r) {
      const bool inside = r >= range.begin && r < range.end;
      EXPECT_EQ(inside, Taxonomy::RegionUnder(s->region(r), code)) << code << " row " << r;
    }
    const RowRange exact = s->RegionExactRange(code);
    for (uint32_t r = 0; r < s->num_rows(); ++r) {
      EXPECT_EQ(r >= exact.begin && r < exact.end, s->region(r) == code) << code;
    }
  }
  EXPECT_EQ(s->RegionRange("440800").size(), 3u);  // 440802 ×2, 440811
  EXPECT_EQ(s->RegionRange("440000").size(), 6u);  // and 440000 itself, 441502, 441521
  EXPECT_TRUE(s->RegionRange("4408").empty());
  EXPECT_TRUE(s->UnknownRegionRange().empty());
}

TEST(FirmStoreTest, IndustryDictionaryInCodeOrder) {
  const std::vector<Firm> firms = SampleFirms();
  absl::StatusOr<FirmStore> s = FirmStore::Build(firms, RealTaxonomy());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->industry_code(0), "");
  for (int id = 2; id < s->num_industry_codes(); ++id) {
    EXPECT_LT(s->industry_code(id - 1), s->industry_code(id));
  }
  EXPECT_EQ(s->num_industry_codes(), 6);  // "", C13, C26, I65, I6513, M
  for (uint32_t r = 0; r < s->num_rows(); ++r) {
    EXPECT_EQ(s->industry_code(s->industry_ids()[r]), firms[s->source_index(r)].industry);
  }
}

TEST(FirmStoreTest, FindRowAndFacts) {
  const std::vector<Firm> firms = SampleFirms();
  absl::StatusOr<FirmStore> s = FirmStore::Build(firms, RealTaxonomy());
  ASSERT_TRUE(s.ok());
  const FactId revenue = *RealTaxonomy().FindFact("revenue");
  const FactId employees = *RealTaxonomy().FindFact("employees");
  for (size_t i = 0; i < firms.size(); ++i) {
    std::optional<uint32_t> row = s->FindRow(firms[i].credit_code);
    ASSERT_TRUE(row.has_value());
    EXPECT_EQ(s->source_index(*row), i);
    EXPECT_EQ(s->fact(*row, revenue), firms[i].facts[revenue.value]);
    EXPECT_EQ(s->fact(*row, employees), firms[i].facts[employees.value]);  // unknown stays unknown
    // Columns agree with the accessors.
    EXPECT_EQ(TestBit(s->fact_known(employees), *row), firms[i].facts[employees.value].has_value());
    if (firms[i].facts[revenue.value]) {
      EXPECT_EQ(s->fact_values(revenue)[*row], firms[i].facts[revenue.value]->raw());
    }
    const Firm back = s->ToFirm(*row);
    EXPECT_EQ(back.facts, firms[i].facts);
    ASSERT_EQ(back.tags.size(), firms[i].tags.size());
    EXPECT_EQ(back.tags[0].valid_to, firms[i].tags[0].valid_to);
  }
  EXPECT_FALSE(s->FindRow("91440800MA4UJH1X2Q").has_value());
  EXPECT_FALSE(s->FindRow("short").has_value());
  // Padding rows are unknown.
  EXPECT_FALSE(TestBit(s->fact_known(revenue), s->num_rows()));
  EXPECT_EQ(s->industry_ids()[s->num_rows()], 0);
}

TEST(FirmStoreTest, TagGrantsSortedByRow) {
  const std::vector<Firm> firms = SampleFirms();
  absl::StatusOr<FirmStore> s = FirmStore::Build(firms, RealTaxonomy());
  ASSERT_TRUE(s.ok());
  const TagGrantColumn g = s->grants(*RealTaxonomy().FindTag("qual.hitech"));
  ASSERT_EQ(g.size, firms.size());
  for (size_t k = 0; k < g.size; ++k) {
    if (k > 0) {
      EXPECT_LT(g.rows[k - 1], g.rows[k]);
    }
    EXPECT_EQ(g.from[k], kOpenFrom);
    const Firm& f = firms[s->source_index(g.rows[k])];
    EXPECT_EQ(g.to[k], f.tags[0].valid_to ? DayNumber(*f.tags[0].valid_to) : kOpenTo);
  }
  EXPECT_EQ(s->grants(*RealTaxonomy().FindTag("credit.blacklist")).size, 0u);
}

TEST(FirmStoreTest, EmptyAndUnknownRegion) {
  absl::StatusOr<FirmStore> empty = FirmStore::Build({}, RealTaxonomy());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->num_rows(), 0u);
  EXPECT_TRUE(empty->RegionRange("440000").empty());

  std::vector<Firm> firms = SampleFirms();
  firms[2].region = "";
  absl::StatusOr<FirmStore> s = FirmStore::Build(firms, RealTaxonomy());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->UnknownRegionRange(), (RowRange{0, 1}));
  EXPECT_EQ(s->region(0), "");
  EXPECT_EQ(s->credit_code(0), firms[2].credit_code);

  firms[3].region = "4408";
  EXPECT_FALSE(FirmStore::Build(firms, RealTaxonomy()).ok());
}

// Random firms with every kind of column: unknown and known facts (negative, zero, large), an
// unknown region and industry, names empty and Chinese, founding dates or none, several grants of
// one tag, open and closed validity.
std::vector<Firm> RandomFirms(std::mt19937_64& rng, size_t n, const Taxonomy& tax) {
  const char* const regions[] = {"", "110000", "420111", "440000", "440802", "440811", "441502", "441521"};
  const char* const industries[] = {"", "C", "C13", "C1310", "I65", "I6513", "M", "Z999999"};
  const char* const names[] = {"", "甲公司", "湛江某某科技有限公司", "a", "合伙企业（有限合伙）"};
  auto pick = [&](size_t k) { return static_cast<size_t>(rng() % k); };
  std::set<std::string> codes;
  std::vector<Firm> firms;
  while (firms.size() < n) {
    Firm f;
    f.credit_code.resize(FirmStore::kCreditCodeLen);
    for (char& c : f.credit_code) c = "0123456789ABCDEFGHJKLMNPQRTUWXY"[pick(31)];
    if (!codes.insert(f.credit_code).second) continue;
    f.name = absl::StrCat(names[pick(5)], pick(3) == 0 ? "" : absl::StrCat(pick(1000)));
    f.region = regions[pick(8)];
    f.industry = industries[pick(8)];
    if (pick(4) != 0) f.founded = absl::CivilDay(1980 + static_cast<int>(pick(45)), 1 + static_cast<int>(pick(12)), 1 + static_cast<int>(pick(28)));
    for (int k = 0; k < tax.num_facts(); ++k) {
      switch (pick(5)) {
        case 0: f.facts.push_back(std::nullopt); break;
        case 1: f.facts.push_back(*Decimal::FromInt(0)); break;
        case 2: f.facts.push_back(*Decimal::FromInt(-static_cast<int64_t>(pick(100000)))); break;
        default: f.facts.push_back(Decimal::FromRawUnchecked(static_cast<int64_t>(pick(1ULL << 50)))); break;
      }
    }
    for (size_t g = pick(4); g > 0; --g) {
      TagGrantRecord r;
      r.tag = TagId(static_cast<uint32_t>(pick(static_cast<size_t>(tax.num_tags()))));
      if (pick(2) == 0) r.valid_from = absl::CivilDay(2020 + static_cast<int>(pick(4)), 1, 1);
      if (pick(2) == 0) r.valid_to = absl::CivilDay(2024 + static_cast<int>(pick(4)), 12, 31);
      f.tags.push_back(r);
      if (pick(3) == 0) f.tags.push_back(f.tags.back());  // the same grant twice
    }
    firms.push_back(std::move(f));
  }
  return firms;
}

// The store of `rows` the long way round: their firms in credit-code order, built again (what
// `batch --shard` did before SelectRows, and what `index --shard` writes).
FirmStore RebuiltStore(const FirmStore& s, const std::vector<uint32_t>& rows, const Taxonomy& tax) {
  std::vector<bool> keep(s.num_rows(), false);
  for (uint32_t r : rows) keep[r] = true;
  std::vector<Firm> firms;
  for (uint32_t r : s.rows_by_code()) {
    if (keep[r]) firms.push_back(s.ToFirm(r));
  }
  return *FirmStore::Build(firms, tax);
}

// SelectRows copies columns; it must give the very snapshot bytes the Firm round trip gives, for
// any selection (none, all, sparse, dense, a shard), from a built store and from one read back
// from a snapshot (its columns views of the bytes), on one thread and two.
TEST(FirmStoreTest, SelectRowsEqualsRebuildingTheFirms) {
  const Taxonomy& tax = RealTaxonomy();
  std::mt19937_64 rng(18);
  for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{300}, size_t{20000}}) {
    std::vector<Firm> firms = RandomFirms(rng, n, tax);
    absl::StatusOr<FirmStore> built = FirmStore::Build(firms, tax);
    ASSERT_TRUE(built.ok()) << built.status();
    const std::string bytes = SerializeSnapshot(*built, tax);
    absl::StatusOr<FirmStore> mapped = ParseSnapshot(bytes, tax);
    ASSERT_TRUE(mapped.ok()) << mapped.status();
    std::vector<std::pair<std::string, std::vector<uint32_t>>> cuts;
    cuts.push_back({"none", {}});
    std::vector<uint32_t> all(n);
    for (uint32_t r = 0; r < n; ++r) all[r] = r;
    cuts.push_back({"all", all});
    for (uint32_t every : {2u, 3u, 97u}) {
      std::vector<uint32_t> rows;
      for (uint32_t r = 0; r < n; ++r) {
        if (rng() % every == 0) rows.push_back(r);
      }
      cuts.push_back({absl::StrCat("1 in ", every), rows});
    }
    std::vector<uint32_t> all_but_last(all.begin(), all.end() - (n > 0 ? 1 : 0));
    cuts.push_back({"all but the last", all_but_last});
    for (const auto& [what, rows] : cuts) {
      const std::string want = SerializeSnapshot(RebuiltStore(*built, rows, tax), tax);
      for (const FirmStore* from : {&*built, &*mapped}) {
        for (int threads : {1, 2}) {
          const FirmStore cut = from->SelectRows(rows, threads);
          EXPECT_EQ(cut.num_rows(), rows.size());
          EXPECT_TRUE(SerializeSnapshot(cut, tax) == want)
              << n << " firms, " << what << ", " << (from == &*built ? "built" : "read back") << ", threads "
              << threads << ": snapshot bytes differ";
        }
      }
    }
  }
}

// FirmRows (the store by row, for single-firm reads) says what the columns say, row by row:
// every fact known or not and its value, the founding date, the industry, every tag grant.
TEST(FirmRowsTest, EqualsTheStore) {
  std::vector<Firm> firms = SampleFirms();
  const Taxonomy& tax = RealTaxonomy();
  for (size_t i = 0; i < firms.size(); ++i) {  // every fact known in one firm, none in another
    for (int k = 0; k < tax.num_facts(); ++k) {
      if (i == 1) firms[i].facts[k] = Decimal::FromInt(static_cast<int64_t>(k) * 1000 + 7);
      if (i == 2) firms[i].facts[k].reset();
    }
  }
  firms[3].founded.reset();
  TagGrantRecord extra;
  extra.tag = *tax.FindTag("stat.above_scale");
  extra.valid_from = absl::CivilDay(2023, 1, 1);
  firms[4].tags.push_back(extra);
  absl::StatusOr<FirmStore> s = FirmStore::Build(firms, tax);
  ASSERT_TRUE(s.ok());
  const FirmRows rows = FirmRows::Build(*s);
  ASSERT_EQ(rows.num_rows(), s->num_rows());
  EXPECT_EQ(rows.stride() % 64, 0u);
  for (uint32_t r = 0; r < s->num_rows(); ++r) {
    const Firm want = s->ToFirm(r);
    const FirmRows::Record& rec = rows.record(r);
    EXPECT_EQ(s->industry_code(rec.industry), want.industry) << r;
    EXPECT_EQ(rows.founded(rec), want.founded) << r;
    for (int k = 0; k < s->num_facts(); ++k) EXPECT_EQ(rows.fact(rec, k), want.facts[k]) << r << " fact " << k;
    ASSERT_EQ(rec.num_grants, want.tags.size()) << r;
    for (uint32_t g = 0; g < rec.num_grants; ++g) {
      const FirmRows::Grant& got = rows.grants(rec)[g];
      EXPECT_EQ(TagId(got.tag), want.tags[g].tag);
      EXPECT_EQ(got.from == kOpenFrom ? std::nullopt : std::optional<absl::CivilDay>(DayFromNumber(got.from)),
                want.tags[g].valid_from);
      EXPECT_EQ(got.to == kOpenTo ? std::nullopt : std::optional<absl::CivilDay>(DayFromNumber(got.to)),
                want.tags[g].valid_to);
    }
  }
  EXPECT_EQ(FirmRows::Build(*FirmStore::Build({}, tax)).num_rows(), 0u);
}

}  // namespace
}  // namespace polmatch
