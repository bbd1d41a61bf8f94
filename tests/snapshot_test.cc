// The snapshot file: round trip, corruption and truncation refused, remapping to a newer tag
// library.
#include "engine/index/snapshot.h"

#include <unistd.h>

#include <cstdio>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using testing::MakeFirm;
using testing::MakeProfile;
using testing::RealTaxonomy;

std::vector<Firm> SomeFirms() {
  std::vector<Firm> firms;
  const char* regions[] = {"441502", "440802", "420102", "411102", "440803"};
  for (int i = 0; i < 300; ++i) {
    FirmProfile p = MakeProfile(regions[i % 5], 1000 + i, i % 3 ? "I6513" : "C13",
                                i % 7 ? "2015-06-01" : "");
    if (i % 2) (*p.mutable_facts())["revenue"] = std::to_string(i * 1000) + ".25";
    if (i % 3) (*p.mutable_facts())["employees"] = std::to_string(i);
    p.set_name("企业" + std::to_string(i));
    if (i % 4 == 0) {
      auto* t = p.add_tags();
      t->set_id("qual.hitech");
      t->set_valid_from("2021-01-01");
      t->set_valid_to("2023-12-31");
    }
    if (i % 11 == 0) p.add_tags()->set_id("org.new_rd_institution.public_interest");
    firms.push_back(MakeFirm(p));
  }
  return firms;
}

void ExpectSameFirm(const Firm& a, const Firm& b) {
  EXPECT_EQ(a.credit_code, b.credit_code);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.region, b.region);
  EXPECT_EQ(a.industry, b.industry);
  EXPECT_EQ(a.founded, b.founded);
  EXPECT_EQ(a.facts, b.facts);
  ASSERT_EQ(a.tags.size(), b.tags.size());
}

TEST(SnapshotTest, RoundTrips) {
  const Taxonomy& tax = RealTaxonomy();
  absl::StatusOr<FirmStore> store = FirmStore::Build(SomeFirms(), tax);
  ASSERT_TRUE(store.ok()) << store.status();
  const std::string bytes = SerializeSnapshot(*store, tax);
  absl::StatusOr<FirmStore> back = ParseSnapshot(bytes, tax);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->num_rows(), store->num_rows());
  for (uint32_t row = 0; row < store->num_rows(); ++row) {
    ExpectSameFirm(back->ToFirm(row), store->ToFirm(row));
  }
  EXPECT_EQ(SerializeSnapshot(*back, tax), bytes);
  EXPECT_EQ(back->FindRow(store->credit_code(7)), std::optional<uint32_t>(7));
}

// A file read in place (columns are views of the mapping) and one copied out give the same
// store; the in-place store outlives a new snapshot renamed over its file (what `index` does),
// and a store moved elsewhere keeps the mapping alive.
TEST(SnapshotTest, InPlaceAndCopiedReadsAgree) {
  const Taxonomy& tax = RealTaxonomy();
  absl::StatusOr<FirmStore> store = FirmStore::Build(SomeFirms(), tax);
  ASSERT_TRUE(store.ok());
  const std::string path = ::testing::TempDir() + "/inplace_" + std::to_string(::getpid()) + ".snap";
  ASSERT_TRUE(WriteSnapshotFile(path, *store, tax).ok());
  absl::StatusOr<FirmStore> copied = ReadSnapshotFile(path, tax, SnapshotLoad::kCopy);
  absl::StatusOr<FirmStore> in_place = ReadSnapshotFile(path, tax, SnapshotLoad::kInPlace);
  ASSERT_TRUE(copied.ok()) << copied.status();
  ASSERT_TRUE(in_place.ok()) << in_place.status();
  const std::string bytes = SerializeSnapshot(*store, tax);
  EXPECT_EQ(SerializeSnapshot(*copied, tax), bytes);
  EXPECT_EQ(SerializeSnapshot(*in_place, tax), bytes);

  // Replace the file as `polmatch index` does (a new file renamed over it).
  absl::StatusOr<FirmStore> other = FirmStore::Build({SomeFirms()[0]}, tax);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(WriteSnapshotFile(path, *other, tax).ok());
  FirmStore moved = std::move(*in_place);
  in_place = absl::UnknownError("moved");
  EXPECT_EQ(SerializeSnapshot(moved, tax), bytes);
  for (uint32_t row = 0; row < store->num_rows(); row += 17) {
    ExpectSameFirm(moved.ToFirm(row), store->ToFirm(row));
  }
  std::remove(path.c_str());
}

