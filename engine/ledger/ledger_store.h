// File: ledger_store.h
//
// Where the grant ledger lives, behind a small interface: the nightly rules and the lifecycle
// commands read and write grants and history through a LedgerTransaction and know no SQL. The
// SQLite implementation (sqlite_ledger.h) is one file; a server database can be added later as
// another implementation.
//
// Contract: every Write() is one transaction — all its changes or none, whatever moment the
// process dies; one writer at a time (others wait); readers see the last committed state and are
// never blocked by the writer. History entries are only appended.
//
// Example:
//   ASSIGN_OR_RETURN(std::unique_ptr<LedgerStore> ledger, OpenSqliteLedger("grants.db", LedgerMode::kReadWrite));
//   RETURN_IF_ERROR(ledger->Write([&](LedgerTransaction& txn) -> absl::Status {
//     ASSIGN_OR_RETURN(std::optional<GrantRecord> g, txn.Find(id));
//     …
//     return txn.Put(*g);
//   }));
#ifndef POLMATCH_LEDGER_LEDGER_STORE_H_
#define POLMATCH_LEDGER_LEDGER_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/ledger/grant.h"

namespace polmatch {

// Which grants a query returns (all of the given conditions; empty = any).
struct GrantQuery {
  std::string credit_code;
  std::string policy_id;
  std::optional<GrantState> state;
  std::vector<std::string> policy_ids;  // with `periods`: grants of these policies in these periods …
  std::vector<std::string> periods;     // any of these periods …
  std::vector<std::string> cap_keys;    // … or any of these cap keys (when either list is given)
  bool with_firm_data = true;         // false: firm_data left empty (the nightly scan)
};

// A history entry written by a night, with its grant's policy, firm and period.
struct NightEntry {
  HistoryEntry entry;
  std::string policy_id, credit_code, name, period;
};

// What a night's proposals.csv was (LedgerTransaction::GetProposalsMemo).
struct ProposalsMemo {
  std::string date;       // the night's as_of
  uint64_t size = 0;      // bytes
  uint64_t checksum = 0;  // Checksum64 (engine/util/framing.h)
};

// The rules and the data of one night, kept once per digest.
struct StoredText {
  std::string digest;
  std::string kind;  // "policy" or "taxonomy"
  std::string text;
};

class LedgerTransaction {
 public:
  virtual ~LedgerTransaction() = default;
  virtual absl::StatusOr<std::optional<GrantRecord>> Find(const std::string& id) = 0;
  // In id order.
  virtual absl::StatusOr<std::vector<GrantRecord>> Query(const GrantQuery& query) = 0;
  // A grant's history, oldest first.
  virtual absl::StatusOr<std::vector<HistoryEntry>> History(const std::string& grant_id) = 0;
  // The entries written by the nights of `date`, in the order written.
  virtual absl::StatusOr<std::vector<NightEntry>> NightEntries(const std::string& date) = 0;
  // The same, one at a time (the entry passed is reused: copy what must outlive the call).
  virtual absl::Status ForEachNightEntry(const std::string& date, const std::function<void(const NightEntry&)>& fn) {
    absl::StatusOr<std::vector<NightEntry>> entries = NightEntries(date);
    if (!entries.ok()) return entries.status();
    for (const NightEntry& e : *entries) fn(e);
    return absl::OkStatus();
  }
  // Whether a night of `date` has written any entry (a store may answer without reading them).
  virtual absl::StatusOr<bool> HasNightEntries(const std::string& date) {
    absl::StatusOr<std::vector<NightEntry>> entries = NightEntries(date);
    if (!entries.ok()) return entries.status();
    return !entries->empty();
  }
  virtual absl::StatusOr<std::optional<StoredText>> Text(const std::string& digest) = 0;

  // Writes (a read-only transaction refuses them). Put inserts or replaces the grant's current
  // state; Append adds one history entry.
  virtual absl::Status Put(const GrantRecord& grant) = 0;
  virtual absl::Status Append(const HistoryEntry& entry) = 0;
  // Keeps a text once (a digest already stored is left as it is).
  virtual absl::Status PutText(const StoredText& text) = 0;

  // Night marks: what the last night that processed a policy saw (its period and a fingerprint
  // of its rules and eligible firms). A mark certifies that the policy's grants are as that night
  // left them: Put() of any grant of the policy removes it, so a later night with the same mark
  // has nothing to do for that policy.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> NightMarks() = 0;
  virtual absl::Status PutNightMark(const std::string& policy_id, const std::string& mark) = 0;

  // The proposals memo: the size and checksum of the proposals.csv a night of `date` wrote, kept
  // only while nothing else is written: a transaction that puts a grant or appends an entry
  // drops it. A rerun of that night that writes nothing may then reuse the file it names instead
  // of reading the night's entries back. A store without one answers nullopt (always read back).
  virtual absl::StatusOr<std::optional<ProposalsMemo>> GetProposalsMemo() { return std::nullopt; }
  virtual absl::Status PutProposalsMemo(const ProposalsMemo& memo) { return absl::OkStatus(); }
  // Whether this transaction has put a grant or appended an entry so far (true when unknown).
  virtual bool WroteGrants() const { return true; }
};

class LedgerStore {
 public:
  virtual ~LedgerStore() = default;
  // Runs `body` in one write transaction: committed when it returns Ok, rolled back otherwise
  // (its error is returned).
  virtual absl::Status Write(const std::function<absl::Status(LedgerTransaction&)>& body) = 0;
  // Runs `body` on one consistent read snapshot. Thread-safe.
  virtual absl::Status Read(const std::function<absl::Status(LedgerTransaction&)>& body) const = 0;
};

enum class LedgerMode { kReadWrite, kReadOnly };

// The SQLite ledger: one file (created on first use in kReadWrite), WAL, a schema version with
// its migrations. kReadOnly fails with NotFound when the file does not exist or holds no ledger
// yet (a first command died before it committed).
absl::StatusOr<std::unique_ptr<LedgerStore>> OpenSqliteLedger(const std::string& path, LedgerMode mode);

}  // namespace polmatch

#endif  // POLMATCH_LEDGER_LEDGER_STORE_H_
