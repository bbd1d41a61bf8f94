// File: nightly.h
//
// The nightly rules of the grant ledger (SPEC §7), run by `batch --ledger` after the night's
// outputs are written. For every ELIGIBLE firm of an active AUTO_GRANT policy with a positive
// amount, in the period of as_of given by the policy's grant_period:
//   * no grant yet (or only one the night itself withdrew) → a PROPOSED grant, amount frozen;
//   * an unpaid grant with another amount → the amount updated (CHANGED, kept in the history);
//   * a PAID grant whose amount is now higher → an adjustment (补发, its own grant with id
//     "…/ADJn") for the difference; lower → REVIEW on the paid grant, never recovered;
//   * grant_cap: a firm's grants of one cap group in one cap period never exceed the cap, paid
//     plus unpaid; the unpaid are reduced in (policy id, grant id) order, the uncapped amount kept.
// Unpaid grants of the current period whose firm is not ELIGIBLE tonight are WITHDRAWN with the
// reason (a grant of an inactive or removed policy, or of another period, is left as it is).
// Everything is decided from the night and the ledger only (no wall clock), written in one
// transaction: the same night run twice changes nothing the second time. A policy whose period,
// cap, text and eligible firms with their amounts are those of the last night that processed it
// (its night mark), and whose grants no step has changed since, is skipped: a steady night reads
// no grant. The changed policies are decided and written in batches (those under a changed cap
// together, first; then the others in policy id order), each batch in grant id order.
#ifndef POLMATCH_LEDGER_NIGHTLY_H_
#define POLMATCH_LEDGER_NIGHTLY_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "engine/catalog/catalog.h"
#include "engine/ingest/firm.h"
#include "engine/ledger/kept_rules.h"
#include "engine/ledger/ledger_store.h"
#include "engine/index/firm_store.h"
#include "engine/output/night.h"
#include "engine/output/output_dir.h"

namespace polmatch {

struct LedgerNight {
  const Catalog* catalog = nullptr;
  const NightResult* night = nullptr;
  // The firm of a night firm id (only called for the grants tonight writes).
  std::function<Firm(uint32_t)> firm_of;
  TaxonomyTexts taxonomy;  // the tag library the catalog was compiled against
  // Changed policies are decided and written in batches of about this many grants (one
  // transaction still): memory stays bounded on a first night. The outcome does not depend on it
  // (0: the whole night as one batch).
  int64_t batch_grants = 250'000;
  // A rerun of a night: whether the caller holds a proposals.csv of this size and checksum
  // (the last night's, ProposalsMemo) that it may reuse instead of the ledger reading the night's
  // entries back. Unset: always read back.
  std::function<bool(const ProposalsMemo&)> can_reuse_proposals;
};

struct LedgerNightCounts {
  int64_t proposed = 0, changed = 0, adjustments = 0, withdrawn = 0, review = 0;
  int64_t policies_changed = 0;  // policies whose rules or eligible firms changed since their last night
  int64_t grants_scanned = 0;    // the ledger's grants of those policies in tonight's periods
  // proposals.csv is the one can_reuse_proposals accepted (nothing was written for it).
  bool proposals_reused = false;
};

absl::StatusOr<LedgerNightCounts> ProposeNight(LedgerStore& ledger, const LedgerNight& night);
// The same, and `*proposals_csv` = ProposalsCsv(ledger, as_of) after the night: made from what
// the night wrote when no earlier run of that date left entries (a first night does not read its
// grants back), read from the ledger otherwise.
absl::StatusOr<LedgerNightCounts> ProposeNight(LedgerStore& ledger, const LedgerNight& night,
                                               std::string* proposals_csv);
// The same, proposals.csv streamed into `proposals` while the night is decided (bounded memory).
// Nothing is written into it when counts.proposals_reused.
absl::StatusOr<LedgerNightCounts> ProposeNight(LedgerStore& ledger, const LedgerNight& night,
                                               ByteSink* proposals);

// proposals.csv of the night of `as_of`: the entries the nights of that date wrote, in order:
// grant_id,policy_id,credit_code,name,period,change,amount_yuan,previous_amount_yuan,reason
absl::StatusOr<std::string> ProposalsCsv(LedgerStore& ledger, const std::string& as_of);

// `batch --ledger PATH`: opens (or creates) the ledger, runs the night (firms are `store` rows,
// the tag library is read from RULES_DIR/taxonomy) and writes proposals.csv into `out`, the
// night's directory before its commit. `previous_proposals`, if set, is the last night's
// proposals.csv: a file equal to it is linked, not written again (a rerun of the same night).
absl::StatusOr<LedgerNightCounts> RunLedgerNight(const std::string& path, const std::string& rules_dir,
                                                 const Catalog& catalog, const NightResult& night,
                                                 const FirmStore& store, AtomicOutputDir* out,
                                                 const std::string& previous_proposals = "");
std::string DescribeCounts(const LedgerNightCounts& counts);

}  // namespace polmatch

#endif  // POLMATCH_LEDGER_NIGHTLY_H_
