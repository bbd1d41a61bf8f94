#include "engine/index/firm_store.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/ingest/firm_table.h"
#include "engine/util/parallel.h"

namespace polmatch {

absl::StatusOr<FirmStore> FirmStore::Build(const std::vector<Firm>& firms,
                                           const Taxonomy& taxonomy) {
  if (firms.size() > std::numeric_limits<uint32_t>::max() - 2 * kBlockRows) {
    return absl::InvalidArgumentError("too many firms for one store");
  }
  FirmStore s;
  const uint32_t n = static_cast<uint32_t>(firms.size());
  s.num_rows_ = n;
  s.padded_rows_ = (n + kBlockRows - 1) / kBlockRows * kBlockRows;
  s.num_facts_ = taxonomy.num_facts();
  s.num_tags_ = taxonomy.num_tags();
  for (uint32_t i = 0; i < n; ++i) {
    const Firm& f = firms[i];
    if (f.credit_code.size() != kCreditCodeLen) {
      return absl::InvalidArgumentError(
          absl::StrCat("firm ", i, ": credit code \"", f.credit_code, "\" is not 18 bytes"));
    }
    if (!f.region.empty() && f.region.size() != kRegionWidth) {
      return absl::InvalidArgumentError(
          absl::StrCat("firm ", f.credit_code, ": region \"", f.region, "\" is not 6 digits"));
    }
    if (f.industry.size() >= kIndustryWidth) {
      return absl::InvalidArgumentError(
          absl::StrCat("firm ", f.credit_code, ": industry \"", f.industry, "\" is too long"));
    }
    if (f.facts.size() != static_cast<size_t>(s.num_facts_)) {
      return absl::InvalidArgumentError(
          absl::StrCat("firm ", f.credit_code, ": has ", f.facts.size(), " fact slots, the tag library ",
                       s.num_facts_));
    }
    for (const TagGrantRecord& g : f.tags) {
      if (g.tag.value >= static_cast<uint32_t>(s.num_tags_)) {
        return absl::InvalidArgumentError(absl::StrCat("firm ", f.credit_code, ": bad tag id"));
      }
    }
  }

  // Row order: (region, credit code); "" (unknown region) sorts first.
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return std::tie(firms[a].region, firms[a].credit_code, a) <
           std::tie(firms[b].region, firms[b].credit_code, b);
  });

  s.credit_codes_.resize(size_t{n} * kCreditCodeLen);
  s.name_offsets_.reserve(n + 1);
  s.name_offsets_.push_back(0);
  s.source_index_.resize(n);
  s.industry_ids_.assign(s.padded_rows_, 0);
  s.founded_days_.assign(s.padded_rows_, 0);
  s.founded_known_.assign(s.padded_rows_ / 64, 0);
  s.fact_raw_.assign(size_t{s.padded_rows_} * s.num_facts_, 0);
  s.fact_known_.assign(size_t{s.padded_rows_ / 64} * s.num_facts_, 0);
  // Industry dictionary in code order (entry 0 = unknown), so that the codes under any code
  // have consecutive ids and an `under` test is an id range.
  std::vector<std::string> industry_codes;
  {
    absl::flat_hash_map<std::string, uint16_t> seen;
    for (const Firm& f : firms) {
      if (!f.industry.empty() && seen.try_emplace(f.industry, 0).second) {
        industry_codes.push_back(f.industry);
      }
    }
  }
  if (industry_codes.size() >= std::numeric_limits<uint16_t>::max()) {
    return absl::InvalidArgumentError("more than 65534 distinct industry codes");
  }
  std::sort(industry_codes.begin(), industry_codes.end());
  absl::flat_hash_map<std::string, uint16_t> industry_ids;
  industry_ids[""] = 0;
  s.industry_dict_.assign((industry_codes.size() + 1) * kIndustryWidth, 0);
  for (size_t i = 0; i < industry_codes.size(); ++i) {
    industry_ids[industry_codes[i]] = static_cast<uint16_t>(i + 1);
    std::memcpy(&s.industry_dict_[(i + 1) * kIndustryWidth], industry_codes[i].data(),
                industry_codes[i].size());
  }

  using Grant = GrantEntry;
  std::vector<Grant> grants;
  for (uint32_t row = 0; row < n; ++row) {
    const Firm& f = firms[order[row]];
    s.source_index_[row] = order[row];
    std::memcpy(&s.credit_codes_[size_t{row} * kCreditCodeLen], f.credit_code.data(), kCreditCodeLen);
    s.names_.insert(s.names_.end(), f.name.begin(), f.name.end());
    s.name_offsets_.push_back(s.names_.size());
    // Region dictionary: rows arrive in region order.
    if (f.region.empty()) {
      ++s.unknown_region_rows_;
    } else if (s.region_begin_.empty() ||
               std::memcmp(&s.region_dict_[s.region_dict_.size() - kRegionWidth], f.region.data(),
                           kRegionWidth) != 0) {
      s.region_dict_.insert(s.region_dict_.end(), f.region.begin(), f.region.end());
      s.region_begin_.push_back(row);
    }
    s.industry_ids_[row] = industry_ids.at(f.industry);
    if (f.founded) {
      s.founded_days_[row] = DayNumber(*f.founded);
      SetBit(s.founded_known_.data(), row);
    }
    for (int k = 0; k < s.num_facts_; ++k) {
      if (!f.facts[k]) continue;
      s.fact_raw_[static_cast<size_t>(k) * s.padded_rows_ + row] = f.facts[k]->raw();
      SetBit(&s.fact_known_[static_cast<size_t>(k) * (s.padded_rows_ / 64)], row);
    }
    for (const TagGrantRecord& g : f.tags) {
      grants.push_back({g.tag.value, row, g.valid_from ? DayNumber(*g.valid_from) : kOpenFrom,
                        g.valid_to ? DayNumber(*g.valid_to) : kOpenTo});
    }
  }
  s.region_begin_.push_back(n);

  std::sort(grants.begin(), grants.end(), [](const Grant& a, const Grant& b) {
    return std::tie(a.tag, a.row, a.from, a.to) < std::tie(b.tag, b.row, b.from, b.to);
  });
  s.SetGrants(grants);

  s.rows_by_code_.resize(n);
  std::iota(s.rows_by_code_.begin(), s.rows_by_code_.end(), 0);
  std::sort(s.rows_by_code_.begin(), s.rows_by_code_.end(), [&](uint32_t a, uint32_t b) {
    const int c = std::memcmp(&s.credit_codes_[size_t{a} * kCreditCodeLen],
                              &s.credit_codes_[size_t{b} * kCreditCodeLen], kCreditCodeLen);
    return c != 0 ? c < 0 : a < b;
  });
  return s;
}

