// Tests of the compact, parallel index path (engine/ingest/firm_table.h, FirmStore::BuildFromTable,
// the streamed snapshot writer): it must give exactly what LoadFirms + FirmStore::Build +
// SerializeSnapshot give — the same firms, merges, rejections with the same file:line, and the
// same snapshot bytes — for any block size of the parallel reader, including bad lines at block
// boundaries.
#include "engine/ingest/firm_table.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/index/firm_store.h"
#include "engine/index/snapshot.h"
#include "engine/ingest/firm_reader.h"
#include "engine/output/night_shard.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using testing::MakeCreditCode;
using testing::RealTaxonomy;

std::string WriteTempFile(const std::string& name, const std::string& contents) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/firm_table_test_", ::getpid(), "_", name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  return path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const char* const kRegions[] = {"440802", "440803", "420100", "420111", "411100", "441502"};
const char* const kIndustries[] = {"", "C13", "I65", "I6513", "F51", "M7340"};

// A JSON Lines registry with every kind of line: valid records (some repeated, with changed
// facts, names and tags, duplicate grants), blank and CRLF lines, malformed JSON, bad check
// digits, unknown facts, escapes (the protobuf path) and bare numbers.
std::string Registry(int n, int seed) {
  std::string out = seed == 0 ? "\xEF\xBB\xBF" : "";
  for (int i = 0; i < n; ++i) {
    const int serial = (i * 7 + seed * 13) % (n * 2 / 3 + 1);  // repeats → merges
    const std::string code = MakeCreditCode(kRegions[(serial + seed) % 6], serial);
    const int kind = (i * 31 + seed) % 23;
    std::string line;
    if (kind == 0) {
      line = "";  // blank
    } else if (kind == 1) {
      line = R"({"credit_code": "91440802)";  // cut short
    } else if (kind == 2) {
      std::string bad = code;
      bad[17] = bad[17] == '0' ? '1' : '0';
      line = absl::StrCat(R"({"credit_code":")", bad, R"(","region":"440802"})");
    } else if (kind == 3) {
      line = absl::StrCat(R"({"credit_code":")", code, R"(","region":"440802","facts":{"nope":"1"}})");
    } else if (kind == 4) {
      line = "   \t ";
    } else if (kind == 6) {  // partial: completes an earlier source's firm, or has no base
      line = absl::StrCat(R"({"credit_code":")", code, R"(","facts":{"tax_paid":)", i, "}}");
    } else {
      line = absl::StrCat(R"({"credit_code":")", code, R"(","region":")",
                          kRegions[(serial + seed) % 6], "\"");
      if (kind % 3 != 0) absl::StrAppend(&line, R"(,"name":"企业\u0041)", i, "\"");
      if (kind % 4 != 0) absl::StrAppend(&line, R"(,"industry":")", kIndustries[kind % 6], "\"");
      if (kind % 5 != 0) absl::StrAppend(&line, R"(,"founded":"20)", 10 + kind % 10, "-0", 1 + i % 9, "-1", i % 10, "\"");
      absl::StrAppend(&line, R"(,"facts":{"revenue":)", i * 1000 + seed, ".5");
      if (kind % 2 == 0) absl::StrAppend(&line, R"(,"employees":")", i % 50, "\"");
      if (kind % 7 == 0) absl::StrAppend(&line, R"(,"rd_expense":null)");
      absl::StrAppend(&line, "}");
      if (kind % 3 == 1) {
        absl::StrAppend(&line, R"(,"tags":[{"id":"qual.hitech","valid_from":"2022-01-01","source":"s)",
                        kind % 2, R"("},{"id":"qual.hitech","valid_from":"2022-01-01","source":"s)",
                        kind % 2, "\"}");
        if (kind % 4 == 1) absl::StrAppend(&line, R"(,{"id":"qual.sme_tech","valid_to":"2024-12-31"})");
        absl::StrAppend(&line, "]");
      }
      absl::StrAppend(&line, "}");
    }
    absl::StrAppend(&out, line, kind == 5 ? "\r\n" : "\n");
  }
  return out;
}

