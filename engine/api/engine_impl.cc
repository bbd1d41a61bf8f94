// EngineImpl: the state behind polmatch::Engine — a catalog, a snapshot, the policy index of the
// single-firm path (engine/match/policy_index.h), and the placement of firms within limited policies — held
// in one immutable State swapped atomically by Reload().
#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_rows.h"
#include "engine/index/firm_store.h"
#include "engine/index/snapshot.h"
#include "engine/ingest/credit_code.h"
#include "engine/ingest/firm.h"
#include "engine/ingest/firm_table.h"
#include "engine/ledger/grant.h"
#include "engine/ledger/ledger_store.h"
#include "engine/ledger/lifecycle.h"
#include "engine/match/limit_placement.h"
#include "engine/match/explain.h"
#include "engine/match/policy_index.h"
#include "engine/match/reference.h"
#include "engine/util/dates.h"
#include "engine/util/parallel.h"
#include "engine/api/engine_internal.h"
#include "polmatch/engine.h"

namespace polmatch {
namespace {

// Credit code → store row, open addressing over the store's own codes (8 bytes a slot): a lookup
// is a probe or two and one comparison, where the store's binary search takes ~20 cache misses.
struct CodeIndex {
  // Open addressing: a row | the upper half of its code's hash << 32 (a fingerprint: a probe
  // reads a code only when the fingerprint matches), or kEmpty.
  std::vector<uint64_t> slots;
  uint64_t mask = 0;
  static constexpr uint64_t kEmpty = UINT64_MAX;

  static uint64_t Hash(absl::string_view code) { return absl::Hash<absl::string_view>{}(code); }

  void Build(const FirmStore& store) {
    size_t size = 16;
    while (size < size_t{store.num_rows()} * 3 / 2) size *= 2;
    slots.reserve(size);  // untouched: huge pages where the kernel gives them (no page walk per probe)
    ingest_internal::AdviseHugePages(slots.data(), size * sizeof(uint64_t));
    slots.assign(size, kEmpty);
    mask = size - 1;
    for (uint32_t row = 0; row < store.num_rows(); ++row) {
      const uint64_t h = Hash(store.credit_code(row));
      uint64_t i = h & mask;
      while (slots[i] != kEmpty) i = (i + 1) & mask;
      slots[i] = (h >> 32 << 32) | row;
    }
  }

  // The row of `code`: `candidate(row)` is called for each row whose fingerprint matches, in
  // probe order, until it returns true. It compares the row's code itself, and may first start
  // work on the row (a fingerprint matches another code once in 2^32 probes), so that the
  // code's cache line arrives meanwhile.
  template <typename Candidate>
  std::optional<uint32_t> Find(absl::string_view code, Candidate&& candidate) const {
    if (slots.empty()) return std::nullopt;
    const uint64_t h = Hash(code);
    for (uint64_t i = h & mask;; i = (i + 1) & mask) {
      const uint64_t slot = slots[i];
      if (slot == kEmpty) return std::nullopt;
      if ((slot >> 32) != (h >> 32)) continue;
      if (candidate(static_cast<uint32_t>(slot))) return static_cast<uint32_t>(slot);
    }
  }
};

struct State {
  EngineOptions options;
  Catalog catalog;
  std::optional<FirmStore> store;
  FirmRows rows;  // the store by row, for single-firm reads
  CodeIndex code_index;
  // Whether `rows` and `code_index` were built (an engine for one command-line query reads the
  // store's columns instead: see NewEngineForQuery).
  bool by_rows = true;
  std::optional<PolicyIndex> index;
  std::unique_ptr<LimitPlacement> limits;
  // Per catalog index, compact for the hot path: the policy id.
  std::vector<std::string> ids;
  std::shared_ptr<const LedgerStore> ledger;  // EngineOptions::ledger_path, read-only

  explicit State(Catalog c) : catalog(std::move(c)) {}

