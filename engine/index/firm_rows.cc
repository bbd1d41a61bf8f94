#include "engine/index/firm_rows.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/ingest/firm_table.h"
#include "engine/util/parallel.h"

namespace polmatch {

void FirmRows::Free::operator()(uint8_t* p) const { std::free(p); }

std::optional<absl::CivilDay> FirmRows::founded(const Record& r) const {
  if (!r.founded_known) return std::nullopt;
  return DayFromNumber(r.founded);
}

FirmRows FirmRows::Build(const FirmStore& store) {
  FirmRows rows;
  const size_t n = store.num_rows();
  const int num_facts = store.num_facts();
  rows.num_rows_ = n;
  rows.known_words_ = (static_cast<size_t>(num_facts) + 63) / 64;
  rows.stride_ = (sizeof(Record) + 8 * (rows.known_words_ + num_facts) + 63) / 64 * 64;

  // Each row's grants, gathered from the store's per-tag columns (tag order within a row).
  std::vector<uint32_t> begin(n + 1, 0);
  for (int t = 0; t < store.num_tags(); ++t) {
    const TagGrantColumn g = store.grants(TagId(t));
    for (size_t i = 0; i < g.size; ++i) ++begin[g.rows[i] + 1];
  }
  for (size_t r = 1; r < begin.size(); ++r) begin[r] += begin[r - 1];
  rows.grants_.resize(begin.back());
  {
    std::vector<uint32_t> next(begin.begin(), begin.end() - 1);
    for (int t = 0; t < store.num_tags(); ++t) {
      const TagGrantColumn g = store.grants(TagId(t));
      for (size_t i = 0; i < g.size; ++i) {
        rows.grants_[next[g.rows[i]]++] = {static_cast<uint32_t>(t), g.from[i], g.to[i]};
      }
    }
  }

  // The records, on huge pages where the kernel gives them (one TLB entry per 2 MB: a random
  // record costs no page walk).
  const size_t bytes = std::max<size_t>(n * rows.stride_, 64);
  constexpr size_t kAlign = size_t{2} << 20;
  uint8_t* data = static_cast<uint8_t*>(std::aligned_alloc(kAlign, (bytes + kAlign - 1) / kAlign * kAlign));
  if (data == nullptr) throw std::bad_alloc();
  rows.data_.reset(data);
  ingest_internal::AdviseHugePages(data, bytes);

  // A block of rows at a time: every column is read in order, the block's records stay in L1;
  // two threads (most of the cost is the kernel's first touch of the new pages).
  const uint16_t* industry = store.industry_ids();
  const int32_t* founded = store.founded_days();
  const uint64_t* founded_known = store.founded_known();
  const size_t known_words = rows.known_words_;
  const size_t stride = rows.stride_;
  auto fill = [&](size_t first, size_t last) {
    constexpr size_t kBlock = 256;
    for (size_t b = first; b < last; b += kBlock) {
      const size_t e = std::min(last, b + kBlock);
      for (size_t r = b; r < e; ++r) {
        uint8_t* rec = data + r * stride;
        std::memset(rec, 0, stride);
        Record h{};
        h.industry = industry[r];
        h.founded_known = static_cast<uint8_t>((founded_known[r / 64] >> (r % 64)) & 1);
        h.founded = founded[r];
        h.first_grant = begin[r];
        h.num_grants = begin[r + 1] - begin[r];
        std::memcpy(rec, &h, sizeof(h));
      }
      for (int k = 0; k < num_facts; ++k) {
        const int64_t* values = store.fact_values(FactId(k));
        const uint64_t* known = store.fact_known(FactId(k));
        for (size_t r = b; r < e; ++r) {
          uint64_t* words = reinterpret_cast<uint64_t*>(data + r * stride + sizeof(Record));
          words[k / 64] |= ((known[r / 64] >> (r % 64)) & 1) << (k % 64);
          reinterpret_cast<int64_t*>(words + known_words)[k] = values[r];
        }
      }
    }
  };
  const size_t half = n / 2 / 64 * 64;
  ParallelFor(2, [&](int t) { t == 0 ? fill(0, half) : fill(half, n); });
  return rows;
}

}  // namespace polmatch
