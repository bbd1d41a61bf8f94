// The SQLite ledger (ledger_store.h): one file, WAL, every Write one BEGIN IMMEDIATE transaction.
// The grants table holds each grant's current state (updated in the same transaction as the
// history entry that explains the change); history is append-only (triggers refuse UPDATE and
// DELETE); texts keeps each policy text and tag library once by digest.
#include <sqlite3.h>

#include <mutex>

#include "absl/container/flat_hash_set.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/ledger/ledger_store.h"
#include "engine/util/status_macros.h"

namespace polmatch {
namespace {

// Schema migrations, applied in order; PRAGMA user_version is the number applied. Never edit
// one that has shipped: add the next.
struct Migration {
  int version;
  const char* description;
  const char* sql;
};
constexpr Migration kMigrations[] = {
    {1, "grants, append-only history, texts by digest",
     R"sql(
CREATE TABLE migrations(version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL);
CREATE TABLE grants(
  id TEXT PRIMARY KEY, policy_id TEXT NOT NULL, credit_code TEXT NOT NULL, name TEXT NOT NULL,
  period TEXT NOT NULL, base_id TEXT NOT NULL, cap_key TEXT NOT NULL, state TEXT NOT NULL,
  withdrawn_by INTEGER NOT NULL, amount_fen INTEGER NOT NULL, uncapped_fen INTEGER NOT NULL,
  entitlement_fen INTEGER NOT NULL, paid_fen INTEGER NOT NULL, recovered_fen INTEGER NOT NULL,
  review_fen INTEGER NOT NULL, requires_confirmation INTEGER NOT NULL,
  confirmed INTEGER NOT NULL, objection_open INTEGER NOT NULL, as_of TEXT NOT NULL,
  policy_digest TEXT NOT NULL, taxonomy_digest TEXT NOT NULL, firm_data TEXT NOT NULL,
  publicity_from TEXT NOT NULL, publicity_to TEXT NOT NULL, paid_on TEXT NOT NULL,
  payment_reference TEXT NOT NULL);
CREATE INDEX grants_firm ON grants(credit_code);
CREATE INDEX grants_policy ON grants(policy_id, state);
CREATE INDEX grants_period ON grants(period);
CREATE INDEX grants_cap ON grants(cap_key);
CREATE TABLE history(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, grant_id TEXT NOT NULL, date TEXT NOT NULL,
  event TEXT NOT NULL, state TEXT NOT NULL, amount_fen INTEGER NOT NULL,
  previous_fen INTEGER NOT NULL, note TEXT NOT NULL, by_night INTEGER NOT NULL,
  recorded_at TEXT NOT NULL);
CREATE INDEX history_grant ON history(grant_id, seq);
CREATE INDEX history_night ON history(by_night, date, seq);
CREATE TRIGGER history_no_update BEFORE UPDATE ON history BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TABLE texts(digest TEXT PRIMARY KEY, kind TEXT NOT NULL, text TEXT NOT NULL);
)sql"},
    {2, "night marks: a steady night skips the policies whose rules and eligible firms did not change",
     R"sql(
CREATE TABLE night_marks(policy_id TEXT PRIMARY KEY, mark TEXT NOT NULL);
)sql"},
    {3, "the nightly scan reads grants by policy, not by period; the cap index holds only capped grants",
     R"sql(
DROP INDEX grants_period;
DROP INDEX grants_cap;
CREATE INDEX grants_cap ON grants(cap_key) WHERE cap_key != '';
)sql"},
    {4, "the proposals memo: a rerun of a night that changes nothing reuses its proposals.csv",
     R"sql(
CREATE TABLE proposals_memo(one INTEGER PRIMARY KEY CHECK (one = 1), date TEXT NOT NULL,
  size INTEGER NOT NULL, checksum INTEGER NOT NULL);
)sql"},
};
constexpr int kSchemaVersion = 4;

constexpr char kGrantColumns[] =
    "id, policy_id, credit_code, name, period, base_id, cap_key, state, withdrawn_by, amount_fen, "
    "uncapped_fen, entitlement_fen, paid_fen, recovered_fen, review_fen, "
    "requires_confirmation, confirmed, objection_open, as_of, policy_digest, taxonomy_digest, "
    "firm_data, publicity_from, publicity_to, paid_on, payment_reference";
constexpr int kGrantColumnCount = 26;
constexpr char kHistoryColumns[] =
    "seq, grant_id, date, event, state, amount_fen, previous_fen, note, by_night";

// Wall time, for information only (history.recorded_at, migrations.applied_at): no decision reads it.
std::string WallTime() { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()); }

class Statement {
 public:
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }
  absl::Status Prepare(sqlite3* db, const std::string& sql) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) {
      return absl::InternalError(absl::StrCat("ledger: ", sqlite3_errmsg(db)));
    }
    return absl::OkStatus();
  }
  sqlite3_stmt* get() const { return stmt_; }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  void Bind(int i, const std::string& s) { sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT); }
  // Not copied: `s` must outlive the statement's next step.
  void BindStatic(int i, absl::string_view s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  std::string Text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col));
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

