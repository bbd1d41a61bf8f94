// libFuzzer target for the parallel JSON Lines path (engine/ingest/firm_table.h): the input is cut
// at a line into two .jsonl files (two sources: partial records of the second complete firms of the
// first, a code twice in one file is a duplicate) and loaded twice — by LoadFirms +
// FirmStore::Build (the sequential reference) and by LoadFirmTable on 2 threads with tiny blocks (a
// few bytes, so records fall on every kind of block boundary) + FirmStore::BuildFromTable — and the
// two must agree exactly: the same status, the same rejections (file:line: reason, in order), the
// same stats, the same firms (tags and their sources in the same order) and the same snapshot bytes
// (tests/firm_table_test.cc compares the same things on generated registries). A GB18030 file
// must be refused by both at the same line; read with --encoding gb18030, both must agree again.
//
// Each input is loaded with two block sizes, both derived from a hash of the input so that a crash
// file reproduces alone: 1..16 bytes (about one line a block) and 17..272 bytes (several lines a
// block, a partial line carried into the next).
#include "tests/fuzz/fuzz_taxonomy.h"
#include "tests/fuzz/fuzz_support.h"

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/index/firm_store.h"
#include "engine/index/snapshot.h"
#include "engine/ingest/firm.h"
#include "engine/ingest/firm_reader.h"
#include "engine/ingest/firm_sources.h"
#include "engine/ingest/firm_table.h"
#include "google/protobuf/util/message_differencer.h"

namespace {

using google::protobuf::util::MessageDifferencer;

const polmatch::Taxonomy& Tax() { return polmatch::FuzzTaxonomy(); }

// Two files per fuzzing process, rewritten for each input and removed at exit (libFuzzer keeps
// the input of a failure as its crash file).
const std::vector<std::string>& TempPaths() {
  static const std::vector<std::string>* paths = [] {
    const char* dir = std::getenv("TMPDIR");
    const std::string base = absl::StrCat((dir != nullptr && *dir != '\0') ? dir : "/tmp",
                                          "/jsonl_table_fuzzer_", ::getpid());
    auto* p = new std::vector<std::string>{base + "_a.jsonl", base + "_b.jsonl"};
    std::atexit([] {
      for (const std::string& path : TempPaths()) std::remove(path.c_str());
    });
    return p;
  }();
  return *paths;
}

[[noreturn]] void Fail(const std::string& what) {
  std::cerr << "jsonl_table_fuzzer: " << what << "\n";
  for (const std::string& path : TempPaths()) std::remove(path.c_str());
  std::abort();
}

uint64_t Hash(const uint8_t* data, size_t size) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ull;
  return h;
}

struct Result {
  absl::Status status;
  std::vector<std::string> rejects;  // Rejection::ToString(): "file:line: reason"
  polmatch::IngestStats stats;
  std::vector<polmatch::FirmProfile> firms;  // sorted by credit code
  std::string snapshot;
};

std::string StatsString(const polmatch::IngestStats& s) {
  return absl::StrCat("records ", s.records, " accepted ", s.accepted, " rejected ", s.rejected,
                      " merged ", s.merged);
}

Result Sequential(const std::vector<std::string>& paths, polmatch::InputEncoding encoding) {
  Result r;
  std::vector<polmatch::Rejection> rejects;
  absl::StatusOr<std::vector<polmatch::Firm>> firms =
      polmatch::LoadFirms(paths, Tax(), &rejects, &r.stats, encoding);
  for (const polmatch::Rejection& x : rejects) r.rejects.push_back(x.ToString());
  r.status = firms.status();
  if (!firms.ok()) return r;
  for (const polmatch::Firm& f : *firms) r.firms.push_back(polmatch::FirmToProfile(f, Tax()));
  absl::StatusOr<polmatch::FirmStore> store = polmatch::FirmStore::Build(*firms, Tax());
  if (!store.ok()) Fail(absl::StrCat("FirmStore::Build failed: ", store.status().ToString()));
  r.snapshot = polmatch::SerializeSnapshot(*store, Tax());
  return r;
}