namespace {

// Big-endian loads: integer order = byte order.
uint64_t LoadBE(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v << (8 * (8 - n));
}

// Sorts `v` on up to two threads (halves sorted apart, then merged).
template <typename T, typename Less>
void SortOnThreads(std::vector<T>& v, Less less, int threads) {
  if (threads < 2 || v.size() < 65536) {
    std::sort(v.begin(), v.end(), less);
    return;
  }
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  ParallelFor(2, [&](int t) { t == 0 ? std::sort(mid, v.end(), less) : std::sort(v.begin(), mid, less); });
  std::vector<T> out(v.size());
  std::merge(v.begin(), mid, mid, v.end(), out.begin(), less);
  v = std::move(out);
}

// Runs fn(begin, end) over [0, n) cut at multiples of `align`, on up to two threads.
template <typename Fn>
void ForRanges(uint32_t n, uint32_t align, int threads, Fn fn) {
  if (threads < 2 || n < 2 * align) {
    fn(0u, n);
    return;
  }
  const uint32_t cut = (n / 2) / align * align;
  ParallelFor(2, [&](int t) { t == 0 ? fn(cut, n) : fn(0u, cut); });
}

}  // namespace

absl::StatusOr<FirmStore> FirmStore::BuildFromTable(const FirmTable& t, const Taxonomy& taxonomy,
                                                    int threads) {
  if (t.size() > std::numeric_limits<uint32_t>::max() - 2 * kBlockRows) {
    return absl::InvalidArgumentError("too many firms for one store");
  }
  if (t.num_facts() != taxonomy.num_facts()) {
    return absl::InvalidArgumentError(absl::StrCat("the table has ", t.num_facts(),
                                                   " facts, the tag library ", taxonomy.num_facts()));
  }
  static_assert(FirmTable::kCodeWidth == kCreditCodeLen && FirmTable::kRegionWidth == kRegionWidth &&
                FirmTable::kIndustryWidth == kIndustryWidth);
  FirmStore s;
  const uint32_t n = static_cast<uint32_t>(t.size());
  s.num_rows_ = n;
  s.padded_rows_ = (n + kBlockRows - 1) / kBlockRows * kBlockRows;
  s.num_facts_ = taxonomy.num_facts();
  s.num_tags_ = taxonomy.num_tags();
  for (const FirmTable::Grant& g : t.grants()) {
    if (g.tag >= static_cast<uint32_t>(s.num_tags_)) {
      return absl::InvalidArgumentError(absl::StrCat("firm ", t.code(g.row), ": bad tag id"));
    }
  }

  // Credit-code order: the rank of a table row is its index in LoadFirms' sorted vector.
  struct CodeKey {
    uint64_t hi, mid;
    uint32_t lo, slot;
  };
  std::vector<uint32_t> slot_by_rank(n);
  {
    std::vector<CodeKey> keys(n);
    for (uint32_t i = 0; i < n; ++i) {
      const char* c = t.code(i).data();
      keys[i] = {LoadBE(c, 8), LoadBE(c + 8, 8), static_cast<uint32_t>(LoadBE(c + 16, 2) >> 48), i};
    }
    SortOnThreads(
        keys,
        [](const CodeKey& a, const CodeKey& b) {
          return std::tie(a.hi, a.mid, a.lo, a.slot) < std::tie(b.hi, b.mid, b.lo, b.slot);
        },
        threads);
    for (uint32_t r = 0; r < n; ++r) slot_by_rank[r] = keys[r].slot;
  }

  // Regions: id 0 = unknown, then the codes present in ascending order.
  std::vector<uint32_t> region_of_slot(n);
  std::vector<uint64_t> region_codes;  // ascending, big-endian packed
  {
    absl::flat_hash_map<uint64_t, uint32_t> ids;
    for (uint32_t i = 0; i < n; ++i) {
      const uint64_t code = LoadBE(t.region_bytes(i), kRegionWidth);
      if (code != 0 && ids.try_emplace(code, 0).second) region_codes.push_back(code);
    }
    std::sort(region_codes.begin(), region_codes.end());
    for (size_t k = 0; k < region_codes.size(); ++k) ids[region_codes[k]] = static_cast<uint32_t>(k + 1);
    for (uint32_t i = 0; i < n; ++i) {
      const uint64_t code = LoadBE(t.region_bytes(i), kRegionWidth);
      region_of_slot[i] = code == 0 ? 0 : ids[code];
    }
  }
  // Row order (region, credit code): a counting sort by region over the code order.
  std::vector<uint32_t> start(region_codes.size() + 2, 0);
  for (uint32_t i = 0; i < n; ++i) ++start[region_of_slot[i] + 1];
  for (size_t k = 1; k < start.size(); ++k) start[k] += start[k - 1];
  s.unknown_region_rows_ = start[1];
  s.region_dict_.resize(region_codes.size() * kRegionWidth);
  s.region_begin_.clear();
  for (size_t k = 0; k < region_codes.size(); ++k) {
    for (size_t b = 0; b < kRegionWidth; ++b) {
      s.region_dict_[k * kRegionWidth + b] = static_cast<char>(region_codes[k] >> (8 * (7 - b)));
    }
    s.region_begin_.push_back(start[k + 1]);
  }
  s.region_begin_.push_back(n);
  std::vector<uint32_t> slot_of_row(n), row_of_slot(n);
  s.rows_by_code_.resize(n);
  s.source_index_.resize(n);
  {
    std::vector<uint32_t> next(start.begin(), start.end() - 1);
    for (uint32_t r = 0; r < n; ++r) {
      const uint32_t slot = slot_by_rank[r];
      const uint32_t row = next[region_of_slot[slot]]++;
      s.rows_by_code_[r] = row;
      s.source_index_[row] = r;
      slot_of_row[row] = slot;
      row_of_slot[slot] = row;
    }
  }
  region_of_slot = {};
  slot_by_rank = {};

  // Industry dictionary in code order (entry 0 = unknown).
  absl::flat_hash_map<uint64_t, uint16_t> industry_ids;
  {
    std::vector<uint64_t> codes;
    for (uint32_t i = 0; i < n; ++i) {
      const uint64_t code = LoadBE(t.industry_bytes(i), kIndustryWidth);
      if (code != 0 && industry_ids.try_emplace(code, 0).second) codes.push_back(code);
    }
    if (codes.size() >= std::numeric_limits<uint16_t>::max()) {
      return absl::InvalidArgumentError("more than 65534 distinct industry codes");
    }
    std::sort(codes.begin(), codes.end());
    s.industry_dict_.assign((codes.size() + 1) * kIndustryWidth, 0);
    industry_ids[0] = 0;
    for (size_t k = 0; k < codes.size(); ++k) {
      industry_ids[codes[k]] = static_cast<uint16_t>(k + 1);
      for (size_t b = 0; b < kIndustryWidth; ++b) {
        s.industry_dict_[(k + 1) * kIndustryWidth + b] = static_cast<char>(codes[k] >> (8 * (7 - b)));
      }
    }
  }

  // Names: offsets in row order, then the bytes.
  s.name_offsets_.resize(size_t{n} + 1);
  s.name_offsets_[0] = 0;
  for (uint32_t row = 0; row < n; ++row) {
    s.name_offsets_[row + 1] = s.name_offsets_[row] + t.name(slot_of_row[row]).size();
  }
  // Huge pages for the big columns (asked before they are first touched).
  const auto sized = [](auto& v, size_t n) {
    v.reserve(n);
    ingest_internal::AdviseHugePages(v.data(), n * sizeof(v[0]));
    v.assign(n, 0);
  };
  sized(s.names_, s.name_offsets_[n]);
  sized(s.credit_codes_, size_t{n} * kCreditCodeLen);
  sized(s.industry_ids_, s.padded_rows_);
  sized(s.founded_days_, s.padded_rows_);
  s.founded_known_.assign(s.padded_rows_ / 64, 0);
  sized(s.fact_raw_, size_t{s.padded_rows_} * s.num_facts_);
  s.fact_known_.assign(size_t{s.padded_rows_ / 64} * s.num_facts_, 0);
  // Columns, rows cut at whole known-mask words between the threads.
  ForRanges(n, 64, threads, [&](uint32_t begin, uint32_t end) {
    const size_t words = s.padded_rows_ / 64;
    constexpr uint32_t kAhead = 16;  // rows come from random table rows: prefetch them
    for (uint32_t row = begin; row < end; ++row) {
      if (row + kAhead < end) t.Prefetch(slot_of_row[row + kAhead]);
      const uint32_t slot = slot_of_row[row];
      std::memcpy(&s.credit_codes_[size_t{row} * kCreditCodeLen], t.code(slot).data(), kCreditCodeLen);
      const absl::string_view name = t.name(slot);
      if (!name.empty()) std::memcpy(&s.names_[s.name_offsets_[row]], name.data(), name.size());
      s.industry_ids_[row] = industry_ids.find(LoadBE(t.industry_bytes(slot), kIndustryWidth))->second;
      if (t.founded_known(slot)) {
        s.founded_days_[row] = t.founded_day(slot);
        SetBit(s.founded_known_.data(), row);
      }
      for (int k = 0; k < s.num_facts_; ++k) {
        if (!t.fact_known(slot, k)) continue;
        s.fact_raw_[static_cast<size_t>(k) * s.padded_rows_ + row] = t.fact_raw(slot, k);
        SetBit(&s.fact_known_[static_cast<size_t>(k) * words], row);
      }
    }
  });

  using Grant = GrantEntry;
  std::vector<Grant> grants;
  grants.reserve(t.grants().size());
  for (const FirmTable::Grant& g : t.grants()) grants.push_back({g.tag, row_of_slot[g.row], g.from, g.to});
  SortOnThreads(
      grants,
      [](const Grant& a, const Grant& b) {
        return std::tie(a.tag, a.row, a.from, a.to) < std::tie(b.tag, b.row, b.from, b.to);
      },
      threads);
  s.SetGrants(grants);
  return s;
}