absl::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    absl::Status s = absl::InternalError(absl::StrCat("ledger: ", err != nullptr ? err : "error", " (", sql, ")"));
    sqlite3_free(err);
    return s;
  }
  return absl::OkStatus();
}

GrantRecord ReadGrant(const Statement& st) {
  GrantRecord g;
  int c = 0;
  g.id = st.Text(c++);
  g.policy_id = st.Text(c++);
  g.credit_code = st.Text(c++);
  g.name = st.Text(c++);
  g.period = st.Text(c++);
  g.base_id = st.Text(c++);
  g.cap_key = st.Text(c++);
  g.state = ParseGrantState(st.Text(c++)).value_or(GrantState::kProposed);
  g.withdrawn_by = static_cast<WithdrawnBy>(st.Int(c++));
  g.amount_fen = st.Int(c++);
  g.uncapped_fen = st.Int(c++);
  g.entitlement_fen = st.Int(c++);
  g.paid_fen = st.Int(c++);
  g.recovered_fen = st.Int(c++);
  g.review_fen = st.Int(c++);
  g.requires_confirmation = st.Int(c++) != 0;
  g.confirmed = st.Int(c++) != 0;
  g.objection_open = st.Int(c++) != 0;
  g.as_of = st.Text(c++);
  g.policy_digest = st.Text(c++);
  g.taxonomy_digest = st.Text(c++);
  g.firm_data = st.Text(c++);
  g.publicity_from = st.Text(c++);
  g.publicity_to = st.Text(c++);
  g.paid_on = st.Text(c++);
  g.payment_reference = st.Text(c++);
  return g;
}

HistoryEntry ReadHistory(const Statement& st) {
  HistoryEntry h;
  h.seq = st.Int(0);
  h.grant_id = st.Text(1);
  h.date = st.Text(2);
  h.event = st.Text(3);
  h.state = ParseGrantState(st.Text(4)).value_or(GrantState::kProposed);
  h.amount_fen = st.Int(5);
  h.previous_fen = st.Int(6);
  h.note = st.Text(7);
  h.by_night = st.Int(8) != 0;
  return h;
}

class SqliteTransaction : public LedgerTransaction {
 public:
  SqliteTransaction(sqlite3* db, bool writable) : db_(db), writable_(writable) {}