struct Reference {
  std::string snapshot;
  std::vector<std::string> rejects;
  IngestStats stats;
  std::vector<Firm> firms;
};

Reference LoadReference(const std::vector<std::string>& paths) {
  Reference ref;
  std::vector<Rejection> rejects;
  absl::StatusOr<std::vector<Firm>> firms = LoadFirms(paths, RealTaxonomy(), &rejects, &ref.stats);
  EXPECT_TRUE(firms.ok()) << firms.status();
  absl::StatusOr<FirmStore> store = FirmStore::Build(*firms, RealTaxonomy());
  EXPECT_TRUE(store.ok()) << store.status();
  ref.snapshot = SerializeSnapshot(*store, RealTaxonomy());
  for (const Rejection& r : rejects) ref.rejects.push_back(r.ToString());
  ref.firms = std::move(*firms);
  return ref;
}

void ExpectSameAsReference(const std::vector<std::string>& paths, int threads, size_t block) {
  SCOPED_TRACE(absl::StrCat("threads ", threads, ", block ", block));
  const Reference ref = LoadReference(paths);
  ingest_internal::SetJsonBlockBytesForTest(block);
  std::vector<Rejection> rejects;
  IngestStats stats;
  absl::StatusOr<FirmTable> table = LoadFirmTable(paths, RealTaxonomy(), &rejects, &stats, threads);
  ingest_internal::SetJsonBlockBytesForTest(4 << 20);
  ASSERT_TRUE(table.ok()) << table.status();
  std::vector<std::string> got;
  for (const Rejection& r : rejects) got.push_back(r.ToString());
  EXPECT_EQ(got, ref.rejects);
  EXPECT_EQ(stats.records, ref.stats.records);
  EXPECT_EQ(stats.accepted, ref.stats.accepted);
  EXPECT_EQ(stats.rejected, ref.stats.rejected);
  EXPECT_EQ(stats.merged, ref.stats.merged);
  // The same firms, field by field (tags in the same order, with their sources).
  ASSERT_EQ(table->size(), ref.firms.size());
  std::vector<Firm> firms;
  for (size_t r = 0; r < table->size(); ++r) firms.push_back(table->ToFirm(r));
  std::sort(firms.begin(), firms.end(),
            [](const Firm& a, const Firm& b) { return a.credit_code < b.credit_code; });
  for (size_t i = 0; i < firms.size(); ++i) {
    const FirmProfile a = FirmToProfile(firms[i], RealTaxonomy());
    const FirmProfile b = FirmToProfile(ref.firms[i], RealTaxonomy());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(a, b))
        << a.DebugString() << "\nvs\n" << b.DebugString();
  }
  for (int build_threads : {1, 2}) {
    absl::StatusOr<FirmStore> store = FirmStore::BuildFromTable(*table, RealTaxonomy(), build_threads);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_TRUE(SerializeSnapshot(*store, RealTaxonomy()) == ref.snapshot)
        << "snapshot bytes differ, build threads " << build_threads;
  }
}

TEST(FirmTableTest, ParallelReadEqualsLoadFirmsForEveryBlockSize) {
  const std::string a = WriteTempFile("a.jsonl", Registry(400, 0));
  {  // The registry has what the comparison is about.
    const Reference ref = LoadReference({a});
    EXPECT_GT(ref.rejects.size(), 20u);
    // A code twice in one file is rejected as a duplicate; a partial record there has no base.
    int duplicates = 0, no_base = 0;
    for (const std::string& r : ref.rejects) {
      duplicates += absl::StrContains(r, "duplicate credit code (first at line ");
      no_base += absl::StrContains(r, "no base record");
    }
    EXPECT_GT(duplicates, 20);
    EXPECT_GT(no_base, 3);
    EXPECT_GT(ref.stats.accepted, 150);
  }
  for (int threads : {1, 2}) {
    for (size_t block : {size_t{1}, size_t{7}, size_t{64}, size_t{333}, size_t{4096}, size_t{4} << 20}) {
      ExpectSameAsReference({a}, threads, block);
    }
  }
}