absl::string_view FirmStore::region(uint32_t row) const {
  if (row < unknown_region_rows_) return "";
  // The last code whose first row is ≤ row.
  auto it = std::upper_bound(region_begin_.begin(), region_begin_.end() - 1, row);
  const size_t code = static_cast<size_t>(it - region_begin_.begin()) - 1;
  return absl::string_view(&region_dict_[code * kRegionWidth], kRegionWidth);
}

absl::string_view FirmStore::industry_code(int id) const {
  const char* p = &industry_dict_[size_t(id) * kIndustryWidth];
  return absl::string_view(p, strnlen(p, kIndustryWidth));
}

absl::string_view FirmStore::industry(uint32_t row) const {
  return industry_code(industry_ids_[row]);
}

std::optional<absl::CivilDay> FirmStore::founded(uint32_t row) const {
  if (!TestBit(founded_known_.data(), row)) return std::nullopt;
  return DayFromNumber(founded_days_[row]);
}

std::optional<Decimal> FirmStore::fact(uint32_t row, FactId id) const {
  if (!TestBit(fact_known(id), row)) return std::nullopt;
  return Decimal::FromRawUnchecked(fact_values(id)[row]);
}

TagGrantColumn FirmStore::grants(TagId id) const {
  const uint32_t b = grant_begin_[id.value], e = grant_begin_[id.value + 1];
  return {grant_rows_.data() + b, grant_from_.data() + b, grant_to_.data() + b, size_t{e - b}};
}

