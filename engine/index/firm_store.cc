#include "engine/index/firm_store.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

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

  struct Grant {
    uint32_t tag, row;
    int32_t from, to;
  };
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
  s.grant_begin_.assign(s.num_tags_ + 1, 0);
  for (const Grant& g : grants) ++s.grant_begin_[g.tag + 1];
  for (int t = 0; t < s.num_tags_; ++t) s.grant_begin_[t + 1] += s.grant_begin_[t];
  s.grant_rows_.reserve(grants.size());
  s.grant_from_.reserve(grants.size());
  s.grant_to_.reserve(grants.size());
  for (const Grant& g : grants) {
    s.grant_rows_.push_back(g.row);
    s.grant_from_.push_back(g.from);
    s.grant_to_.push_back(g.to);
  }

  s.rows_by_code_.resize(n);
  std::iota(s.rows_by_code_.begin(), s.rows_by_code_.end(), 0);
  std::sort(s.rows_by_code_.begin(), s.rows_by_code_.end(), [&](uint32_t a, uint32_t b) {
    const int c = std::memcmp(&s.credit_codes_[size_t{a} * kCreditCodeLen],
                              &s.credit_codes_[size_t{b} * kCreditCodeLen], kCreditCodeLen);
    return c != 0 ? c < 0 : a < b;
  });
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
RowRange PrefixRange(const std::vector<char>& dict, const std::vector<uint32_t>& begin,
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
