// File: grant.h
//
// A grant of the 免申即享 ledger (SPEC §7): one (policy, firm, period) and where it stands, plus
// the history entries that record every step. Money is held in integer fen; ids and periods are
// text so that a clerk can read them and a rerun computes the same ones.
//
// Example:
//   PeriodOf(QUARTERLY, absl::CivilDay(2023, 5, 7));                 // "2023Q2"
//   GrantId("shanwei-2021.4.4", "91441502MA4W0PA9X8", "ONCE");      // "shanwei-2021.4.4/91441502MA4W0PA9X8/ONCE"
#ifndef POLMATCH_LEDGER_GRANT_H_
#define POLMATCH_LEDGER_GRANT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "engine/util/decimal.h"
#include "proto/polmatch.pb.h"

namespace polmatch {

// PROPOSED → PUBLISHED → APPROVED → PAID; OBJECTED (back to PUBLISHED when dismissed);
// WITHDRAWN before payment; RECOVERED after it.
enum class GrantState { kProposed, kPublished, kObjected, kApproved, kPaid, kWithdrawn, kRecovered };

absl::string_view StateName(GrantState s);  // "PROPOSED", …
std::optional<GrantState> ParseGrantState(absl::string_view name);
// Not yet paid and not ended: the nightly rules may change its amount or withdraw it.
inline bool IsUnpaid(GrantState s) {
  return s == GrantState::kProposed || s == GrantState::kPublished || s == GrantState::kObjected ||
         s == GrantState::kApproved;
}

// Who withdrew a grant. A grant the night withdrew (eligibility lost, cap reached) may be proposed
// again by a later night; one withdrawn by a person (objection upheld, firm declined) stays so.
enum class WithdrawnBy { kNone, kNight, kPerson };

// The period of `as_of` for a grant_period: "ONCE", "2023", "2023Q2" or "2023-05".
std::string PeriodOf(GrantPeriod period, absl::CivilDay as_of);
// "policy/credit_code/period"; an adjustment (补发) of it appends "/ADJn".
std::string GrantId(absl::string_view policy, absl::string_view credit_code, absl::string_view period);

// Fen ⇄ yuan text. Amounts reach the ledger already rounded to the fen.
int64_t ToFen(Decimal yuan);               // yuan.RoundHalfUp(2) in fen
std::string FenToYuan(int64_t fen);        // "2000000.00"
// "2000000", "2000000.5", "2000000.50": at most two places, not negative.
absl::StatusOr<int64_t> ParseYuanToFen(absl::string_view text);

struct GrantRecord {
  std::string id;
  std::string policy_id;
  std::string credit_code;
  std::string name;               // the firm's, when the amount was last set
  std::string period;
  std::string base_id;            // an adjustment (补发): the PAID grant it adds to; "" otherwise
  std::string cap_key;            // "cap-id/period of the cap" when the policy has a cap_group
  GrantState state = GrantState::kProposed;
  WithdrawnBy withdrawn_by = WithdrawnBy::kNone;
  int64_t amount_fen = 0;         // what is to be (or was) paid: after the cap
  int64_t uncapped_fen = 0;       // before the cap
  int64_t entitlement_fen = 0;    // the policy's amount for the firm that night (an adjustment's
                                  // base + adjustments add up to it); what audit replays
  int64_t paid_fen = 0;
  int64_t recovered_fen = 0;
  int64_t review_fen = 0;         // a PAID grant's lower amount flagged for review (0 = none)
  bool requires_confirmation = false;
  bool confirmed = false;
  bool objection_open = false;
  std::string as_of;              // the night that set the amount
  std::string policy_digest;      // sha256 of the policy's text that night
  std::string taxonomy_digest;    // sha256 of the tag library that night
  std::string firm_data;          // the firm's data the policy read (FirmProfile JSON)
  std::string publicity_from, publicity_to;
  std::string paid_on, payment_reference;
};

// One step of a grant. Appended, never changed.
struct HistoryEntry {
  int64_t seq = 0;                // assigned by the store, ascending
  std::string grant_id;
  std::string date;               // the night's as_of, or the command's --date
  std::string event;              // NEW, CHANGED, ADJUSTMENT, WITHDRAWN, REVIEW (nights); PUBLISHED,
                                  // OBJECTED, RESOLVED, CONFIRMED, DECLINED, APPROVED, PAID, RECOVERED
  GrantState state = GrantState::kProposed;  // after the step
  int64_t amount_fen = 0;
  int64_t previous_fen = 0;
  std::string note;               // the reason, the clerk's note, the payment reference
  bool by_night = false;          // written by `batch --ledger` (proposals.csv lists these)
};

}  // namespace polmatch

#endif  // POLMATCH_LEDGER_GRANT_H_
