// File: lifecycle.h
//
// The grant ledger's lifecycle steps after a night has proposed (SPEC §7): 公示 (publish),
// 异议 (object, resolve), 意愿确认 (confirm, decline), approval, payment (pay), 追回 (recover), and
// the audit that replays a grant from what the ledger kept. Each step is one ledger transaction:
// a step the state machine forbids changes nothing and returns FailedPrecondition with one line
// naming the grant, its state and what was asked; an unknown grant is NotFound.
//
//   PROPOSED ─publish→ PUBLISHED ─approve→ APPROVED ─pay→ PAID ─recover→ RECOVERED
//                       │  ↑ dismissed
//                    object→ OBJECTED ─upheld→ WITHDRAWN      (decline: any unpaid → WITHDRAWN)
#ifndef POLMATCH_LEDGER_LIFECYCLE_H_
#define POLMATCH_LEDGER_LIFECYCLE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "engine/ledger/ledger_store.h"
#include "proto/polmatch.pb.h"

namespace polmatch {

// The last day of a 公示 that starts on `from` and lasts `working_days` working days
// (WorkingCalendar::PublicityEnd).
using PublicityEndFn = std::function<absl::StatusOr<absl::CivilDay>(absl::CivilDay from, int working_days)>;

// Starts 公示 for every PROPOSED grant of `policy_id`: from `from` for the publicity_days of the
// policy text the grant kept (0 = no 公示: approvable from `from`). Returns the grants published, by
// id; FailedPrecondition when the policy has no PROPOSED grant.
absl::StatusOr<std::vector<GrantRecord>> PublishGrants(LedgerStore& ledger, const std::string& policy_id,
                                                       absl::CivilDay from, const PublicityEndFn& publicity_end);

enum class ClerkStep { kObject, kDismiss, kUphold, kConfirm, kDecline, kRecover };
struct ClerkAction {
  ClerkStep step = ClerkStep::kObject;
  std::string grant_id;
  absl::CivilDay date;
  std::string note;
  int line = 0;  // the row of a --file (for messages); 0 = the command line
};
// Records actions in one transaction: all of them, or none when any is refused (every refusal
// is returned, one line each, in the error's message).
absl::Status RecordActions(LedgerStore& ledger, const std::vector<ClerkAction>& actions);

// Moves to APPROVED every PUBLISHED grant whose 公示 ended before `date` (no open objection: an
// objected grant is OBJECTED, not PUBLISHED) and, where required, confirmed. Returns them.
absl::StatusOr<std::vector<GrantRecord>> ApproveGrants(LedgerStore& ledger, absl::CivilDay date);

struct Payment {
  int line = 0;  // in the file
  std::string grant_id;
  std::string amount_yuan;
  std::string paid_on;
  std::string reference;
};
struct PaymentOutcome {
  std::vector<std::string> paid;      // grant ids recorded
  std::vector<std::string> refused;   // "line N: grant …: reason"
};
// Records every payment that matches an APPROVED grant's amount (once each); refuses the others
// with their line and reason. One transaction.
absl::StatusOr<PaymentOutcome> RecordPayments(LedgerStore& ledger, const std::vector<Payment>& payments);

// Grants and their history (list, show, export).
struct GrantWithHistory {
  GrantRecord grant;
  std::vector<HistoryEntry> history;
};
absl::StatusOr<std::vector<GrantWithHistory>> ListGrants(const LedgerStore& ledger, const GrantQuery& query);
// SPEC §7's `grants list --json` object.
std::string GrantsJson(const std::vector<GrantWithHistory>& grants);

// The replay of a grant from what the ledger kept: the policy's text, the tag library and the
// firm's data as they were, on the grant's as_of, with the reference evaluator (the policy alone:
// exclusive groups, limits and caps are not replayed; the amount compared is the policy's amount
// before the cap).
struct AuditReport {
  GrantRecord grant;
  bool agrees = false;
  std::string disagreement;      // why not, when not
  bool text_intact = false;      // the kept text still has its digest
  PolicyResult replay;           // status, amount, conditions with the firm's data
};
absl::StatusOr<AuditReport> AuditGrant(const LedgerStore& ledger, const std::string& grant_id);

}  // namespace polmatch

#endif  // POLMATCH_LEDGER_LIFECYCLE_H_
