// File: firm_table.h
//
// FirmTable is a firm registry held compactly while it is read: fixed-width columns (credit code,
// region, industry, founded), one name arena, dense fact values with a known mask per row, and
// the tag grants in arrival order with interned sources. No per-firm heap object: at 10 million
// firms it takes about a third of the memory of std::vector<Firm>.
//
// LoadFirmTable is LoadFirms into a FirmTable: the same sources, the same merge by credit code
// (a later record over an earlier one, field by field as MergeFirm), the same rejections with the
// same file:line, but JSON Lines files are parsed on two threads (the file is cut into blocks at
// line boundaries; the blocks' records are merged in file order). FirmStore::Build(const
// FirmTable&) turns the table into the store that Build(LoadFirms(...)) gives, byte for byte.
//
// Example:
//   std::vector<Rejection> rejects;
//   IngestStats stats;
//   absl::StatusOr<FirmTable> table = LoadFirmTable(paths, taxonomy, &rejects, &stats);
//   absl::StatusOr<FirmStore> store = FirmStore::BuildFromTable(*table, taxonomy);
#ifndef POLMATCH_INGEST_FIRM_TABLE_H_
#define POLMATCH_INGEST_FIRM_TABLE_H_

#include <cstddef>
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/ingest/firm.h"
#include "engine/ingest/firm_reader.h"
#include "engine/taxonomy/taxonomy.h"

namespace polmatch {

class FirmTable {
 public:
  static constexpr size_t kCodeWidth = 18;
  static constexpr size_t kRegionWidth = 6;    // all zero = unknown
  static constexpr size_t kIndustryWidth = 8;  // zero padded; all zero = unknown

  // One tag grant of one row, in arrival order. `first` marks grants of the record that created
  // the row (kept as given); grants of later records are kept unless already held (MergeFirm).
  struct Grant {
    uint32_t row;
    uint32_t tag;
    int32_t from;  // days since 1970-01-01; INT32_MIN = open
    int32_t to;    // INT32_MAX = open
    uint32_t source;  // index into sources()
    uint32_t first;   // 1 = of the row's first record
  };

  explicit FirmTable(int num_facts = 0);
  FirmTable(FirmTable&&) = default;
  FirmTable& operator=(FirmTable&&) = default;

  size_t size() const { return num_rows_; }
  int num_facts() const { return num_facts_; }
  // Empties the table, keeping its buffers' capacity.
  void Clear();
  // Reserves room for `rows` rows (untouched memory until used).
  void Reserve(size_t rows, size_t name_bytes);

  // Appends `firm` as a new row (no merge). The firm must be valid (FirmFromProfile): an 18-byte
  // code, a region of 6 bytes or "", an industry under 8 bytes, num_facts() fact slots.
  void Append(const Firm& firm);
  // Adds `firm`, the record of line `line` of source `file` (0, 1, … in the order read), by the
  // rules of LoadFirms: merged by credit code into an earlier source's row as MergeFirm does, or
  // refused — a credit code seen earlier in the same file ("duplicate credit code (first at line
  // N)"), a partial record of a firm no earlier source defines (no base record). Sets *merged.
  absl::Status Add(const Firm& firm, uint32_t file, int line, bool* merged);
  // A record of AddAll's that was refused: its line and why.
  struct Refusal {
    int line;
    std::string reason;
  };
  // Adds every row of `block` (a table of unmerged records, as Append builds, the rows of lines
  // `lines`) in order, as Add. Returns the number merged; refused records go to `refused`.
  int64_t AddAll(const FirmTable& block, uint32_t file, const std::vector<int>& lines,
                 std::vector<Refusal>* refused);
  // Ends loading: applies MergeFirm's rule to the grants (those of a row's later records that the
  // row already held are dropped; Add/AddAll keep all, in arrival order) and frees the credit code
  // index. LoadFirmTable calls it; no Add or AddAll after it.
  void Finish();