  // A registered firm as the matcher reads it (grants from the per-row index, not a search per
  // tag); with `identity`, also its credit code and name (for explanations).
  Firm ReadRow(uint32_t row, bool identity = false) const {
    if (!by_rows) return store->ToFirm(row);
    Firm f;
    ReadRowInto(row, identity, &f);
    return f;
  }
  static void AssignView(absl::string_view v, std::string* s) { s->assign(v.data(), v.size()); }
  // The same into `f`, reusing its storage (the microsecond path keeps one per thread).
  void ReadRowInto(uint32_t row, bool identity, Firm* out) const {
    Firm& f = *out;
    f.credit_code.clear();
    f.name.clear();
    if (identity) {
      AssignView(store->credit_code(row), &f.credit_code);
      AssignView(store->name(row), &f.name);
    }
    const FirmRows::Record& r = rows.record(row);
    AssignView(store->region(row), &f.region);
    AssignView(store->industry_code(r.industry), &f.industry);
    f.founded = rows.founded(r);
    f.facts.clear();
    f.facts.reserve(store->num_facts());
    for (int k = 0; k < store->num_facts(); ++k) f.facts.push_back(rows.fact(r, k));
    f.tags.clear();
    f.tags.reserve(r.num_grants);
    const FirmRows::Grant* grants = rows.grants(r);
    for (uint32_t i = 0; i < r.num_grants; ++i) {
      TagGrantRecord g;
      g.tag = TagId(grants[i].tag);
      if (grants[i].from != kOpenFrom) g.valid_from = DayFromNumber(grants[i].from);
      if (grants[i].to != kOpenTo) g.valid_to = DayFromNumber(grants[i].to);
      f.tags.push_back(std::move(g));
    }
  }

  std::vector<Outcome> Dense(std::vector<PolicyHit> hits) const {
    std::vector<Outcome> out(catalog.policies().size());
    for (const PolicyHit& h : hits) out[h.policy.value] = h.outcome();
    return out;
  }
};

absl::Status BuildIndexes(State* state, bool by_rows);

absl::StatusOr<std::shared_ptr<const State>> LoadState(const EngineOptions& options) {
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Catalog::LoadDir(options.rules_dir, &diags);
  if (!catalog.ok()) return catalog.status();
  auto state = std::make_shared<State>(std::move(*catalog));
  state->options = options;
  if (!options.ledger_path.empty()) {
    absl::StatusOr<std::unique_ptr<LedgerStore>> ledger = OpenSqliteLedger(options.ledger_path, LedgerMode::kReadOnly);
    if (!ledger.ok()) return ledger.status();
    state->ledger = std::move(*ledger);
  }
  if (!options.snapshot_path.empty()) {
    absl::StatusOr<FirmStore> store =
        ReadSnapshotFile(options.snapshot_path, state->catalog.taxonomy(),
                         options.snapshot_in_place ? SnapshotLoad::kInPlace : SnapshotLoad::kCopy);
    if (!store.ok()) return store.status();
    state->store = std::move(*store);
  }
  absl::Status built = BuildIndexes(state.get(), /*by_rows=*/true);
  if (!built.ok()) return built;
  return std::shared_ptr<const State>(std::move(state));
}

// The state's indexes over its catalog and store: the policy index, the limit placement, and
// with `by_rows` the per-row records and the credit-code index of the microsecond path.
absl::Status BuildIndexes(State* state, bool by_rows) {
  state->by_rows = by_rows && state->store.has_value();
  const auto& policies = state->catalog.policies();
  // The policy index compiles on its own thread while the registry's indexes are built (they
  // share nothing; the records' build is bound by the kernel's first touch of its pages).
  ParallelFor(2, [&](int t) {
    if (t == 1) {
      state->index.emplace(state->catalog);
    } else if (state->by_rows) {
      state->code_index.Build(*state->store);
      state->rows = FirmRows::Build(*state->store);
    }
  });
  for (const CompiledPolicy& p : policies) state->ids.push_back(p.id());
  absl::StatusOr<std::unique_ptr<LimitPlacement>> limits = LimitPlacement::Create(
      state->catalog, state->store ? &*state->store : nullptr, state->options.limit_threads);
  if (!limits.ok()) return limits.status();
  state->limits = std::move(*limits);
  return absl::OkStatus();
}

class EngineImpl : public Engine {
 public:
  explicit EngineImpl(std::shared_ptr<const State> state) : state_(std::move(state)) {}

  absl::StatusOr<FirmMatches> Match(absl::string_view credit_code,
                                    absl::CivilDay as_of) const override {
    const std::shared_ptr<const State> s = Current();
    absl::StatusOr<Answer> a = Answered(*s, credit_code, as_of);
    if (!a.ok()) return a.status();
    const FirmView view(a->firm, s->catalog.taxonomy(), as_of);
    return ExplainFirm(s->catalog, view, s->Dense(std::move(a->hits)), /*trace_ineligible=*/false);
  }