  absl::StatusOr<std::optional<GrantRecord>> Find(const std::string& id) override {
    if (find_.get() == nullptr) {
      RETURN_IF_ERROR(find_.Prepare(db_, absl::StrCat("SELECT ", kGrantColumns, " FROM grants WHERE id = ?")));
    }
    Statement& st = find_;
    st.Reset();
    st.BindStatic(1, id);
    const int rc = sqlite3_step(st.get());
    std::optional<GrantRecord> out;
    if (rc == SQLITE_ROW) out = ReadGrant(st);
    sqlite3_reset(st.get());
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) return out;
    return Error();
  }

  absl::StatusOr<std::vector<GrantRecord>> Query(const GrantQuery& q) override {
    std::vector<std::string> where;
    std::vector<std::string> args;
    if (!q.credit_code.empty()) {
      where.push_back("credit_code = ?");
      args.push_back(q.credit_code);
    }
    if (!q.policy_id.empty()) {
      where.push_back("policy_id = ?");
      args.push_back(q.policy_id);
    }
    if (q.state) {
      where.push_back("state = ?");
      args.push_back(std::string(StateName(*q.state)));
    }
    if (!q.periods.empty() || !q.cap_keys.empty()) {
      std::vector<std::string> any;
      auto in = [&](const char* column, const std::vector<std::string>& values) {
        args.insert(args.end(), values.begin(), values.end());
        return absl::StrCat(column, " IN (", absl::StrJoin(std::vector<std::string>(values.size(), "?"), ","), ")");
      };
      if (!q.periods.empty()) {
        if (q.policy_ids.empty()) {
          any.push_back(in("period", q.periods));
        } else {
          std::string policies = in("policy_id", q.policy_ids);
          any.push_back(absl::StrCat("(", policies, " AND ", in("period", q.periods), ")"));
        }
      }
      // "cap_key != ''" lets SQLite use the partial index grants_cap.
      if (!q.cap_keys.empty()) any.push_back(absl::StrCat("(cap_key != '' AND ", in("cap_key", q.cap_keys), ")"));
      where.push_back(absl::StrCat("(", absl::StrJoin(any, " OR "), ")"));
    }
    std::string columns = kGrantColumns;
    if (!q.with_firm_data) columns = absl::StrReplaceAll(columns, {{" firm_data,", " '',"}});
    Statement st;
    RETURN_IF_ERROR(st.Prepare(db_, absl::StrCat("SELECT ", columns, " FROM grants",
                                                 where.empty() ? "" : " WHERE ", absl::StrJoin(where, " AND "),
                                                 " ORDER BY id")));
    for (size_t i = 0; i < args.size(); ++i) st.Bind(static_cast<int>(i + 1), args[i]);
    std::vector<GrantRecord> out;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.push_back(ReadGrant(st));
    if (rc != SQLITE_DONE) return Error();
    return out;
  }

  absl::StatusOr<std::vector<HistoryEntry>> History(const std::string& grant_id) override {
    Statement st;
    RETURN_IF_ERROR(st.Prepare(db_, absl::StrCat("SELECT ", kHistoryColumns, " FROM history WHERE grant_id = ? ORDER BY seq")));
    st.Bind(1, grant_id);
    return Entries(st);
  }

  absl::StatusOr<std::vector<NightEntry>> NightEntries(const std::string& date) override {
    std::vector<NightEntry> out;
    RETURN_IF_ERROR(ForEachNightEntry(date, [&](const NightEntry& e) { out.push_back(e); }));
    return out;
  }

  absl::Status ForEachNightEntry(const std::string& date, const std::function<void(const NightEntry&)>& fn) override {
    Statement st;
    RETURN_IF_ERROR(st.Prepare(db_,
        "SELECT h.seq, h.grant_id, h.date, h.event, h.state, h.amount_fen, h.previous_fen, h.note, h.by_night, "
        "g.policy_id, g.credit_code, g.name, g.period FROM history h JOIN grants g ON g.id = h.grant_id "
        "WHERE h.by_night = 1 AND h.date = ? ORDER BY h.seq"));
    st.Bind(1, date);
    NightEntry e;
    auto text = [&](int col, std::string* to) {
      const unsigned char* p = sqlite3_column_text(st.get(), col);
      to->assign(p == nullptr ? "" : reinterpret_cast<const char*>(p), sqlite3_column_bytes(st.get(), col));
    };
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      HistoryEntry& h = e.entry;
      h.seq = st.Int(0);
      text(1, &h.grant_id);
      text(2, &h.date);
      text(3, &h.event);
      h.state = ParseGrantState(absl::string_view(reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 4)),
                                                  sqlite3_column_bytes(st.get(), 4)))
                    .value_or(GrantState::kProposed);
      h.amount_fen = st.Int(5);
      h.previous_fen = st.Int(6);
      text(7, &h.note);
      h.by_night = st.Int(8) != 0;
      text(9, &e.policy_id);
      text(10, &e.credit_code);
      text(11, &e.name);
      text(12, &e.period);
      fn(e);
    }
    if (rc != SQLITE_DONE) return Error();
    return absl::OkStatus();
  }

  absl::StatusOr<bool> HasNightEntries(const std::string& date) override {
    Statement st;
    RETURN_IF_ERROR(st.Prepare(db_, "SELECT 1 FROM history WHERE by_night = 1 AND date = ? LIMIT 1"));
    st.Bind(1, date);
    const int rc = sqlite3_step(st.get());
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Error();
    return rc == SQLITE_ROW;
  }

  absl::StatusOr<std::optional<StoredText>> Text(const std::string& digest) override {
    if (text_.get() == nullptr) {
      RETURN_IF_ERROR(text_.Prepare(db_, "SELECT digest, kind, text FROM texts WHERE digest = ?"));
    }
    Statement& st = text_;
    st.Reset();
    st.BindStatic(1, digest);
    const int rc = sqlite3_step(st.get());
    std::optional<StoredText> out;
    if (rc == SQLITE_ROW) out = StoredText{st.Text(0), st.Text(1), st.Text(2)};
    sqlite3_reset(st.get());
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) return out;
    return Error();
  }

  absl::Status Put(const GrantRecord& g) override {
    RETURN_IF_ERROR(Writable());
    wrote_grants_ = true;
    if (put_.get() == nullptr) {
      RETURN_IF_ERROR(put_.Prepare(db_, absl::StrCat("INSERT OR REPLACE INTO grants(", kGrantColumns, ") VALUES (",
                                                     absl::StrJoin(std::vector<std::string>(kGrantColumnCount, "?"), ","), ")")));
    }
    put_.Reset();
    int c = 1;
    put_.BindStatic(c++, g.id);
    put_.BindStatic(c++, g.policy_id);
    put_.BindStatic(c++, g.credit_code);
    put_.BindStatic(c++, g.name);
    put_.BindStatic(c++, g.period);
    put_.BindStatic(c++, g.base_id);
    put_.BindStatic(c++, g.cap_key);
    put_.BindStatic(c++, StateName(g.state));
    put_.Bind(c++, static_cast<int64_t>(g.withdrawn_by));
    put_.Bind(c++, g.amount_fen);
    put_.Bind(c++, g.uncapped_fen);
    put_.Bind(c++, g.entitlement_fen);
    put_.Bind(c++, g.paid_fen);
    put_.Bind(c++, g.recovered_fen);
    put_.Bind(c++, g.review_fen);
    put_.Bind(c++, int64_t{g.requires_confirmation});
    put_.Bind(c++, int64_t{g.confirmed});
    put_.Bind(c++, int64_t{g.objection_open});
    put_.BindStatic(c++, g.as_of);
    put_.BindStatic(c++, g.policy_digest);
    put_.BindStatic(c++, g.taxonomy_digest);
    put_.BindStatic(c++, g.firm_data);
    put_.BindStatic(c++, g.publicity_from);
    put_.BindStatic(c++, g.publicity_to);
    put_.BindStatic(c++, g.paid_on);
    put_.BindStatic(c++, g.payment_reference);
    RETURN_IF_ERROR(Step(put_));
    // The policy's night mark goes (once per policy and transaction, until a mark is put again).
    if (unmarked_.contains(g.policy_id)) return absl::OkStatus();
    if (unmark_.get() == nullptr) RETURN_IF_ERROR(unmark_.Prepare(db_, "DELETE FROM night_marks WHERE policy_id = ?"));
    unmark_.Reset();
    unmark_.BindStatic(1, g.policy_id);
    RETURN_IF_ERROR(Step(unmark_));
    unmarked_.insert(g.policy_id);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> NightMarks() override {
    Statement st;
    RETURN_IF_ERROR(st.Prepare(db_, "SELECT policy_id, mark FROM night_marks ORDER BY policy_id"));
    std::vector<std::pair<std::string, std::string>> out;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.emplace_back(st.Text(0), st.Text(1));
    if (rc != SQLITE_DONE) return Error();
    return out;
  }

  absl::Status PutNightMark(const std::string& policy_id, const std::string& mark) override {
    RETURN_IF_ERROR(Writable());
    if (mark_.get() == nullptr) {
      RETURN_IF_ERROR(mark_.Prepare(db_, "INSERT OR REPLACE INTO night_marks(policy_id, mark) VALUES (?,?)"));
    }
    mark_.Reset();
    mark_.BindStatic(1, policy_id);
    mark_.BindStatic(2, mark);
    RETURN_IF_ERROR(Step(mark_));
    unmarked_.erase(policy_id);
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<ProposalsMemo>> GetProposalsMemo() override {
    Statement st;
    RETURN_IF_ERROR(st.Prepare(db_, "SELECT date, size, checksum FROM proposals_memo"));
    const int rc = sqlite3_step(st.get());
    if (rc == SQLITE_DONE) return std::optional<ProposalsMemo>();
    if (rc != SQLITE_ROW) return Error();
    ProposalsMemo memo;
    memo.date = st.Text(0);
    memo.size = static_cast<uint64_t>(st.Int(1));
    memo.checksum = static_cast<uint64_t>(st.Int(2));
    return std::optional<ProposalsMemo>(std::move(memo));
  }

  absl::Status PutProposalsMemo(const ProposalsMemo& memo) override {
    RETURN_IF_ERROR(Writable());
    Statement st;
    RETURN_IF_ERROR(st.Prepare(db_, "INSERT OR REPLACE INTO proposals_memo(one, date, size, checksum) VALUES (1,?,?,?)"));
    st.Bind(1, memo.date);
    st.Bind(2, static_cast<int64_t>(memo.size));
    st.Bind(3, static_cast<int64_t>(memo.checksum));
    RETURN_IF_ERROR(Step(st));
    wrote_grants_ = false;  // the memo describes everything written so far
    return absl::OkStatus();
  }

  bool WroteGrants() const override { return wrote_grants_; }
  // Called before COMMIT: a transaction that wrote grants or entries after (or without) putting
  // the memo leaves none, so that no stale memo survives it.
  absl::Status DropStaleMemo() {
    if (!wrote_grants_) return absl::OkStatus();
    return Exec(db_, "DELETE FROM proposals_memo");
  }

  absl::Status Append(const HistoryEntry& h) override {
    RETURN_IF_ERROR(Writable());
    wrote_grants_ = true;
    if (append_.get() == nullptr) {
      RETURN_IF_ERROR(append_.Prepare(db_,
          "INSERT INTO history(grant_id, date, event, state, amount_fen, previous_fen, note, by_night, recorded_at) "
          "VALUES (?,?,?,?,?,?,?,?,?)"));
      recorded_at_ = WallTime();
    }
    append_.Reset();
    append_.BindStatic(1, h.grant_id);
    append_.BindStatic(2, h.date);
    append_.BindStatic(3, h.event);
    append_.BindStatic(4, StateName(h.state));
    append_.Bind(5, h.amount_fen);
    append_.Bind(6, h.previous_fen);
    append_.BindStatic(7, h.note);
    append_.Bind(8, int64_t{h.by_night});
    append_.BindStatic(9, recorded_at_);
    return Step(append_);
  }

  absl::Status PutText(const StoredText& t) override {
    RETURN_IF_ERROR(Writable());
    if (put_text_.get() == nullptr) {
      RETURN_IF_ERROR(put_text_.Prepare(db_, "INSERT OR IGNORE INTO texts(digest, kind, text) VALUES (?,?,?)"));
    }
    put_text_.Reset();
    put_text_.BindStatic(1, t.digest);
    put_text_.BindStatic(2, t.kind);
    put_text_.BindStatic(3, t.text);
    return Step(put_text_);
  }

 private:
  absl::Status Writable() const {
    return writable_ ? absl::OkStatus() : absl::FailedPreconditionError("ledger: opened read-only");
  }
  absl::Status Error() const { return absl::InternalError(absl::StrCat("ledger: ", sqlite3_errmsg(db_))); }
  // Runs a write, then resets it so that nothing it was bound to is read again.
  absl::Status Step(Statement& st) {
    const int rc = sqlite3_step(st.get());
    if (rc != SQLITE_DONE) {
      absl::Status error = Error();
      sqlite3_reset(st.get());
      return error;
    }
    sqlite3_reset(st.get());
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<HistoryEntry>> Entries(Statement& st) {
    std::vector<HistoryEntry> out;
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.push_back(ReadHistory(st));
    if (rc != SQLITE_DONE) return Error();
    return out;
  }

  sqlite3* db_;
  bool writable_;
  // Prepared once per transaction and reused.
  Statement put_, append_, unmark_, mark_, put_text_, find_, text_;
  absl::flat_hash_set<std::string> unmarked_;  // policies whose night mark this transaction removed
  std::string recorded_at_;
  bool wrote_grants_ = false;  // a grant put or an entry appended since the memo (or the start)
};

class SqliteLedger : public LedgerStore {
 public:
  ~SqliteLedger() override { sqlite3_close_v2(db_); }

  static absl::StatusOr<std::unique_ptr<LedgerStore>> Open(const std::string& path, LedgerMode mode) {
    auto ledger = std::unique_ptr<SqliteLedger>(new SqliteLedger);
    ledger->writable_ = mode == LedgerMode::kReadWrite;
    const int flags = ledger->writable_ ? (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) : SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(path.c_str(), &ledger->db_, flags | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
      const std::string why = ledger->db_ != nullptr ? sqlite3_errmsg(ledger->db_) : "cannot open";
      if (!ledger->writable_) return absl::NotFoundError(absl::StrCat(path, ": cannot open the ledger: ", why));
      return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open the ledger: ", why));
    }
    sqlite3_busy_timeout(ledger->db_, 60'000);
    // Pages are read through a memory map (no read call and copy per page: a night's
    // proposals.csv reads back ~100k entries). Only reads: writes still go through the WAL.
    Exec(ledger->db_, "PRAGMA mmap_size=2147418112").IgnoreError();
    absl::Status s = ledger->Prepare(path);
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
    return std::unique_ptr<LedgerStore>(std::move(ledger));
  }

  absl::Status Write(const std::function<absl::Status(LedgerTransaction&)>& body) override {
    if (!writable_) return absl::FailedPreconditionError("ledger: opened read-only");
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
    absl::Status s;
    {
      SqliteTransaction txn(db_, true);
      s = body(txn);
      if (s.ok()) s = txn.DropStaleMemo();
    }  // statements finalized before COMMIT
    if (s.ok()) s = Exec(db_, "COMMIT");
    if (!s.ok()) Exec(db_, "ROLLBACK").IgnoreError();
    return s;
  }

  absl::Status Read(const std::function<absl::Status(LedgerTransaction&)>& body) const override {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(Exec(db_, "BEGIN"));
    absl::Status s;
    {
      SqliteTransaction txn(db_, false);
      s = body(txn);
    }
    absl::Status end = Exec(db_, s.ok() ? "COMMIT" : "ROLLBACK");
    return s.ok() ? end : s;
  }

 private:
  SqliteLedger() = default;

  // WAL, then the migrations this file lacks (in one transaction); a file written by a newer
  // polmatch is refused.
  absl::Status Prepare(const std::string& path) {
    if (writable_) {
      RETURN_IF_ERROR(Exec(db_, "PRAGMA journal_mode=WAL"));
      RETURN_IF_ERROR(Exec(db_, "PRAGMA synchronous=FULL"));
      RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
    }
    absl::StatusOr<int64_t> version = UserVersion();
    absl::Status s = version.status();
    if (s.ok() && *version > kSchemaVersion) {
      s = absl::FailedPreconditionError(absl::StrCat("ledger schema version ", *version,
                                                     " is newer than this polmatch's (", kSchemaVersion, ")"));
    } else if (s.ok() && *version == 0 && !writable_) {
      // Created by a command that died before its first transaction committed: no ledger yet.
      s = absl::NotFoundError("the ledger is empty (no command has completed on it yet)");
    } else if (s.ok() && *version < kSchemaVersion && !writable_) {
      s = absl::FailedPreconditionError(absl::StrCat("ledger schema version ", *version, ", expected ",
                                                     kSchemaVersion, " (run a read-write command once)"));
    }
    for (const Migration& m : kMigrations) {
      if (!s.ok() || !writable_ || m.version <= *version) continue;
      s = Exec(db_, m.sql);
      if (!s.ok()) break;
      Statement st;
      s = st.Prepare(db_, "INSERT INTO migrations(version, description, applied_at) VALUES (?,?,?)");
      if (!s.ok()) break;
      st.Bind(1, int64_t{m.version});
      st.Bind(2, std::string(m.description));
      st.Bind(3, WallTime());
      if (sqlite3_step(st.get()) != SQLITE_DONE) s = absl::InternalError(sqlite3_errmsg(db_));
      if (s.ok()) s = Exec(db_, absl::StrCat("PRAGMA user_version = ", m.version).c_str());
    }
    if (writable_) {
      if (s.ok()) s = Exec(db_, "COMMIT");
      if (!s.ok()) Exec(db_, "ROLLBACK").IgnoreError();
    }
    return s;
  }

  absl::StatusOr<int64_t> UserVersion() {
    Statement st;
    RETURN_IF_ERROR(st.Prepare(db_, "PRAGMA user_version"));
    if (sqlite3_step(st.get()) != SQLITE_ROW) return absl::InternalError(sqlite3_errmsg(db_));
    return st.Int(0);
  }

  sqlite3* db_ = nullptr;
  bool writable_ = false;
  mutable std::mutex mu_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LedgerStore>> OpenSqliteLedger(const std::string& path, LedgerMode mode) {
  return SqliteLedger::Open(path, mode);
}

}  // namespace polmatch
