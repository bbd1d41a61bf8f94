// File: night_from.h
//
// Building a NightResult from either matcher: the bitset engine (the nightly batch) or the
// reference matcher (small registries, and cross-checks with `batch --engine reference`).
#ifndef POLMATCH_OUTPUT_NIGHT_FROM_H_
#define POLMATCH_OUTPUT_NIGHT_FROM_H_

#include <functional>
#include <vector>

#include "absl/time/civil_time.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/ingest/firm.h"
#include "engine/match/bulk_matcher.h"
#include "engine/output/night.h"

namespace polmatch {

// Firm ids are store rows; names are read from `store`, which must outlive the result. The
// bitmaps and benefits are moved out of `result` (its policies are left empty).
NightResult NightFromBulk(const Catalog& catalog, const FirmStore& store, BulkResult&& result,
                          absl::CivilDay as_of);

// Firm ids are positions in `firms`. `progress`, if set, is called with the number of firms done.
NightResult NightFromReference(const Catalog& catalog, const std::vector<Firm>& firms,
                               absl::CivilDay as_of,
                               const std::function<void(size_t)>& progress = {});

}  // namespace polmatch

#endif  // POLMATCH_OUTPUT_NIGHT_FROM_H_
