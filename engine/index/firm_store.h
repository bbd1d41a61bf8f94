// File: firm_store.h
//
// FirmStore is the columnar, immutable form of a firm registry that the bulk matcher scans.
// Rows are ordered by (region, credit_code), so every GB/T 2260 region — a province, a city or a
// county — is one contiguous row range (RegionRange), and a policy scoped to a city touches only
// that city's rows. Every column is a flat array of plain values (no per-firm heap objects), so a
// snapshot file can later hold the store as-is and map or read it in one go:
//
//   credit codes     18 bytes per row
//   names            one byte arena + offsets
//   region           a sorted dictionary of 6-byte codes, each with its first row (the column is
//                    run-length encoded by the row order itself; rows of unknown region come first)
//   industry         a dictionary of codes in code order (entry 0 = unknown) + a uint16 column
//   founded          days since 1970-01-01 (int32) + a known bitmask
//   each fact        the Decimal raw value (int64 millionths) + a known bitmask
//   tag grants       per tag (not closed over the hierarchy): rows, valid_from, valid_to (days)
//
// Row-indexed columns are padded with unknown rows to a multiple of kBlockRows, so block kernels
// always read whole blocks. Immutable after Build(); safe to share between threads.
//
// Example:
//   absl::StatusOr<FirmStore> store = FirmStore::Build(firms, taxonomy);
//   RowRange zhanjiang = store->RegionRange("440800");
//   std::optional<uint32_t> row = store->FindRow("91440800MA4UJH1X2R");
#ifndef POLMATCH_INDEX_FIRM_STORE_H_
#define POLMATCH_INDEX_FIRM_STORE_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/types/span.h"
#include "engine/index/bitset.h"
#include "engine/util/dates.h"
#include "engine/index/column.h"
#include "engine/ingest/firm.h"
#include "engine/taxonomy/taxonomy.h"
#include "engine/util/decimal.h"
#include "engine/util/strong_id.h"

namespace polmatch {

class FirmTable;  // engine/ingest/firm_table.h

// [begin, end) rows.
struct RowRange {
  uint32_t begin = 0;
  uint32_t end = 0;
  bool empty() const { return begin >= end; }
  uint32_t size() const { return end > begin ? end - begin : 0; }
  friend bool operator==(RowRange a, RowRange b) { return a.begin == b.begin && a.end == b.end; }
};

// Dates in the store: days since 1970-01-01. Open ends of a tag grant use the extremes.
inline constexpr int32_t kOpenFrom = std::numeric_limits<int32_t>::min();
inline constexpr int32_t kOpenTo = std::numeric_limits<int32_t>::max();
inline int32_t DayNumber(absl::CivilDay d) { return static_cast<int32_t>(DaysSince1970(d)); }
inline absl::CivilDay DayFromNumber(int64_t n) { return DayFrom1970(n); }

// The direct grants of one tag, sorted by row (then by valid_from, valid_to).
struct TagGrantColumn {
  const uint32_t* rows = nullptr;
  const int32_t* from = nullptr;  // kOpenFrom = open
  const int32_t* to = nullptr;    // kOpenTo = open
  size_t size = 0;
};

class FirmStore {
 public:
  static constexpr size_t kCreditCodeLen = 18;

  // Builds the store. Firms may come in any order; each needs an 18-byte credit code, a region of
  // 6 characters or "" (unknown), an industry of at most 7 characters, and one fact slot per fact
  // of `taxonomy`. Credit codes are expected to be unique (FindRow returns one of equal codes).
  static absl::StatusOr<FirmStore> Build(const std::vector<Firm>& firms, const Taxonomy& taxonomy);
  // The same store from a merged table (LoadFirmTable), on `threads` threads: equal, column for
  // column, to Build() of the table's firms sorted by credit code (as LoadFirms returns them), so
  // source_index() is a row's rank in credit-code order. Codes must be unique.
  static absl::StatusOr<FirmStore> BuildFromTable(const FirmTable& table, const Taxonomy& taxonomy,
                                                  int threads = 2);

  FirmStore() = default;
  FirmStore(FirmStore&&) = default;
  FirmStore& operator=(FirmStore&&) = default;
  FirmStore(const FirmStore&) = delete;
  FirmStore& operator=(const FirmStore&) = delete;

  uint32_t num_rows() const { return num_rows_; }
  // num_rows() rounded up to whole blocks: the length of every row-indexed column.
  uint32_t padded_rows() const { return padded_rows_; }
  uint32_t num_blocks() const { return padded_rows_ / kBlockRows; }
  int num_facts() const { return num_facts_; }
  int num_tags() const { return num_tags_; }

