// File: limit_placement.h
//
// LimitPlacement places one registered firm within the policies that have a `limit`: whether a
// firm ELIGIBLE for such a policy is among the `limit` best ranked of the whole registry
// (semantics::RanksBefore) or becomes NOT_SELECTED. The ranking is a property of the registry,
// not of the firm, so it is computed once per `as_of` by the bulk matcher (which ranks as the
// reference's ApplyLimits does; tests hold them together) over a sub-catalog of the limited
// policies and their exclusive-group peers (groups are resolved before limits), and kept for the
// few most recent dates. Every single-firm answer — Engine::Match, MatchStatuses, Explain, and so
// `polmatch query`/`check` — places limits through this class.
//
// Thread-safe; the catalog and the store must outlive it.
//
// Example:
//   ASSIGN_OR_RETURN(std::unique_ptr<LimitPlacement> limits, LimitPlacement::Create(catalog, &store, 2));
//   index.Match(view, &hits);
//   limits->Apply(FirmRow(row), as_of, hits);   // ELIGIBLE → NOT_SELECTED where the registry ranks the firm out
#ifndef POLMATCH_MATCH_LIMIT_PLACEMENT_H_
#define POLMATCH_MATCH_LIMIT_PLACEMENT_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/match/bulk_matcher.h"
#include "engine/match/policy_index.h"

namespace polmatch {

class LimitPlacement {
 public:
  // `store` may be null (no registry: nothing is ranked). `threads` for each registry-wide ranking.
  static absl::StatusOr<std::unique_ptr<LimitPlacement>> Create(const Catalog& catalog, const FirmStore* store,
                                                                int threads);
  LimitPlacement(const LimitPlacement&) = delete;
  LimitPlacement& operator=(const LimitPlacement&) = delete;

  // Whether the catalog index `policy` has a limit.
  bool limited(int policy) const { return limited_[policy] != 0; }

  // The store row's hits (catalog indexes, statuses of PolicyIndex::Match): each ELIGIBLE hit of
  // a limited policy whose registry-wide ranking on `as_of` leaves `row` out becomes NOT_SELECTED.
  void Apply(FirmRow row, absl::CivilDay as_of, std::vector<PolicyHit>& hits) const;

 private:
  LimitPlacement() = default;
  // The NOT_SELECTED rows of every sub-catalog policy on `as_of` (null if the matcher failed).
  std::shared_ptr<const BulkResult> Ranking(absl::CivilDay as_of) const;

  const FirmStore* store_ = nullptr;
  int threads_ = 1;
  std::vector<uint8_t> limited_;        // by catalog index
  std::optional<Catalog> sub_catalog_;  // limited policies and their group peers (none: unset)
  std::vector<int> to_sub_;             // CatalogIndex → index in sub_catalog_, -1 if not there
  mutable std::mutex mu_;
  mutable std::map<absl::CivilDay, std::shared_ptr<const BulkResult>> rankings_;  // a few recent dates
};

}  // namespace polmatch

#endif  // POLMATCH_MATCH_LIMIT_PLACEMENT_H_