void FirmStore::SetGrants(const std::vector<GrantEntry>& sorted) {
  grant_begin_.assign(num_tags_ + 1, 0);
  for (const GrantEntry& g : sorted) ++grant_begin_[g.tag + 1];
  for (int t = 0; t < num_tags_; ++t) grant_begin_[t + 1] += grant_begin_[t];
  grant_rows_.reserve(sorted.size());
  grant_from_.reserve(sorted.size());
  grant_to_.reserve(sorted.size());
  for (const GrantEntry& g : sorted) {
    grant_rows_.push_back(g.row);
    grant_from_.push_back(g.from);
    grant_to_.push_back(g.to);
  }
}

FirmStore FirmStore::SelectRows(absl::Span<const uint32_t> rows, int threads) const {
  FirmStore s;
  const uint32_t n = static_cast<uint32_t>(rows.size());
  s.num_rows_ = n;
  s.padded_rows_ = (n + kBlockRows - 1) / kBlockRows * kBlockRows;
  s.num_facts_ = num_facts_;
  s.num_tags_ = num_tags_;
  constexpr uint32_t kOut = std::numeric_limits<uint32_t>::max();
  std::vector<uint32_t> new_row(num_rows_, kOut);
  for (uint32_t r = 0; r < n; ++r) new_row[rows[r]] = r;

  // Credit-code order: this store's, cut down (equal codes stay in row order, as Build's do).
  s.rows_by_code_.resize(n);
  s.source_index_.resize(n);
  uint32_t rank = 0;
  for (uint32_t old : rows_by_code_) {
    const uint32_t r = new_row[old];
    if (r == kOut) continue;
    s.rows_by_code_[rank] = r;
    s.source_index_[r] = rank++;
  }

  // Regions: the codes that keep a row, each with its first new row.
  s.unknown_region_rows_ =
      static_cast<uint32_t>(std::lower_bound(rows.begin(), rows.end(), unknown_region_rows_) - rows.begin());
  const size_t regions = region_begin_.empty() ? 0 : region_begin_.size() - 1;
  for (size_t c = 0, at = s.unknown_region_rows_; c < regions && at < n; ++c) {
    const uint32_t end = region_begin_[c + 1];
    if (rows[at] >= end) continue;
    s.region_dict_.insert(s.region_dict_.end(), &region_dict_[c * kRegionWidth],
                          &region_dict_[c * kRegionWidth] + kRegionWidth);
    s.region_begin_.push_back(static_cast<uint32_t>(at));
    at = static_cast<size_t>(std::lower_bound(rows.begin() + at, rows.end(), end) - rows.begin());
  }
  s.region_begin_.push_back(n);

  // Industries: the codes in use, in this dictionary's (code) order.
  std::vector<uint16_t> new_industry(industry_dict_.size() / kIndustryWidth, 0);
  for (uint32_t old : rows) new_industry[industry_ids_[old]] = 1;
  s.industry_dict_.assign(kIndustryWidth, 0);
  for (size_t id = 1, next = 1; id < new_industry.size(); ++id) {
    if (new_industry[id] == 0) continue;
    new_industry[id] = static_cast<uint16_t>(next++);
    s.industry_dict_.insert(s.industry_dict_.end(), &industry_dict_[id * kIndustryWidth],
                            &industry_dict_[id * kIndustryWidth] + kIndustryWidth);
  }
  if (!new_industry.empty()) new_industry[0] = 0;

  // Per-row columns, rows cut at whole known-mask words between the threads.
  s.name_offsets_.resize(size_t{n} + 1);
  s.name_offsets_[0] = 0;
  for (uint32_t r = 0; r < n; ++r) {
    s.name_offsets_[r + 1] = s.name_offsets_[r] + (name_offsets_[rows[r] + 1] - name_offsets_[rows[r]]);
  }
  s.names_.resize(s.name_offsets_[n]);
  s.credit_codes_.resize(size_t{n} * kCreditCodeLen);
  s.industry_ids_.assign(s.padded_rows_, 0);
  s.founded_days_.assign(s.padded_rows_, 0);
  s.founded_known_.assign(s.padded_rows_ / 64, 0);
  s.fact_raw_.assign(size_t{s.padded_rows_} * s.num_facts_, 0);
  s.fact_known_.assign(size_t{s.padded_rows_ / 64} * s.num_facts_, 0);
  char* codes = s.credit_codes_.data();
  char* names = s.names_.data();
  const uint64_t* offsets = s.name_offsets_.vec().data();
  uint16_t* industry = s.industry_ids_.data();
  int32_t* founded = s.founded_days_.data();
  uint64_t* founded_known = s.founded_known_.data();
  int64_t* raw = s.fact_raw_.data();
  uint64_t* known = s.fact_known_.data();
  const size_t words = s.padded_rows_ / 64;
  ForRanges(n, 64, threads, [&](uint32_t begin, uint32_t end) {
    for (uint32_t r = begin; r < end; ++r) {
      const uint32_t old = rows[r];
      std::memcpy(codes + size_t{r} * kCreditCodeLen, credit_codes_.data() + size_t{old} * kCreditCodeLen,
                  kCreditCodeLen);
      const absl::string_view nm = name(old);
      if (!nm.empty()) std::memcpy(names + offsets[r], nm.data(), nm.size());
      industry[r] = new_industry[industry_ids_[old]];
      if (TestBit(founded_known_.data(), old)) {
        founded[r] = founded_days_[old];
        SetBit(founded_known, r);
      }
    }
    for (int k = 0; k < num_facts_; ++k) {
      const int64_t* from_raw = fact_values(FactId(k));
      const uint64_t* from_known = fact_known(FactId(k));
      int64_t* to_raw = raw + size_t(k) * s.padded_rows_;
      uint64_t* to_known = known + size_t(k) * words;
      for (uint32_t r = begin; r < end; ++r) {
        const uint32_t old = rows[r];
        if (!TestBit(from_known, old)) continue;
        to_raw[r] = from_raw[old];
        SetBit(to_known, r);
      }
    }
  });

  // Tag grants: each tag's, cut down (still sorted by row, valid_from, valid_to).
  s.grant_begin_.assign(size_t(num_tags_) + 1, 0);
  for (int t = 0; t < num_tags_; ++t) {
    for (uint32_t g = grant_begin_[t]; g < grant_begin_[t + 1]; ++g) {
      const uint32_t r = new_row[grant_rows_[g]];
      if (r == kOut) continue;
      s.grant_rows_.push_back(r);
      s.grant_from_.push_back(grant_from_[g]);
      s.grant_to_.push_back(grant_to_[g]);
    }
    s.grant_begin_[t + 1] = static_cast<uint32_t>(s.grant_rows_.size());
  }
  return s;
}