  using Engine::MatchStatuses;
  absl::Status MatchStatuses(absl::string_view credit_code, absl::CivilDay as_of,
                             std::vector<PolicyMatch>* out) const override {
    const std::shared_ptr<const State> s = Current();
    absl::Status valid = Registry(*s, credit_code);
    if (!valid.ok()) {
      out->clear();
      return valid;
    }
    thread_local Firm firm;                    // reused: no allocation per query
    thread_local std::vector<PolicyHit> hits;
    if (!s->by_rows) {  // an engine for one query: the store's own search and columns
      absl::StatusOr<Answer> a = Answered(*s, credit_code, as_of);
      if (!a.ok()) {
        out->clear();
        return a.status();
      }
      hits.swap(a->hits);
    } else if (!s->code_index.Find(credit_code, [&](uint32_t r) {
      s->rows.Prefetch(r);
      const absl::string_view code = s->store->credit_code(r);
      __builtin_prefetch(code.data());
      s->ReadRowInto(r, /*identity=*/false, &firm);
      s->index->Match(FirmView(firm, s->catalog.taxonomy(), as_of), &hits);
      s->limits->Apply(FirmRow(r), as_of, hits);
      return code == credit_code;  // compared last, its line long arrived
    })) {
      out->clear();
      return NotRegistered(credit_code);
    }
    for (const PolicyHit& h : hits) __builtin_prefetch(&s->ids[h.policy.value]);  // misses overlap
    out->resize(hits.size());  // the strings kept keep their storage
    for (size_t i = 0; i < hits.size(); ++i) {
      const PolicyHit& h = hits[i];
      PolicyMatch& m = (*out)[i];
      m.policy.assign(s->ids[h.policy.value]);
      m.status = h.status;
      m.benefit_fen = h.has_benefit ? h.benefit_raw / 10000 : -1;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<FirmMatches> Evaluate(const FirmProfile& profile,
                                       absl::CivilDay as_of) const override {
    const std::shared_ptr<const State> s = Current();
    if (static_cast<size_t>(profile.facts_size() + profile.tags_size()) > s->options.max_profile_items) {
      return absl::InvalidArgumentError(absl::StrCat("profile has more than ", s->options.max_profile_items,
                                                     " facts and tags"));
    }
    absl::StatusOr<Firm> firm = FirmFromProfile(profile, s->catalog.taxonomy());
    if (!firm.ok()) return firm.status();
    const FirmView view(*firm, s->catalog.taxonomy(), as_of);
    return ExplainFirm(s->catalog, view, s->index->MatchAll(view), /*trace_ineligible=*/false);
  }

  absl::StatusOr<PolicyResult> Explain(absl::string_view credit_code, absl::string_view policy_id,
                                       absl::CivilDay as_of) const override {
    const std::shared_ptr<const State> s = Current();
    const int p = s->catalog.IndexOf(policy_id);
    if (p < 0) return absl::NotFoundError(absl::StrCat("unknown policy ", policy_id));
    absl::StatusOr<Answer> a = Answered(*s, credit_code, as_of);
    if (!a.ok()) return a.status();
    const FirmView view(a->firm, s->catalog.taxonomy(), as_of);
    Outcome outcome;  // INELIGIBLE unless listed
    for (PolicyHit& h : a->hits) {
      if (h.policy == CatalogIndex(static_cast<uint32_t>(p))) outcome = h.outcome();
    }
    return ExplainOutcome(s->catalog.policies()[p], s->catalog.taxonomy(), view, outcome);
  }

  absl::StatusOr<Policy> GetPolicy(absl::string_view policy_id) const override {
    const std::shared_ptr<const State> s = Current();
    const CompiledPolicy* p = s->catalog.Find(policy_id);
    if (p == nullptr) return absl::NotFoundError(absl::StrCat("unknown policy ", policy_id));
    return p->policy;
  }

  std::vector<Policy> PoliciesInForce(absl::CivilDay as_of) const override {
    const std::shared_ptr<const State> s = Current();
    std::vector<Policy> out;
    for (const CompiledPolicy& p : s->catalog.policies()) {
      if (p.ActiveOn(as_of)) out.push_back(p.policy);
    }
    return out;
  }

  absl::StatusOr<std::vector<FirmGrant>> Grants(absl::string_view credit_code) const override {
    const std::shared_ptr<const State> s = Current();
    absl::Status valid = ValidateCreditCode(credit_code);
    if (!valid.ok()) return valid;
    if (!s->ledger) return absl::FailedPreconditionError("no grant ledger is configured");
    GrantQuery q;
    q.credit_code = std::string(credit_code);
    q.with_firm_data = false;
    absl::StatusOr<std::vector<GrantWithHistory>> grants = ListGrants(*s->ledger, q);
    if (!grants.ok()) return grants.status();
    std::vector<FirmGrant> out;
    out.reserve(grants->size());
    for (const GrantWithHistory& g : *grants) {
      FirmGrant f;
      f.id = g.grant.id;
      f.policy = g.grant.policy_id;
      f.name = g.grant.name;
      f.period = g.grant.period;
      f.state = std::string(StateName(g.grant.state));
      f.amount_yuan = FenToYuan(g.grant.amount_fen);
      f.uncapped_amount_yuan = FenToYuan(g.grant.uncapped_fen);
      f.publicity_from = g.grant.publicity_from;
      f.publicity_to = g.grant.publicity_to;
      for (const HistoryEntry& h : g.history) {
        f.history.push_back({h.date, std::string(StateName(h.state)), h.note.empty() ? h.event : absl::StrCat(h.event, ": ", h.note)});
      }
      out.push_back(std::move(f));
    }
    return out;
  }

  absl::Status Reload(const EngineOptions& options) override {
    absl::StatusOr<std::shared_ptr<const State>> next = LoadState(options);
    if (!next.ok()) return next.status();
    std::atomic_store(&state_, *next);
    return absl::OkStatus();
  }

  size_t num_firms() const override {
    const std::shared_ptr<const State> s = Current();
    return s->store ? s->store->num_rows() : 0;
  }
  size_t num_policies() const override { return Current()->catalog.policies().size(); }

 private:
  std::shared_ptr<const State> Current() const { return std::atomic_load(&state_); }

  // A registered firm (with its code and name) and its outcomes, limits applied.
  struct Answer {
    Firm firm;
    std::vector<PolicyHit> hits;
  };
  static absl::StatusOr<Answer> Answered(const State& s, absl::string_view credit_code,
                                         absl::CivilDay as_of) {
    absl::StatusOr<uint32_t> row = Registered(s, credit_code);
    if (!row.ok()) return row.status();
    Answer a{s.ReadRow(*row, /*identity=*/true), {}};
    s.index->Match(FirmView(a.firm, s.catalog.taxonomy(), as_of), &a.hits);
    s.limits->Apply(FirmRow(*row), as_of, a.hits);
    return a;
  }

  // The store row of a registered firm.
  static absl::StatusOr<uint32_t> Registered(const State& s, absl::string_view credit_code) {
    absl::Status valid = Registry(s, credit_code);
    if (!valid.ok()) return valid;
    if (!s.by_rows) {
      std::optional<uint32_t> row = s.store->FindRow(credit_code);
      if (!row) return NotRegistered(credit_code);
      return *row;
    }
    std::optional<uint32_t> row = s.code_index.Find(credit_code, [&](uint32_t r) {
      s.rows.Prefetch(r);  // (fetched while the code compares)
      return s.store->credit_code(r) == credit_code;
    });
    if (!row) return NotRegistered(credit_code);
    return *row;
  }
  // Whether a credit code can be looked up: well formed, and a registry is loaded.
  static absl::Status Registry(const State& s, absl::string_view credit_code) {
    absl::Status valid = ValidateCreditCode(credit_code);
    if (!valid.ok()) return valid;
    if (!s.store) return absl::NotFoundError("no firm registry is loaded");
    return absl::OkStatus();
  }
  static absl::Status NotRegistered(absl::string_view credit_code) {
    return absl::NotFoundError(absl::StrCat("firm ", credit_code, " is not registered"));
  }

  std::shared_ptr<const State> state_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> NewEngineForQuery(Catalog catalog, FirmStore store,
                                                          const EngineOptions& options) {
  return NewEngineFromLoaded(std::move(catalog), std::move(store), options, /*per_row_records=*/false);
}

absl::StatusOr<std::unique_ptr<Engine>> NewEngineFromLoaded(Catalog catalog, FirmStore store,
                                                            const EngineOptions& options, bool per_row_records) {
  auto state = std::make_shared<State>(std::move(catalog));
  state->options = options;
  state->store = std::move(store);
  absl::Status built = BuildIndexes(state.get(), per_row_records);
  if (!built.ok()) return built;
  return std::unique_ptr<Engine>(new EngineImpl(std::move(state)));
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& options) {
  absl::StatusOr<std::shared_ptr<const State>> state = LoadState(options);
  if (!state.ok()) return state.status();
  return std::unique_ptr<Engine>(new EngineImpl(std::move(*state)));
}

}  // namespace polmatch
