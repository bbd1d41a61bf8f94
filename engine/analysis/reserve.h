// File: reserve.h
//
// Reserve lists (后备库, 漯河 "小升高", 湖北 高企后备): the firms one condition away from a
// policy — its NEAR_MISS firms (SPEC §3) — each with the one condition it misses and, when that
// condition compares numbers, how far the firm is from the threshold:
//
//   91441502MA58CQ004F  汕尾城区数据服务有限公司   年营业收入 9,999,000 < 10,000,000 (gap 1,000)
//
// Closest first: firms with a numeric gap by relative gap (gap / the larger of |threshold| and
// |value|), then absolute gap; then firms missing something that is not a number (a tag, an
// `or`), by credit code. The bureau cultivates from the top of the list.
//
// The near-miss rows come from the bulk matcher; the missed condition and its gap from the
// reference evaluator on each of those firms (they are few: near misses are a small share).
#ifndef POLMATCH_ANALYSIS_RESERVE_H_
#define POLMATCH_ANALYSIS_RESERVE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/ingest/firm.h"
#include "engine/match/bulk_matcher.h"
#include "engine/util/decimal.h"
#include "roaring/roaring.hh"

namespace polmatch {

// How far a firm's value is from the threshold of the comparison it fails.
struct ThresholdGap {
  std::string subject;         // a fact's name ("年营业收入") or the expression as written
  Decimal value;               // the firm's value of the subject
  Decimal threshold;           // what the condition compares it with, for this firm
  std::string threshold_text;  // the threshold as written when it is not a constant (shown if short)
  Op needed = Op::kGe;         // the condition asks: value `needed` threshold
  Decimal gap;                 // |threshold − value|
  Decimal relative;            // gap / max(|threshold|, |value|); 0 when both are 0

  // "年营业收入 9,000,000 < 10,000,000 (gap 1,000,000)"; at the boundary of a strict
  // comparison "新增研发仪器设备投资额 0 = 0 (needs > 0)".
  std::string ToString() const;
};

struct ReserveEntry {
  uint32_t row = 0;
  std::string credit_code;
  std::string name;
  std::string region;
  int condition = -1;               // index into CompiledPolicy::conditions
  std::string condition_text;       // as written
  std::optional<ThresholdGap> gap;  // when the missed condition compares numbers
  std::string data;                 // the firm's data behind the condition
};

// The one false top-level condition of a NEAR_MISS firm, with its gap; nullopt unless exactly one
// condition is false and all others true.
std::optional<ReserveEntry> DescribeNearMiss(const CompiledPolicy& policy, const Taxonomy& taxonomy,
                                             const FirmView& firm);

// Closest first (see the file comment).
void SortClosestFirst(std::vector<ReserveEntry>* entries);

// The reserve list of `policy`: every row of `near_miss` (store rows, e.g.
// BulkResult::policy(p).near_miss) described and sorted closest first.
std::vector<ReserveEntry> BuildReserveList(const CompiledPolicy& policy, const Taxonomy& taxonomy,
                                           const FirmStore& store, const Roaring& near_miss,
                                           absl::CivilDay as_of);

// Near misses of one policy counted by the condition missed (the batch's summary.json counts
// them per policy as "near_miss"; this says what they miss).
struct ReserveSummary {
  int policy = -1;  // catalog index
  int64_t near_miss = 0;
  // Condition text → firms missing it, most first (ties: condition order).
  std::vector<std::pair<std::string, int64_t>> by_condition;
};
std::vector<ReserveSummary> SummarizeReserves(const Catalog& catalog, const FirmStore& store,
                                              const BulkResult& result, absl::CivilDay as_of);

}  // namespace polmatch

#endif  // POLMATCH_ANALYSIS_RESERVE_H_
