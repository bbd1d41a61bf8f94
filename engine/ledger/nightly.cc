#include "engine/ledger/nightly.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/expr/eval.h"
#include "engine/util/csv_field.h"
#include "engine/util/dates.h"
#include "engine/util/framing.h"
#include "engine/util/status_macros.h"

namespace polmatch {
namespace {

// An active AUTO_GRANT policy with an amount, and tonight's period for it.
struct ActivePolicy {
  const CompiledPolicy* policy = nullptr;
  const PolicyNight* night = nullptr;
  std::string period;
  std::string cap_key;
  std::string text, digest;
  std::vector<FactId> facts_read;  // what a grant keeps of the firm's facts
  std::string mark;    // period, cap, policy text digest and eligible firms' fingerprint
  bool dirty = true;   // the mark differs from the ledger's: the policy is processed tonight
  int batch = -1;      // the batch of policies it is processed with
};


// A grant as loaded (`before`, null for a new one) and as tonight leaves it (`after`).
struct Work {
  const GrantRecord* before = nullptr;
  GrantRecord after;
  bool candidate = false;                 // the firm is ELIGIBLE with an amount tonight
  std::optional<uint32_t> refresh_firm;   // the amount was set tonight: keep tonight's data
  ActivePolicy* policy = nullptr;         // for refreshing
  std::string reason;
  int64_t review_covered = 0;             // REVIEW: what was granted, paid or pending
};

std::string CapKey(const Catalog& catalog, const Policy& p, absl::CivilDay as_of) {
  if (p.cap_group().empty()) return "";
  const CompiledGrantCap* cap = catalog.FindCap(p.cap_group());
  if (cap == nullptr) return "";
  return absl::StrCat(cap->cap.id(), "/", PeriodOf(cap->cap.period(), as_of));
}

// Why a firm has no grant tonight, in a clerk's words.
std::string WhyNotEligible(const LedgerNight& in, const ActivePolicy& a, absl::string_view code,
                           absl::CivilDay as_of) {
  const NightResult& night = *in.night;
  auto it = std::lower_bound(night.code_order.begin(), night.code_order.end(), code,
                             [&](uint32_t f, absl::string_view c) { return night.code(f) < c; });
  if (it == night.code_order.end() || night.code(*it) != code) {
    return "FIRM_GONE: the firm is not in tonight's registry";
  }
  const uint32_t firm = *it;
  const MatchStatus status = a.night->StatusOf(firm);
  if (status == ELIGIBLE) return "ZERO_AMOUNT: eligible, but the amount is now zero";
  if (status == INELIGIBLE || status == NEAR_MISS) {
    const Firm f = in.firm_of(firm);
    FirmView view(f, in.catalog->taxonomy(), as_of);
    for (const Node* c : a.policy->conditions) {
      if (Evaluate(*c, view).is_false()) {
        return absl::StrCat("CONDITION_LOST: ", a.policy->EligibilityText(*c), " is now false");
      }
    }
  }
  return absl::StrCat("NOT_ELIGIBLE: tonight's status is ", MatchStatus_Name(status));
}

HistoryEntry NightEntryFor(const GrantRecord& g, const std::string& date, std::string event,
                           int64_t previous, std::string note) {
  HistoryEntry h;
  h.grant_id = g.id;
  h.date = date;
  h.event = std::move(event);
  h.state = g.state;
  h.amount_fen = g.state == GrantState::kWithdrawn ? 0 : g.amount_fen;
  h.previous_fen = previous;
  h.note = std::move(note);
  h.by_night = true;
  return h;
}

constexpr char kProposalsHeader[] =
    "grant_id,policy_id,credit_code,name,period,change,amount_yuan,previous_amount_yuan,reason\n";

// One row of proposals.csv: a night's history entry and its grant's policy, firm and period.
void AppendProposalRow(std::string* out, const HistoryEntry& h, absl::string_view policy_id,
                       absl::string_view credit_code, absl::string_view name, absl::string_view period) {
  for (absl::string_view cell : {absl::string_view(h.grant_id), policy_id, credit_code, name, period,
                                 absl::string_view(h.event)}) {
    AppendCsvField(cell, out);
    out->push_back(',');
  }
  absl::StrAppend(out, FenToYuan(h.amount_fen), ",",
                  h.event == "NEW" || h.event == "ADJUSTMENT" ? "" : FenToYuan(h.previous_fen), ",");
  AppendCsvField(h.note, out);
  out->push_back('\n');
}

}  // namespace

namespace {

// proposals.csv streamed to a sink in chunks (S2's first night lists 16 million grants: 2 GB),
// counting and checksumming what it wrote.
class ProposalsWriter {
 public:
  explicit ProposalsWriter(ByteSink* sink) : out_(&counter_), counter_(sink) {}
  std::string& buf() { return out_.buf(); }
  absl::Status MaybeFlush() { return out_.MaybeFlush(); }
  absl::Status Flush() { return out_.Flush(); }
  uint64_t size() const { return counter_.size; }
  uint64_t checksum() const { return counter_.sum.Finish(); }
  // Tonight's rows, as the night writes them; the night's rows of `as_of`, read back.
  absl::Status Row(const HistoryEntry& h, const GrantRecord& g) {
    AppendProposalRow(&buf(), h, g.policy_id, g.credit_code, g.name, g.period);
    return MaybeFlush();
  }
  absl::Status ReadBack(LedgerTransaction& txn, const std::string& as_of) {
    absl::Status flushed;
    RETURN_IF_ERROR(txn.ForEachNightEntry(as_of, [&](const NightEntry& e) {
      AppendProposalRow(&buf(), e.entry, e.policy_id, e.credit_code, e.name, e.period);
      if (flushed.ok()) flushed = MaybeFlush();
    }));
    return flushed;
  }