  // Per row.
  absl::string_view credit_code(uint32_t row) const {
    return absl::string_view(credit_codes_.data() + size_t{row} * kCreditCodeLen, kCreditCodeLen);
  }
  absl::string_view name(uint32_t row) const {
    return absl::string_view(names_.data() + name_offsets_[row],
                             name_offsets_[row + 1] - name_offsets_[row]);
  }
  absl::string_view region(uint32_t row) const;    // "" = unknown
  absl::string_view industry(uint32_t row) const;  // "" = unknown
  std::optional<absl::CivilDay> founded(uint32_t row) const;
  std::optional<Decimal> fact(uint32_t row, FactId id) const;
  // Index of the row's firm in the vector given to Build().
  uint32_t source_index(uint32_t row) const { return source_index_[row]; }
  // The firm of a row, rebuilt (tests, single-firm tools).
  Firm ToFirm(uint32_t row) const;
  // A store of the given rows only (ascending, each < num_rows()), copied column by column on up
  // to `threads` threads (no Firm in between): equal, column for column, to Build() of their
  // ToFirm() listed in credit-code order — so the rows keep their (region, credit code) order,
  // source_index() is a row's rank in credit-code order among them, and the dictionaries hold
  // only the codes they use. `batch --shard` cuts a whole snapshot with it into the store that
  // `index --shard` writes.
  FirmStore SelectRows(absl::Span<const uint32_t> rows, int threads = 2) const;

  // The row of a credit code, by binary search over a code-ordered permutation.
  std::optional<uint32_t> FindRow(absl::string_view credit_code) const;
  // Rows in credit-code order (limits rank ties by credit code).
  absl::Span<const uint32_t> rows_by_code() const { return rows_by_code_.span(); }

  // Rows whose region is under `code` in the sense of SPEC §3 `under` (Taxonomy::RegionUnder):
  // a province, a city, or exactly a county. Empty for a code that is not 6 characters.
  RowRange RegionRange(absl::string_view code) const;
  // Rows whose region is exactly `code`.
  RowRange RegionExactRange(absl::string_view code) const;
  // Rows whose region is unknown (they come first).
  RowRange UnknownRegionRange() const { return {0, unknown_region_rows_}; }

  // Columns (padded_rows() values; known masks padded_rows()/64 words).
  const int64_t* fact_values(FactId id) const { return fact_raw_.data() + size_t{id.value} * padded_rows_; }
  const uint64_t* fact_known(FactId id) const {
    return fact_known_.data() + size_t{id.value} * (padded_rows_ / 64);
  }
  const int32_t* founded_days() const { return founded_days_.data(); }
  const uint64_t* founded_known() const { return founded_known_.data(); }
  // Industry dictionary: id 0 = unknown, then the codes in ascending order (so the codes under a
  // code have consecutive ids); codes are at most 7 bytes.
  const uint16_t* industry_ids() const { return industry_ids_.data(); }
  int num_industry_codes() const { return static_cast<int>(industry_dict_.size() / kIndustryWidth); }
  absl::string_view industry_code(int id) const;
  TagGrantColumn grants(TagId id) const;

 private:
  friend struct SnapshotCodec;  // snapshot.cc reads and writes the columns below

  struct GrantEntry {
    uint32_t tag, row;
    int32_t from, to;
  };
  // Fills the grant columns from grants sorted by (tag, row, from, to).
  void SetGrants(const std::vector<GrantEntry>& sorted);
  static constexpr size_t kIndustryWidth = 8;
  static constexpr size_t kRegionWidth = 6;

  uint32_t num_rows_ = 0;
  uint32_t padded_rows_ = 0;
  int num_facts_ = 0;
  int num_tags_ = 0;
  uint32_t unknown_region_rows_ = 0;

  Column<char> credit_codes_;        // 18 × rows
  Column<char> names_;               // arena
  Column<uint64_t> name_offsets_;    // rows + 1
  Column<uint32_t> source_index_;    // rows
  Column<uint32_t> rows_by_code_;    // rows, a permutation ordered by credit code
  Column<char> region_dict_;         // 6 × codes, ascending
  Column<uint32_t> region_begin_;    // codes + 1: first row of each code, then num_rows
  Column<char> industry_dict_;       // 8 × codes, zero padded; entry 0 = ""
  Column<uint16_t> industry_ids_;    // padded rows
  Column<int32_t> founded_days_;     // padded rows
  Column<uint64_t> founded_known_;   // padded rows / 64
  Column<int64_t> fact_raw_;         // facts × padded rows
  Column<uint64_t> fact_known_;      // facts × padded rows / 64
  Column<uint32_t> grant_begin_;     // tags + 1
  Column<uint32_t> grant_rows_;
  Column<int32_t> grant_from_;
  Column<int32_t> grant_to_;
};

}  // namespace polmatch

#endif  // POLMATCH_INDEX_FIRM_STORE_H_