TEST(FirmTableTest, SeveralSourcesMergeInOrderIncludingCsv) {
  const std::string a = WriteTempFile("m1.jsonl", Registry(300, 1));
  const std::string b = WriteTempFile("m2.jsonl", Registry(200, 2));
  const std::string csv = WriteTempFile(
      "m3.csv", absl::StrCat("credit_code,name,region,industry,founded,revenue,employees,tags\n",
                             // A firm of m1.jsonl (serial 5, line 86): merged.
                             MakeCreditCode(kRegions[(5 + 1) % 6], 5),
                             ",CSV名称,440802,,,7,,stat.above_scale;qual.hitech\n",
                             MakeCreditCode("420100", 999), ",新,420100,I65,2020-01-01,1,,\n",
                             "bad,row,440802,,,,,\n"));
  // No extension: sniffed.
  const std::string sniffed = WriteTempFile("m4", Registry(50, 3));
  // The same codes as m1.jsonl (same seed): a later source's records merge, partial ones too.
  const std::string again = WriteTempFile("m5.jsonl", Registry(120, 1));
  {
    const Reference ref = LoadReference({a, b, csv, sniffed, again});
    EXPECT_GT(ref.stats.merged, 20);
  }
  ExpectSameAsReference({a, b, csv, sniffed, again}, 2, 97);
  ExpectSameAsReference({csv, again, a, sniffed, b}, 2, 1 << 20);
}

// index --shard K/N: an owner keeps one shard's records as they are read. Each shard's table
// builds the bytes that cutting the whole registry's store gives; the shards together report
// every rejection once (an unreadable code: shard 0) and count every record once.
TEST(FirmTableTest, OwnerKeepsOneShardAndShardsReportEachRejectionOnce) {
  const std::string a = WriteTempFile("o1.jsonl", Registry(300, 1));
  const std::string b = WriteTempFile("o2.jsonl", Registry(200, 2));
  const std::string csv = WriteTempFile(
      "o3.csv", absl::StrCat("credit_code,name,region,industry,founded,revenue,employees,tags\n",
                             MakeCreditCode(kRegions[(5 + 1) % 6], 5),
                             ",CSV名称,440802,,,7,,stat.above_scale;qual.hitech\n",
                             "bad,row,440802,,,,,\n\"unterminated\n"));
  const std::string again = WriteTempFile("o5.jsonl", Registry(120, 1));
  const std::vector<std::string> paths = {a, b, csv, again};
  const Reference ref = LoadReference(paths);
  EXPECT_GT(ref.rejects.size(), 20u);
  for (uint32_t n : {1u, 2u, 3u, 7u}) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(absl::StrCat("N ", n, ", threads ", threads));
      std::vector<std::string> all_rejects;
      int64_t records = 0, accepted = 0, skipped = 0;
      for (uint32_t k = 0; k < n; ++k) {
        const ShardSpec shard{k, n};
        std::vector<Rejection> rejects;
        IngestStats stats;
        ingest_internal::SetJsonBlockBytesForTest(211);
        absl::StatusOr<FirmTable> table = LoadFirmTable(
            paths, RealTaxonomy(), &rejects, &stats, threads, nullptr, InputEncoding::kUtf8,
            [&](absl::string_view code) {
              return code.empty() ? k == 0 : ShardOf(code, n) == k;
            });
        ingest_internal::SetJsonBlockBytesForTest(4 << 20);
        ASSERT_TRUE(table.ok()) << table.status();
        for (size_t r = 0; r < table->size(); ++r) EXPECT_EQ(ShardOf(table->code(r), n), k);
        for (const Rejection& r : rejects) all_rejects.push_back(r.ToString());
        records += stats.records;
        accepted += stats.accepted;
        skipped += stats.skipped;
        absl::StatusOr<FirmStore> store = FirmStore::BuildFromTable(*table, RealTaxonomy());
        ASSERT_TRUE(store.ok()) << store.status();
        absl::StatusOr<FirmStore> cut = SelectShard(*FirmStore::Build(ref.firms, RealTaxonomy()), shard);
        if (table->size() == 0) continue;  // SelectShard refuses an empty cut
        ASSERT_TRUE(cut.ok()) << cut.status();
        EXPECT_TRUE(SerializeSnapshot(*store, RealTaxonomy()) == SerializeSnapshot(*cut, RealTaxonomy()))
            << "shard " << k << ": snapshot bytes differ";
      }
      std::vector<std::string> want = ref.rejects;
      std::sort(want.begin(), want.end());
      std::sort(all_rejects.begin(), all_rejects.end());
      EXPECT_EQ(all_rejects, want);
      EXPECT_EQ(records, ref.stats.records);
      EXPECT_EQ(accepted, ref.stats.accepted);
      EXPECT_EQ(skipped, (n - 1) * ref.stats.records);  // each record is one shard's
    }
  }
}