Firm FirmStore::ToFirm(uint32_t row) const {
  Firm f;
  f.credit_code = std::string(credit_code(row));
  f.name = std::string(name(row));
  f.region = std::string(region(row));
  f.industry = std::string(industry(row));
  f.founded = founded(row);
  for (int k = 0; k < num_facts_; ++k) f.facts.push_back(fact(row, FactId(k)));
  for (int t = 0; t < num_tags_; ++t) {
    const TagGrantColumn g = grants(TagId(t));
    const uint32_t* lo = std::lower_bound(g.rows, g.rows + g.size, row);
    for (size_t i = lo - g.rows; i < g.size && g.rows[i] == row; ++i) {
      TagGrantRecord r;
      r.tag = TagId(t);
      if (g.from[i] != kOpenFrom) r.valid_from = DayFromNumber(g.from[i]);
      if (g.to[i] != kOpenTo) r.valid_to = DayFromNumber(g.to[i]);
      f.tags.push_back(std::move(r));
    }
  }
  return f;
}

std::optional<uint32_t> FirmStore::FindRow(absl::string_view code) const {
  if (code.size() != kCreditCodeLen) return std::nullopt;
  auto it = std::lower_bound(rows_by_code_.begin(), rows_by_code_.end(), code,
                             [&](uint32_t row, absl::string_view c) { return credit_code(row) < c; });
  if (it == rows_by_code_.end() || credit_code(*it) != code) return std::nullopt;
  return *it;
}