  absl::string_view code(size_t row) const {
    return absl::string_view(&codes_[row * kCodeWidth], kCodeWidth);
  }
  const char* region_bytes(size_t row) const { return &regions_[row * kRegionWidth]; }
  const char* industry_bytes(size_t row) const { return &industries_[row * kIndustryWidth]; }
  absl::string_view name(size_t row) const {
    return absl::string_view(names_.data() + name_offsets_[row], name_lengths_[row]);
  }
  bool founded_known(size_t row) const { return founded_known_[row] != 0; }
  int32_t founded_day(size_t row) const { return founded_[row]; }
  bool fact_known(size_t row, int k) const {
    return (fact_known_[row * known_words_ + k / 64] >> (k % 64)) & 1;
  }
  int64_t fact_raw(size_t row, int k) const { return facts_[row * num_facts_ + k]; }
  const std::vector<Grant>& grants() const { return grants_; }
  // Hints the row's columns into the cache (builders reading rows out of order).
  void Prefetch(size_t row) const {
    __builtin_prefetch(&codes_[row * kCodeWidth]);
    __builtin_prefetch(&industries_[row * kIndustryWidth]);
    __builtin_prefetch(&name_offsets_[row]);
    __builtin_prefetch(&name_lengths_[row]);
    __builtin_prefetch(&founded_[row]);
    __builtin_prefetch(&fact_known_[row * known_words_]);
    const char* facts = reinterpret_cast<const char*>(facts_.data() + row * num_facts_);
    for (size_t b = 0; b < num_facts_ * sizeof(int64_t); b += 64) __builtin_prefetch(facts + b);
  }
  const std::vector<std::string>& sources() const { return sources_; }

  // Row `row` as a Firm (tests, LoadFirms equivalence).
  Firm ToFirm(size_t row) const;

 private:
  using Key = std::array<char, kCodeWidth>;

  // Appends rows [begin, end) of `src` (grants aside).
  void AppendRows(const FirmTable& src, size_t begin, size_t end);
  void MergeRow(size_t into, const FirmTable& src, size_t r,
                const std::vector<uint32_t>& source_map);
  uint32_t InternSource(absl::string_view source);
  void AppendFirmGrants(const Firm& firm, uint32_t row, bool first);

  int num_facts_ = 0;
  size_t known_words_ = 1;
  size_t num_rows_ = 0;
  std::vector<char> codes_;
  std::vector<char> regions_;
  std::vector<char> industries_;
  std::vector<int32_t> founded_;
  std::vector<uint8_t> founded_known_;
  std::vector<char> names_;
  std::vector<uint64_t> name_offsets_;
  std::vector<uint32_t> name_lengths_;
  std::vector<int64_t> facts_;          // num_facts × rows, row-major
  std::vector<uint64_t> fact_known_;    // known_words × rows
  std::vector<Grant> grants_;
  std::vector<std::string> sources_;
  absl::flat_hash_map<std::string, uint32_t> source_ids_;
  // While loading: a credit code's row, and the source file and line that last gave it a record.
  struct Slot {
    uint32_t row;
    uint32_t file;
    int32_t line;
  };
  // The merge rule for a record of (`file`, `line`) found at `slot` (nullptr: a new code).
  static absl::Status Admit(const Slot* slot, bool partial, uint32_t file);
  absl::flat_hash_map<Key, Slot> index_;  // credit code → row (Add/AddAll only)
};

// Called now and then while loading with the bytes read so far of all the files together and
// their total size (a progress bar).
using LoadProgress = std::function<void(uint64_t done, uint64_t total)>;

// LoadFirms into a FirmTable (rows in first-seen order; not sorted). `threads` parse JSON Lines
// (1 = on the calling thread only). With `owner`, only its records are read past their credit
// code (RecordOwner: index --shard keeps one shard's firms without holding the others').
absl::StatusOr<FirmTable> LoadFirmTable(const std::vector<std::string>& paths,
                                        const Taxonomy& taxonomy,
                                        std::vector<Rejection>* rejects, IngestStats* stats,
                                        int threads = 2, const LoadProgress& progress = nullptr,
                                        InputEncoding encoding = InputEncoding::kUtf8,
                                        const RecordOwner& owner = nullptr);

namespace ingest_internal {
// Asks the kernel for transparent huge pages over the whole pages inside [p, p + bytes) (fewer
// page faults and TLB misses for multi-gigabyte columns); a no-op for small ranges.
void AdviseHugePages(const void* p, size_t bytes);
// Test hook: the block size of the parallel JSON Lines reader (default 4 MiB; at least 1).
void SetJsonBlockBytesForTest(size_t bytes);
}  // namespace ingest_internal

}  // namespace polmatch

#endif  // POLMATCH_INGEST_FIRM_TABLE_H_