Result Parallel(const std::vector<std::string>& paths, size_t block_bytes, int build_threads,
                polmatch::InputEncoding encoding) {
  Result r;
  std::vector<polmatch::Rejection> rejects;
  polmatch::ingest_internal::SetJsonBlockBytesForTest(block_bytes);
  absl::StatusOr<polmatch::FirmTable> table = polmatch::LoadFirmTable(
      paths, Tax(), &rejects, &r.stats, /*threads=*/2, nullptr, encoding);
  polmatch::ingest_internal::SetJsonBlockBytesForTest(size_t{4} << 20);
  for (const polmatch::Rejection& x : rejects) r.rejects.push_back(x.ToString());
  r.status = table.status();
  if (!table.ok()) return r;
  std::vector<polmatch::Firm> firms;
  for (size_t row = 0; row < table->size(); ++row) firms.push_back(table->ToFirm(row));
  std::sort(firms.begin(), firms.end(), [](const polmatch::Firm& a, const polmatch::Firm& b) {
    return a.credit_code < b.credit_code;
  });
  for (const polmatch::Firm& f : firms) r.firms.push_back(polmatch::FirmToProfile(f, Tax()));
  absl::StatusOr<polmatch::FirmStore> store =
      polmatch::FirmStore::BuildFromTable(*table, Tax(), build_threads);
  if (!store.ok()) Fail(absl::StrCat("FirmStore::BuildFromTable failed: ", store.status().ToString()));
  r.snapshot = polmatch::SerializeSnapshot(*store, Tax());
  return r;
}

void Compare(const Result& want, const Result& got, size_t block_bytes, int build_threads) {
  const std::string where =
      absl::StrCat(" (block ", block_bytes, " bytes, 2 read threads, ", build_threads, " build threads)");
  if (want.status != got.status) {
    Fail(absl::StrCat("status differs", where, ": LoadFirms ", want.status.ToString(),
                      " vs LoadFirmTable ", got.status.ToString()));
  }
  if (!want.status.ok()) return;  // what was read before the refusal is thrown away
  for (size_t i = 0; i < std::max(want.rejects.size(), got.rejects.size()); ++i) {
    const std::string a = i < want.rejects.size() ? want.rejects[i] : "(none)";
    const std::string b = i < got.rejects.size() ? got.rejects[i] : "(none)";
    if (a != b) {
      Fail(absl::StrCat("rejection ", i, " differs", where, ":\n  LoadFirms:     ", a,
                        "\n  LoadFirmTable: ", b));
    }
  }
  if (want.stats.records != got.stats.records || want.stats.accepted != got.stats.accepted ||
      want.stats.rejected != got.stats.rejected || want.stats.merged != got.stats.merged) {
    Fail(absl::StrCat("stats differ", where, ":\n  LoadFirms:     ", StatsString(want.stats),
                      "\n  LoadFirmTable: ", StatsString(got.stats)));
  }
  if (want.firms.size() != got.firms.size()) {
    Fail(absl::StrCat("firm count differs", where, ": LoadFirms ", want.firms.size(),
                      " vs LoadFirmTable ", got.firms.size()));
  }
  for (size_t i = 0; i < want.firms.size(); ++i) {
    if (!MessageDifferencer::Equals(want.firms[i], got.firms[i])) {
      Fail(absl::StrCat("firm ", i, " differs", where, ":\n  LoadFirms:\n",
                        want.firms[i].DebugString(), "  LoadFirmTable:\n",
                        got.firms[i].DebugString()));
    }
  }
  if (want.snapshot != got.snapshot) {
    size_t at = 0;
    while (at < want.snapshot.size() && at < got.snapshot.size() &&
           want.snapshot[at] == got.snapshot[at]) {
      ++at;
    }
    Fail(absl::StrCat("snapshot bytes differ", where, ": sizes ", want.snapshot.size(), " vs ",
                      got.snapshot.size(), ", first difference at byte ", at));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::vector<std::string>& paths = TempPaths();
  const uint64_t h = Hash(data, size);
  // The second file starts after the first newline at or after a hash-chosen byte.
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  size_t cut = text.find('\n', static_cast<size_t>(h % (size + 1)));
  cut = cut == absl::string_view::npos ? size : cut + 1;
  for (int i = 0; i < 2; ++i) {
    std::ofstream out(paths[i], std::ios::binary | std::ios::trunc);
    const absl::string_view part = i == 0 ? text.substr(0, cut) : text.substr(cut);
    out.write(part.data(), static_cast<std::streamsize>(part.size()));
    out.close();
    if (!out) Fail(absl::StrCat("cannot write ", paths[i]));
  }
  const size_t small_block = 1 + (h >> 20) % 16;
  const size_t large_block = 17 + (h >> 8) % 256;
  for (const polmatch::InputEncoding encoding :
       {polmatch::InputEncoding::kUtf8, polmatch::InputEncoding::kGb18030}) {
    const Result want = Sequential(paths, encoding);
    if (!want.status.ok() && (encoding != polmatch::InputEncoding::kUtf8 ||
                              !(polmatch::fuzz::IsGb18030Refusal(want.status.message(), paths[0]) ||
                                polmatch::fuzz::IsGb18030Refusal(want.status.message(), paths[1])))) {
      Fail(absl::StrCat("LoadFirms failed on readable files: ", want.status.ToString()));
    }
    Compare(want, Parallel(paths, small_block, /*build_threads=*/2, encoding), small_block, 2);
    Compare(want, Parallel(paths, large_block, /*build_threads=*/1, encoding), large_block, 1);
  }
  return 0;
}
