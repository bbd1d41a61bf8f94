// File: firm_rows.h
//
// FirmRows is a FirmStore turned around for reading one firm at a time (the embedded engine's
// single-firm path). The store keeps each field in its own column, which is what a scan over
// millions of firms wants; but one firm read from it touches a cache line and a page in every
// column (two per fact), some forty random accesses each with its own page walk. FirmRows keeps
// one fixed-size record per row instead, 64-byte aligned:
//
//   industry (the store's dictionary id), founded (day number and whether known), the row's
//   tag grants (first entry and count in grants()), the facts' known bits (a word per 64
//   facts), every fact's raw value
//
// 16 + 8 × (words + facts) bytes rounded up to 64: 192 bytes, three adjacent cache lines, with
// 19 facts.
// Built from the store a block of rows at a time (every column read once, in order), on two
// threads, into huge pages where the kernel gives them. It costs memory (1.9 GB for 10 million
// firms with 19 facts) and time at load (1–4 s for those on the reference VM, mostly the
// kernel's first touch of the new pages), and saves ~2 µs of cache misses per query. Immutable
// once built; safe to share between threads.
#ifndef POLMATCH_INDEX_FIRM_ROWS_H_
#define POLMATCH_INDEX_FIRM_ROWS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/civil_time.h"
#include "engine/index/firm_store.h"
#include "engine/util/decimal.h"

namespace polmatch {

class FirmRows {
 public:
  // A tag grant of a row (valid_from / valid_to: day numbers, kOpenFrom / kOpenTo when open).
  struct Grant {
    uint32_t tag;
    int32_t from, to;
  };
  // The fixed part of a record; the known bits and the facts' raw values follow it.
  struct Record {
    uint16_t industry;     // FirmStore::industry_code(industry)
    uint8_t founded_known;
    uint8_t pad;
    int32_t founded;       // days since 1970-01-01
    uint32_t first_grant;  // into grants()
    uint32_t num_grants;
  };
  static_assert(sizeof(Record) == 16, "records are laid out by hand");

  FirmRows() = default;
  FirmRows(FirmRows&&) = default;
  FirmRows& operator=(FirmRows&&) = default;

  // The records of every row of `store`.
  static FirmRows Build(const FirmStore& store);

  size_t num_rows() const { return num_rows_; }
  const Record& record(uint32_t row) const {
    return *reinterpret_cast<const Record*>(data_.get() + size_t{row} * stride_);
  }
  // Asks the CPU for a row's record (all its cache lines) ahead of reading it.
  void Prefetch(uint32_t row) const {
    const uint8_t* p = data_.get() + size_t{row} * stride_;
    for (size_t b = 0; b < stride_; b += 64) __builtin_prefetch(p + b);
  }
  std::optional<Decimal> fact(const Record& r, int k) const {
    const uint64_t* known = reinterpret_cast<const uint64_t*>(&r + 1);
    if (!((known[k / 64] >> (k % 64)) & 1)) return std::nullopt;
    return Decimal::FromRawUnchecked(reinterpret_cast<const int64_t*>(known + known_words_)[k]);
  }
  std::optional<absl::CivilDay> founded(const Record& r) const;
  const Grant* grants(const Record& r) const { return grants_.data() + r.first_grant; }
  size_t stride() const { return stride_; }  // bytes per record

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t[], Free> data_;
  size_t num_rows_ = 0;
  size_t stride_ = 0;
  size_t known_words_ = 0;
  std::vector<Grant> grants_;  // by row, then as the store orders tags
};

}  // namespace polmatch

#endif  // POLMATCH_INDEX_FIRM_ROWS_H_