namespace {

// Rows whose region starts with `prefix`, given the sorted dictionary.
RowRange PrefixRange(const Column<char>& dict, const Column<uint32_t>& begin,
                     absl::string_view prefix) {
  const size_t codes = begin.size() - 1;
  auto code_at = [&](size_t i) { return absl::string_view(&dict[i * 6], prefix.size()); };
  size_t lo = 0, hi = codes;
  while (lo < hi) {  // first code ≥ prefix
    size_t mid = (lo + hi) / 2;
    if (code_at(mid) < prefix) lo = mid + 1; else hi = mid;
  }
  size_t first = lo;
  hi = codes;
  while (lo < hi) {  // first code > prefix
    size_t mid = (lo + hi) / 2;
    if (code_at(mid) <= prefix) lo = mid + 1; else hi = mid;
  }
  return {begin[first], begin[lo]};
}

}  // namespace

RowRange FirmStore::RegionRange(absl::string_view code) const {
  if (code.size() != kRegionWidth || region_begin_.size() < 2) return {};
  size_t len = 6;
  if (code.substr(2) == "0000") {
    len = 2;
  } else if (code.substr(4) == "00") {
    len = 4;
  }
  return PrefixRange(region_dict_, region_begin_, code.substr(0, len));
}

RowRange FirmStore::RegionExactRange(absl::string_view code) const {
  if (code.size() != kRegionWidth || region_begin_.size() < 2) return {};
  return PrefixRange(region_dict_, region_begin_, code);
}

}  // namespace polmatch
