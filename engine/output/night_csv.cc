// File: night_csv.cc
//
// grants.csv and lists.csv: the ELIGIBLE firms of the AUTO_GRANT policies,
// as amounts or as list entries (see night.h).
#include <algorithm>

#include "engine/output/night.h"
#include "engine/output/night_internal.h"
#include "engine/util/csv_field.h"

namespace polmatch {

using night_internal::AppendYuan;

namespace {

// The ELIGIBLE rows of the AUTO_GRANT policies `pick` accepts, sorted by policy id then credit
// code: `header`, then `policy_id,credit_code,name,` and what `last` appends for the firm's raw
// benefit (kNoBenefit when none). `last` returns false to leave the row out.
constexpr int64_t kNoBenefit = INT64_MIN;
template <typename Pick, typename Last>
absl::Status WriteEligibleRows(const NightResult& night, ByteSink* sink, const StreamOptions& options,
                               absl::string_view header, Pick pick, Last last) {
  ChunkedWriter w(sink, options.chunk);
  std::string& out = w.buf();
  out.append(header.data(), header.size());
  std::vector<uint32_t> rank;
  // (rank, raw benefit or kNoBenefit) of one policy's ELIGIBLE firms, sorted by rank.
  std::vector<std::pair<uint32_t, int64_t>> firms;
  for (const PolicyNight& p : night.policies) {
    if (!p.auto_grant || !pick(p)) continue;
    if (rank.empty()) {
      rank.resize(night.num_firms());
      for (uint32_t i = 0; i < rank.size(); ++i) rank[night.code_order[i]] = i;
    }
    firms.clear();
    firms.reserve(p.by_status[ELIGIBLE].cardinality());
    auto b = p.benefits.begin();
    for (uint32_t firm : p.by_status[ELIGIBLE]) {  // ascending id: BenefitOf by walking along
      while (b != p.benefits.end() && b->first < firm) ++b;
      firms.emplace_back(rank[firm], b != p.benefits.end() && b->first == firm ? b->second : kNoBenefit);
    }
    std::sort(firms.begin(), firms.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    std::string id;
    AppendCsvField(p.id, &id);
    std::string field;
    // Lines in blocks: the codes and names (scattered in memory at S2) of a block are looked up
    // and prefetched first, so their cache misses overlap instead of stalling line by line.
    constexpr size_t kBlock = 32;
    absl::string_view codes[kBlock], names[kBlock];
    for (size_t at = 0; at < firms.size(); at += kBlock) {
      const size_t n = std::min(kBlock, firms.size() - at);
      for (size_t i = 0; i < n; ++i) {
        const uint32_t firm = night.code_order[firms[at + i].first];
        codes[i] = night.code(firm);
        __builtin_prefetch(codes[i].data());
      }
      for (size_t i = 0; i < n; ++i) {
        names[i] = night.name(night.code_order[firms[at + i].first]);
        __builtin_prefetch(names[i].data());
      }
      for (size_t i = 0; i < n; ++i) {
        field.clear();
        if (!last(p, firms[at + i].second, &field)) continue;
        out.append(id);
        out.push_back(',');
        out.append(codes[i].data(), codes[i].size());
        out.push_back(',');
        AppendCsvField(names[i], &out);
        out.push_back(',');
        out.append(field);
        out.push_back('\n');
      }
      if (absl::Status s = w.MaybeFlush(); !s.ok()) return s;
    }
  }
  return w.Flush();
}

}  // namespace

absl::Status WriteGrantsCsv(const NightResult& night, ByteSink* sink, const StreamOptions& options) {
  // Only a known, positive amount is a grant: a zero amount is not (SPEC §5).
  return WriteEligibleRows(
      night, sink, options, "policy_id,credit_code,name,benefit_yuan\n",
      [](const PolicyNight& p) { return !p.listed; },
      [](const PolicyNight&, int64_t raw, std::string* field) {
        if (raw == kNoBenefit || raw <= 0) return false;
        AppendYuan(field, raw);
        return true;
      });
}

absl::Status WriteListsCsv(const NightResult& night, ByteSink* sink, const StreamOptions& options) {
  return WriteEligibleRows(
      night, sink, options, "policy_id,credit_code,name,benefit_note\n",
      [](const PolicyNight& p) { return p.listed; },
      [](const PolicyNight& p, int64_t, std::string* field) {
        AppendCsvField(p.benefit_note, field);
        return true;
      });
}

std::string GrantsCsv(const NightResult& night) {
  std::string out;
  StringSink sink(&out);
  (void)WriteGrantsCsv(night, &sink);
  return out;
}

std::string ListsCsv(const NightResult& night) {
  std::string out;
  StringSink sink(&out);
  (void)WriteListsCsv(night, &sink);
  return out;
}

}  // namespace polmatch