 private:
  struct Counter : ByteSink {
    explicit Counter(ByteSink* to) : to(to) {}
    absl::Status Write(absl::string_view bytes) override {
      size += bytes.size();
      sum.Update(bytes);
      return to->Write(bytes);
    }
    ByteSink* to;
    uint64_t size = 0;
    Checksum64Stream sum;
  };
  ChunkedWriter out_;
  Counter counter_;
};

// At the end of a night's transaction, proposals.csv and its memo. A rerun of a date that wrote
// nothing tonight and finds the memo of its own date asks the caller whether it holds that file
// and then reads nothing back; otherwise a rerun reads the date's entries back (within this
// transaction, so tonight's own are included). The file made is remembered (its size and
// checksum) for the next rerun.
absl::Status FinishProposals(LedgerTransaction& txn, const std::string& as_of, const LedgerNight& in,
                             ProposalsWriter* proposals, bool read_back, LedgerNightCounts* counts) {
  if (proposals == nullptr) return absl::OkStatus();
  if (read_back) {
    if (in.can_reuse_proposals && !txn.WroteGrants()) {
      ASSIGN_OR_RETURN(std::optional<ProposalsMemo> memo, txn.GetProposalsMemo());
      if (memo && memo->date == as_of && in.can_reuse_proposals(*memo)) {
        counts->proposals_reused = true;
        return absl::OkStatus();
      }
    }
    proposals->buf().append(kProposalsHeader);
    RETURN_IF_ERROR(proposals->ReadBack(txn, as_of));
  }
  RETURN_IF_ERROR(proposals->Flush());
  ProposalsMemo memo;
  memo.date = as_of;
  memo.size = proposals->size();
  memo.checksum = proposals->checksum();
  return txn.PutProposalsMemo(memo);
}

}  // namespace

absl::StatusOr<LedgerNightCounts> ProposeNight(LedgerStore& ledger, const LedgerNight& in) {
  return ProposeNight(ledger, in, static_cast<ByteSink*>(nullptr));
}

absl::StatusOr<LedgerNightCounts> ProposeNight(LedgerStore& ledger, const LedgerNight& in,
                                               std::string* proposals_csv) {
  if (proposals_csv == nullptr) return ProposeNight(ledger, in, static_cast<ByteSink*>(nullptr));
  proposals_csv->clear();
  StringSink sink(proposals_csv);
  return ProposeNight(ledger, in, &sink);
}

absl::StatusOr<LedgerNightCounts> ProposeNight(LedgerStore& ledger, const LedgerNight& in,
                                               ByteSink* proposals_sink) {
  const Catalog& catalog = *in.catalog;
  const NightResult& night = *in.night;
  ASSIGN_OR_RETURN(const absl::CivilDay as_of, ParseDate(night.as_of));

  // Tonight's active AUTO_GRANT policies with an amount, in id order.
  absl::flat_hash_map<absl::string_view, const PolicyNight*> night_policies;
  for (const PolicyNight& pn : night.policies) night_policies[pn.id] = &pn;
  std::vector<ActivePolicy> active;
  std::vector<std::string> periods, cap_keys;
  for (const CompiledPolicy& p : catalog.policies()) {
    if (!p.auto_grant() || p.benefit == nullptr || !p.ActiveOn(as_of)) continue;
    auto it = night_policies.find(p.id());
    if (it == night_policies.end()) continue;
    ActivePolicy a;
    a.policy = &p;
    a.night = it->second;
    a.period = PeriodOf(p.policy.grant_period(), as_of);
    a.cap_key = CapKey(catalog, p.policy, as_of);
    periods.push_back(a.period);
    if (!a.cap_key.empty()) cap_keys.push_back(a.cap_key);
    active.push_back(std::move(a));
  }
  std::sort(periods.begin(), periods.end());
  periods.erase(std::unique(periods.begin(), periods.end()), periods.end());
  std::sort(cap_keys.begin(), cap_keys.end());
  cap_keys.erase(std::unique(cap_keys.begin(), cap_keys.end()), cap_keys.end());
  absl::flat_hash_map<absl::string_view, const ActivePolicy*> active_by_id;
  for (const ActivePolicy& a : active) active_by_id[a.policy->id()] = &a;

  LedgerNightCounts counts;
  if (active.empty()) {
    if (proposals_sink != nullptr) {
      ASSIGN_OR_RETURN(const std::string csv, ProposalsCsv(ledger, night.as_of));
      RETURN_IF_ERROR(proposals_sink->Write(csv));
    }
    return counts;
  }
  // Each policy's mark: a policy whose mark the ledger holds is as that night left it.
  for (ActivePolicy& a : active) {
    a.text = PolicyText(a.policy->policy);
    a.digest = Sha256Hex(a.text);
    a.facts_read = FactsRead(*a.policy);
    std::string firms;
    for (uint32_t firm : a.night->by_status[ELIGIBLE]) {
      std::optional<Decimal> benefit = a.night->BenefitOf(firm);
      if (!benefit) continue;
      const int64_t fen = ToFen(*benefit);
      if (fen <= 0) continue;
      absl::StrAppend(&firms, night.code(firm), ":", fen, "\n");
    }
    const CompiledGrantCap* cap = a.cap_key.empty() ? nullptr : catalog.FindCap(a.policy->policy.cap_group());
    a.mark = absl::StrCat(a.period, "|", a.cap_key, "|", cap == nullptr ? 0 : ToFen(cap->max_yuan), "|", a.digest,
                          "|", Sha256Hex(firms));
  }

  // proposals.csv from tonight's entries, unless an earlier run of this date wrote some.
  bool read_proposals = proposals_sink != nullptr;
  std::optional<ProposalsWriter> writer;
  ProposalsWriter* proposals = nullptr;
  if (proposals_sink != nullptr) proposals = &writer.emplace(proposals_sink);
  absl::Status status = ledger.Write([&](LedgerTransaction& txn) -> absl::Status {
    counts = LedgerNightCounts();
    if (proposals != nullptr) {
      ASSIGN_OR_RETURN(read_proposals, txn.HasNightEntries(night.as_of));
      if (!read_proposals) proposals->buf().append(kProposalsHeader);
    }
    auto append = [&](const HistoryEntry& h, const GrantRecord& g) -> absl::Status {
      RETURN_IF_ERROR(txn.Append(h));
      if (proposals != nullptr && !read_proposals) RETURN_IF_ERROR(proposals->Row(h, g));
      return absl::OkStatus();
    };
    ASSIGN_OR_RETURN(auto marks, txn.NightMarks());
    absl::flat_hash_map<std::string, std::string> mark_of(marks.begin(), marks.end());
    absl::flat_hash_set<std::string> dirty_caps;
    for (ActivePolicy& a : active) {
      auto it = mark_of.find(a.policy->id());
      a.dirty = it == mark_of.end() || it->second != a.mark;
      if (a.dirty && !a.cap_key.empty()) dirty_caps.insert(a.cap_key);
    }
    // A cap shares one firm's room among its policies: one changed, all are looked at.
    for (ActivePolicy& a : active) a.dirty = a.dirty || dirty_caps.contains(a.cap_key);
    // One batch of changed policies: their grants of tonight's periods (and, for the capped batch,
    // every grant under a changed cap) are loaded, decided and written.
    auto run_batch = [&](int batch_number, const std::vector<ActivePolicy*>& batch,
                         const std::vector<std::string>& cap_keys) -> absl::Status {
      GrantQuery query;
      for (const ActivePolicy* a : batch) query.policy_ids.push_back(a->policy->id());
      query.periods = periods;
      query.cap_keys = cap_keys;
      query.with_firm_data = false;
      ASSIGN_OR_RETURN(std::vector<GrantRecord> loaded, txn.Query(query));
      counts.grants_scanned += static_cast<int64_t>(loaded.size());
      // Every grant tonight looks at, by id: those loaded and those tonight creates. Works never
      // move (a deque), so the index's keys are views of their ids.
      std::deque<Work> works;
      absl::flat_hash_map<absl::string_view, Work*> work;
      size_t expected = loaded.size();
      for (const ActivePolicy* a : batch) expected += a->night->by_status[ELIGIBLE].cardinality();
      work.reserve(expected);
      auto add = [&](std::string id) -> Work& {
        Work& w = works.emplace_back();
        w.after.id = std::move(id);
        work.emplace(w.after.id, &w);
        return w;
      };
      for (const GrantRecord& g : loaded) {
        Work& w = works.emplace_back();
        w.before = &g;
        w.after = g;
        work.emplace(w.after.id, &w);
      }
      auto refresh = [&](Work& w, ActivePolicy& a, uint32_t firm, int64_t entitlement) {
        w.after.entitlement_fen = entitlement;
        w.after.as_of = night.as_of;
        w.after.name = std::string(night.name(firm));
        w.refresh_firm = firm;
        w.policy = &a;
      };
      // A new PROPOSED grant (a first one, or an adjustment of `base_id`) of `amount` fen.
      auto propose = [&](Work& w, ActivePolicy& a, absl::string_view code, std::string base_id, int64_t amount,
                         uint32_t firm, int64_t entitlement) {
        w.candidate = true;
        GrantRecord& g = w.after;
        g.policy_id = a.policy->id();
        g.credit_code = std::string(code);
        g.period = a.period;
        g.base_id = std::move(base_id);
        g.cap_key = a.cap_key;
        g.state = GrantState::kProposed;
        g.requires_confirmation = a.policy->policy.requires_confirmation();
        g.uncapped_fen = g.amount_fen = amount;
        refresh(w, a, firm, entitlement);
      };

      // 1. Tonight's eligible firms.
      for (ActivePolicy* batch_policy : batch) {
        ActivePolicy& a = *batch_policy;
        const Policy& p = a.policy->policy;
        for (uint32_t firm : a.night->by_status[ELIGIBLE]) {
          std::optional<Decimal> benefit = a.night->BenefitOf(firm);
          if (!benefit) continue;
          const int64_t fen = ToFen(*benefit);
          if (fen <= 0) continue;  // a zero amount is not a grant
          const absl::string_view code = night.code(firm);
          std::string id = GrantId(p.id(), code, a.period);
          auto found = work.find(id);
          const bool inserted = found == work.end();
          Work& w = inserted ? add(std::move(id)) : *found->second;
          w.candidate = true;
          GrantRecord& g = w.after;
          if (inserted) {
            propose(w, a, code, std::string(), fen, firm, fen);
            continue;
          }
          if (g.state == GrantState::kWithdrawn) {
            if (g.withdrawn_by != WithdrawnBy::kNight) continue;  // a person's decision stands
            g.state = GrantState::kProposed;
            g.withdrawn_by = WithdrawnBy::kNone;
            g.confirmed = g.objection_open = false;
            g.publicity_from.clear();
            g.publicity_to.clear();
            g.requires_confirmation = p.requires_confirmation();
            g.cap_key = a.cap_key;
            g.uncapped_fen = g.amount_fen = fen;
            refresh(w, a, firm, fen);
            w.reason = "eligible again";
            continue;
          }
          if (IsUnpaid(g.state)) {
            if (g.uncapped_fen != fen) {
              w.reason = absl::StrCat("amount recomputed: ", FenToYuan(g.uncapped_fen), " → ", FenToYuan(fen));
              g.uncapped_fen = g.amount_fen = fen;
              refresh(w, a, firm, fen);
            } else {
              g.amount_fen = g.uncapped_fen;  // the cap below may reduce it again
            }
            continue;
          }
          if (g.state != GrantState::kPaid) continue;  // RECOVERED: nothing more for this period
          // Paid: what its adjustments have covered so far.
          int64_t covered = g.entitlement_fen;
          Work* pending = nullptr;
          int last = 0;
          for (int n = 1;; ++n) {
            auto adj = work.find(absl::StrCat(g.id, "/ADJ", n));
            if (adj == work.end()) break;
            last = n;
            const GrantRecord& ag = adj->second->after;
            if (ag.state == GrantState::kPaid) covered = ag.entitlement_fen;
            if (IsUnpaid(ag.state)) pending = adj->second;
          }
          const int64_t extra = fen - covered;
          if (extra > 0) {
            if (pending != nullptr) {
              pending->candidate = true;
              if (pending->after.uncapped_fen != extra) {
                pending->reason = absl::StrCat("adjustment recomputed: ", FenToYuan(pending->after.uncapped_fen),
                                               " → ", FenToYuan(extra));
                pending->after.uncapped_fen = pending->after.amount_fen = extra;
                refresh(*pending, a, firm, fen);
              } else {
                pending->after.amount_fen = extra;
              }
            } else {
              Work& adj = add(absl::StrCat(g.id, "/ADJ", last + 1));
              propose(adj, a, code, g.id, extra, firm, fen);
              adj.reason = absl::StrCat("补发: the amount is now ", FenToYuan(fen), ", ", FenToYuan(covered),
                                        " was granted by ", g.id);
            }
          } else {
            if (pending != nullptr) {
              pending->after.state = GrantState::kWithdrawn;
              pending->after.withdrawn_by = WithdrawnBy::kNight;
              pending->reason = absl::StrCat("the amount is now ", FenToYuan(fen), ", no more than was granted");
            }
            if (extra < 0 && g.review_fen != fen) {
              g.review_fen = fen;
              w.review_covered = covered;
              w.reason = absl::StrCat("REVIEW: tonight's amount ", FenToYuan(fen), " is below the ",
                                      FenToYuan(covered), " granted; never recovered automatically");
            }
          }
        }
      }

      // 2. Unpaid grants of tonight's periods whose firm is not eligible tonight.
      for (Work& w : works) {
        if (w.candidate || w.before == nullptr) continue;
        GrantRecord& g = w.after;
        auto ap = active_by_id.find(g.policy_id);
        if (ap == active_by_id.end() || ap->second->batch != batch_number || ap->second->period != g.period) continue;
        if (!IsUnpaid(g.state)) continue;
        // A pending adjustment of a grant still eligible was handled above.
        if (!g.base_id.empty()) {
          auto base = work.find(g.base_id);
          if (base != work.end() && base->second->candidate) continue;
        }
        g.state = GrantState::kWithdrawn;
        g.withdrawn_by = WithdrawnBy::kNight;
        w.reason = WhyNotEligible(in, *ap->second, g.credit_code, as_of);
      }

      // 3. Caps, per firm and cap key of tonight: paid first, then the unpaid in policy id order.
      std::map<std::pair<std::string, std::string>, std::vector<Work*>> capped;
      for (Work& w : works) {
        if (w.after.cap_key.empty() || !dirty_caps.contains(w.after.cap_key)) continue;
        capped[{w.after.cap_key, w.after.credit_code}].push_back(&w);
      }
      for (auto& [key, grants] : capped) {
        const CompiledGrantCap* cap = catalog.FindCap(key.first.substr(0, key.first.find('/')));
        if (cap == nullptr) continue;
        std::sort(grants.begin(), grants.end(), [](const Work* a, const Work* b) {
          return std::tie(a->after.policy_id, a->after.id) < std::tie(b->after.policy_id, b->after.id);
        });
        int64_t remaining = ToFen(cap->max_yuan);
        for (const Work* w : grants) {
          if (w->after.state == GrantState::kPaid) remaining -= w->after.paid_fen;
        }
        for (Work* w : grants) {
          GrantRecord& g = w->after;
          if (!IsUnpaid(g.state)) continue;
          const int64_t amount = std::min(g.uncapped_fen, std::max<int64_t>(remaining, 0));
          remaining -= amount;
          g.amount_fen = amount;
          if (amount == 0) {
            g.state = GrantState::kWithdrawn;
            g.withdrawn_by = WithdrawnBy::kNight;
            w->reason = absl::StrCat("CAP_REACHED: grant_cap ", cap->cap.id(), " (", FenToYuan(ToFen(cap->max_yuan)),
                                     " per firm) is reached");
          } else if (amount < g.uncapped_fen) {
            absl::StrAppend(&w->reason, w->reason.empty() ? "" : "; ", "capped by grant_cap ", cap->cap.id(),
                            " (uncapped ", FenToYuan(g.uncapped_fen), ")");
          }
        }
      }

      // 4. Write what changed, in id order.
      static const GrantRecord kNone;
      std::vector<Work*> changed;
      for (Work& w : works) {
        const GrantRecord& b = w.before != nullptr ? *w.before : kNone;
        const GrantRecord& a = w.after;
        const bool differs = w.before == nullptr
                                 ? a.state == GrantState::kProposed
                                 : (a.state != b.state || a.amount_fen != b.amount_fen ||
                                    a.uncapped_fen != b.uncapped_fen || a.review_fen != b.review_fen ||
                                    a.entitlement_fen != b.entitlement_fen);
        if (differs) changed.push_back(&w);
      }
      std::sort(changed.begin(), changed.end(), [](const Work* x, const Work* y) { return x->after.id < y->after.id; });
      // The firm's data each grant keeps, one firm at a time (a firm is built once for all its grants).
      std::vector<Work*> refreshed;
      for (Work* w : changed) {
        if (w->refresh_firm) refreshed.push_back(w);
      }
      std::sort(refreshed.begin(), refreshed.end(), [](const Work* x, const Work* y) {
        return std::tie(*x->refresh_firm, x->after.id) < std::tie(*y->refresh_firm, y->after.id);
      });
      std::string taxonomy_digest;
      if (!refreshed.empty()) {
        absl::flat_hash_set<const ActivePolicy*> texts_kept;
        for (const Work* w : refreshed) {
          if (texts_kept.insert(w->policy).second) {
            RETURN_IF_ERROR(txn.PutText(StoredText{w->policy->digest, "policy", w->policy->text}));
          }
        }
        ASSIGN_OR_RETURN(taxonomy_digest, KeepTaxonomy(txn, in.taxonomy));
      }
      for (size_t i = 0; i < refreshed.size();) {
        const uint32_t firm_row = *refreshed[i]->refresh_firm;
        const Firm firm = in.firm_of(firm_row);
        for (; i < refreshed.size() && *refreshed[i]->refresh_firm == firm_row; ++i) {
          GrantRecord& g = refreshed[i]->after;
          g.policy_digest = refreshed[i]->policy->digest;
          g.taxonomy_digest = taxonomy_digest;
          g.firm_data.clear();
          AppendFirmDataJson(firm, refreshed[i]->policy->facts_read, catalog.taxonomy(), &g.firm_data);
        }
      }
      for (Work* wp : changed) {
        Work& w = *wp;
        GrantRecord& g = w.after;
        if (!w.refresh_firm && w.before != nullptr) {
          ASSIGN_OR_RETURN(std::optional<GrantRecord> full, txn.Find(g.id));
          if (full) g.firm_data = std::move(full->firm_data);
        }
        RETURN_IF_ERROR(txn.Put(g));
        const GrantRecord& b = w.before != nullptr ? *w.before : kNone;
        if (w.before == nullptr || (b.state == GrantState::kWithdrawn && g.state == GrantState::kProposed)) {
          const bool adjustment = !g.base_id.empty();
          RETURN_IF_ERROR(append(NightEntryFor(g, night.as_of, adjustment ? "ADJUSTMENT" : "NEW", 0, w.reason), g));
          ++(adjustment ? counts.adjustments : counts.proposed);
        } else if (g.state == GrantState::kWithdrawn && b.state != GrantState::kWithdrawn) {
          RETURN_IF_ERROR(append(NightEntryFor(g, night.as_of, "WITHDRAWN", b.amount_fen, w.reason), g));
          ++counts.withdrawn;
        } else if (g.state == GrantState::kPaid && g.review_fen != b.review_fen) {
          HistoryEntry h = NightEntryFor(g, night.as_of, "REVIEW", w.review_covered, w.reason);
          h.amount_fen = g.review_fen;
          RETURN_IF_ERROR(append(h, g));
          ++counts.review;
        } else if (g.state != GrantState::kWithdrawn) {
          RETURN_IF_ERROR(append(NightEntryFor(g, night.as_of, "CHANGED", b.amount_fen,
                                               w.reason.empty() ? "grant_cap shared anew" : w.reason),
                                 g));
          ++counts.changed;
        }
      }
      return absl::OkStatus();
    };

    std::vector<ActivePolicy*> changed_policies;
    for (ActivePolicy& a : active) {
      a.batch = -1;
      if (a.dirty) changed_policies.push_back(&a);
    }
    if (changed_policies.empty()) {  // nothing changed since the last night
      return FinishProposals(txn, night.as_of, in, proposals, read_proposals, &counts);
    }
    counts.policies_changed = static_cast<int64_t>(changed_policies.size());
    std::vector<std::string> cap_query(dirty_caps.begin(), dirty_caps.end());
    std::sort(cap_query.begin(), cap_query.end());
    // Batches (policy id order within each): first every changed policy with a changed cap, and
    // every changed policy that has a grant under one (its cap_group may have been edited since);
    // then the others, cut at about in.batch_grants tonight's eligible firms, so that memory stays
    // bounded however many grants a first night proposes.
    std::vector<std::vector<ActivePolicy*>> batches;
    size_t first_uncapped = 0;
    if (in.batch_grants <= 0) {  // one batch for the whole night
      for (ActivePolicy* a : changed_policies) a->batch = 0;
      batches.push_back(changed_policies);
      first_uncapped = 1;
    } else if (!cap_query.empty()) {
      batches.emplace_back();
      GrantQuery capped;
      capped.cap_keys = cap_query;
      capped.with_firm_data = false;
      ASSIGN_OR_RETURN(std::vector<GrantRecord> under_caps, txn.Query(capped));
      absl::flat_hash_set<std::string> with_capped_grants;
      for (const GrantRecord& g : under_caps) with_capped_grants.insert(g.policy_id);
      for (ActivePolicy* a : changed_policies) {
        if (!a->cap_key.empty() || with_capped_grants.contains(a->policy->id())) {
          a->batch = 0;
          batches[0].push_back(a);
        }
      }
    }
    if (in.batch_grants > 0) first_uncapped = batches.size();
    int64_t batch_grants = 0;
    for (ActivePolicy* a : changed_policies) {
      if (in.batch_grants <= 0 || a->batch == 0) continue;
      const int64_t grants = static_cast<int64_t>(a->night->by_status[ELIGIBLE].cardinality());
      if (batches.size() == first_uncapped || batch_grants + grants > in.batch_grants) {
        batches.emplace_back();
        batch_grants = 0;
      }
      a->batch = static_cast<int>(batches.size()) - 1;
      batches.back().push_back(a);
      batch_grants += grants;
    }
    for (size_t b = 0; b < batches.size(); ++b) {
      RETURN_IF_ERROR(run_batch(static_cast<int>(b), batches[b], b < first_uncapped ? cap_query : std::vector<std::string>()));
    }
    for (const ActivePolicy& a : active) {
      if (a.dirty) RETURN_IF_ERROR(txn.PutNightMark(a.policy->id(), a.mark));
    }
    return FinishProposals(txn, night.as_of, in, proposals, read_proposals, &counts);
  });
  if (!status.ok()) return status;
  return counts;
}

absl::StatusOr<std::string> ProposalsCsv(LedgerStore& ledger, const std::string& as_of) {
  std::string out;
  StringSink sink(&out);
  ProposalsWriter writer(&sink);
  writer.buf().append(kProposalsHeader);
  RETURN_IF_ERROR(ledger.Read([&](LedgerTransaction& txn) { return writer.ReadBack(txn, as_of); }));
  RETURN_IF_ERROR(writer.Flush());
  return out;
}

absl::StatusOr<LedgerNightCounts> RunLedgerNight(const std::string& path, const std::string& rules_dir,
                                                 const Catalog& catalog, const NightResult& night,
                                                 const FirmStore& store, AtomicOutputDir* out,
                                                 const std::string& previous_proposals) {
  LedgerNight in;
  in.catalog = &catalog;
  in.night = &night;
  in.firm_of = [&store](uint32_t row) { return store.ToFirm(row); };
  ASSIGN_OR_RETURN(in.taxonomy, ReadTaxonomyTexts(rules_dir + "/taxonomy"));
  if (!previous_proposals.empty()) {
    in.can_reuse_proposals = [&previous_proposals](const ProposalsMemo& memo) {
      absl::StatusOr<FileSum> file = ChecksumFile(previous_proposals);  // any error: not reused
      return file.ok() && file->size == memo.size && file->checksum == memo.checksum;
    };
  }
  ASSIGN_OR_RETURN(std::unique_ptr<LedgerStore> ledger, OpenSqliteLedger(path, LedgerMode::kReadWrite));
  // proposals.csv is streamed into the night's directory while the night is decided.
  LedgerNightCounts counts;
  RETURN_IF_ERROR(out->WriteFile("proposals.csv", [&](ByteSink* sink) -> absl::Status {
    ASSIGN_OR_RETURN(counts, ProposeNight(*ledger, in, sink));
    return absl::OkStatus();
  }, previous_proposals));
  if (counts.proposals_reused) RETURN_IF_ERROR(out->LinkFile("proposals.csv", previous_proposals));
  return counts;
}

std::string DescribeCounts(const LedgerNightCounts& c) {
  return absl::StrCat(c.proposed, " proposed, ", c.changed, " changed, ", c.adjustments, " adjustments, ",
                      c.withdrawn, " withdrawn, ", c.review, " for review (", c.policies_changed,
                      " policies changed since their last night, ", c.grants_scanned, " of their grants read)");
}

}  // namespace polmatch