TEST(FirmTableTest, LastLineWithoutNewlineLongLinesAndEmptyFiles) {
  std::string text = Registry(60, 4);
  text.pop_back();  // no final newline
  const std::string a = WriteTempFile("nonl.jsonl", text);
  const std::string empty = WriteTempFile("empty.jsonl", "");
  const std::string blanks = WriteTempFile("blanks.jsonl", "\n\n  \r\n");
  // A line much longer than the block (a long name).
  const std::string long_line = WriteTempFile(
      "long.jsonl", absl::StrCat(R"({"credit_code":")", MakeCreditCode("440802", 5),
                                 R"(","region":"440802","name":")", std::string(5000, 'x'),
                                 "\"}\n{oops\n"));
  for (size_t block : {size_t{1}, size_t{50}, size_t{1} << 20}) {
    ExpectSameAsReference({a, empty, blanks, long_line}, 2, block);
  }
}

TEST(FirmTableTest, MissingFileIsAnError) {
  std::vector<Rejection> rejects;
  absl::StatusOr<FirmTable> table =
      LoadFirmTable({"/nonexistent/firms.jsonl"}, RealTaxonomy(), &rejects, nullptr);
  EXPECT_TRUE(absl::IsNotFound(table.status())) << table.status();
}

TEST(FirmTableTest, StreamedSnapshotFileEqualsSerializedBytes) {
  // Sizes around the checksum's 32-byte lanes and the writer's buffer.
  for (int n : {0, 1, 3, 40, 700}) {
    const std::string a = WriteTempFile(absl::StrCat("snap", n, ".jsonl"), Registry(n, 5));
    absl::StatusOr<FirmTable> table = LoadFirmTable({a}, RealTaxonomy(), nullptr, nullptr);
    ASSERT_TRUE(table.ok()) << table.status();
    absl::StatusOr<FirmStore> store = FirmStore::BuildFromTable(*table, RealTaxonomy());
    ASSERT_TRUE(store.ok()) << store.status();
    const std::string path = absl::StrCat(::testing::TempDir(), "/firm_table_test_", ::getpid(), "_", n, ".snap");
    ASSERT_TRUE(WriteSnapshotFile(path, *store, RealTaxonomy()).ok());
    EXPECT_TRUE(ReadFile(path) == SerializeSnapshot(*store, RealTaxonomy())) << n;
    absl::StatusOr<FirmStore> back = ReadSnapshotFile(path, RealTaxonomy());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->num_rows(), store->num_rows());
    std::remove(path.c_str());
  }
}

}  // namespace
}  // namespace polmatch