// DropPages (batch --shard, once its cut is copied) only lets the pages go: a store still reading
// the mapping faults them in again and reads the same bytes, and Verify still passes.
TEST(SnapshotTest, DroppedPagesAreReadAgain) {
  const Taxonomy& tax = RealTaxonomy();
  absl::StatusOr<FirmStore> store = FirmStore::Build(SomeFirms(), tax);
  ASSERT_TRUE(store.ok());
  const std::string path = ::testing::TempDir() + "/dropped_" + std::to_string(::getpid()) + ".snap";
  ASSERT_TRUE(WriteSnapshotFile(path, *store, tax).ok());
  std::shared_ptr<const SnapshotSource> source;
  absl::StatusOr<FirmStore> in_place = ReadSnapshotFile(path, tax, SnapshotLoad::kInPlace, &source);
  ASSERT_TRUE(in_place.ok()) << in_place.status();
  ASSERT_NE(source, nullptr);
  const std::string bytes = SerializeSnapshot(*store, tax);
  EXPECT_EQ(SerializeSnapshot(*in_place, tax), bytes);
  source->DropPages();
  EXPECT_EQ(SerializeSnapshot(*in_place, tax), bytes);
  EXPECT_TRUE(source->Verify().ok());
  std::remove(path.c_str());
}

TEST(SnapshotTest, CorruptionAndTruncationAreRefused) {
  const Taxonomy& tax = RealTaxonomy();
  absl::StatusOr<FirmStore> store = FirmStore::Build(SomeFirms(), tax);
  ASSERT_TRUE(store.ok());
  const std::string bytes = SerializeSnapshot(*store, tax);
  EXPECT_FALSE(ParseSnapshot("", tax).ok());
  EXPECT_FALSE(ParseSnapshot("PMSTATE\n whatever", tax).ok());
  for (size_t cut = 0; cut < bytes.size(); cut += bytes.size() / 97 + 1) {
    absl::StatusOr<FirmStore> r = ParseSnapshot(bytes.substr(0, cut), tax);
    EXPECT_FALSE(r.ok()) << cut;
  }
  for (size_t i = 0; i < bytes.size(); i += bytes.size() / 211 + 1) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x5A);
    absl::StatusOr<FirmStore> r = ParseSnapshot(bad, tax);
    EXPECT_FALSE(r.ok()) << i;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("snapshot"), std::string::npos);
    }
  }
}

TEST(SnapshotTest, RemapsToANewerTagLibrary) {
  const Taxonomy& tax = RealTaxonomy();
  absl::StatusOr<FirmStore> store = FirmStore::Build(SomeFirms(), tax);
  ASSERT_TRUE(store.ok());
  const std::string bytes = SerializeSnapshot(*store, tax);
  // The newer library has one more fact and one more tag, declared first (shifting every id).
  TagLibrary lib;
  CodeList regions, industries;
  lib.add_fact()->set_id("aaa_new_fact");
  auto* t = lib.add_tag();
  t->set_id("aaa.new_tag");
  for (int i = 0; i < tax.num_tags(); ++i) {
    auto* d = lib.add_tag();
    d->set_id(tax.tag(TagId(i)).id);
    if (tax.tag(TagId(i)).parent) d->set_parent(tax.tag(*tax.tag(TagId(i)).parent).id);
  }
  for (int i = 0; i < tax.num_facts(); ++i) lib.add_fact()->set_id(tax.fact(FactId(i)).id);
  for (const std::string& code : tax.RegionCodes()) regions.add_code()->set_code(code);
  for (const std::string& code : tax.IndustryCodes()) industries.add_code()->set_code(code);
  Diagnostics diags;
  absl::StatusOr<Taxonomy> newer = Taxonomy::FromProtos(lib, regions, industries, &diags);
  ASSERT_TRUE(newer.ok()) << newer.status();
  absl::StatusOr<FirmStore> back = ParseSnapshot(bytes, *newer);
  ASSERT_TRUE(back.ok()) << back.status();
  const FactId revenue_old = *tax.FindFact("revenue");
  const FactId revenue_new = *newer->FindFact("revenue");
  const FactId added = *newer->FindFact("aaa_new_fact");
  for (uint32_t row = 0; row < back->num_rows(); ++row) {
    EXPECT_EQ(back->fact(row, revenue_new), store->fact(row, revenue_old));
    EXPECT_FALSE(back->fact(row, added).has_value());
  }
  EXPECT_EQ(back->grants(*newer->FindTag("qual.hitech")).size,
            store->grants(*tax.FindTag("qual.hitech")).size);
  EXPECT_EQ(back->grants(*newer->FindTag("aaa.new_tag")).size, 0u);
}

}  // namespace
}  // namespace polmatch
