#include "engine/ledger/nightly.h"

#include <algorithm>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/expr/eval.h"
#include "engine/util/dates.h"
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
  std::string mark;    // period, cap, policy text digest and eligible firms' fingerprint
  bool dirty = true;   // the mark differs from the ledger's: the policy is processed tonight
};

// A grant as loaded (`before`) and as tonight leaves it (`after`).
struct Work {
  bool existed = false;
  GrantRecord before, after;
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

}  // namespace

void AppendCsvCell(std::string* out, absl::string_view s) {
  if (s.find_first_of(",\"\r\n") == absl::string_view::npos) {
    out->append(s.data(), s.size());
    return;
  }
  out->push_back('"');
  for (char c : s) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

absl::StatusOr<LedgerNightCounts> ProposeNight(LedgerStore& ledger, const LedgerNight& in) {
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
  if (active.empty()) return counts;
  // Each policy's mark: a policy whose mark the ledger holds is as that night left it.
  for (ActivePolicy& a : active) {
    a.text = PolicyText(a.policy->policy);
    a.digest = Sha256Hex(a.text);
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

  absl::Status status = ledger.Write([&](LedgerTransaction& txn) -> absl::Status {
    counts = LedgerNightCounts();
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
    GrantQuery query;
    for (const ActivePolicy& a : active) {
      if (a.dirty) query.policy_ids.push_back(a.policy->id());
    }
    if (query.policy_ids.empty()) return absl::OkStatus();  // nothing changed since the last night
    // The grants tonight's rules may touch: those of tonight's periods and cap periods.
    query.periods = periods;
    query.cap_keys.assign(dirty_caps.begin(), dirty_caps.end());
    std::sort(query.cap_keys.begin(), query.cap_keys.end());
    query.with_firm_data = false;
    ASSIGN_OR_RETURN(std::vector<GrantRecord> loaded, txn.Query(query));
    counts.grants_scanned = static_cast<int64_t>(loaded.size());
    counts.policies_changed = static_cast<int64_t>(query.policy_ids.size());
    absl::flat_hash_map<std::string, Work> work;
    work.reserve(loaded.size());
    for (GrantRecord& g : loaded) {
      Work w;
      w.existed = true;
      w.after = g;
      w.before = std::move(g);
      std::string id = w.before.id;
      work.emplace(std::move(id), std::move(w));
    }
    auto refresh = [&](Work& w, ActivePolicy& a, uint32_t firm, int64_t entitlement) {
      w.after.entitlement_fen = entitlement;
      w.after.as_of = night.as_of;
      w.after.name = std::string(night.name(firm));
      w.refresh_firm = firm;
      w.policy = &a;
    };

    // 1. Tonight's eligible firms.
    for (ActivePolicy& a : active) {
      if (!a.dirty) continue;
      const Policy& p = a.policy->policy;
      for (uint32_t firm : a.night->by_status[ELIGIBLE]) {
        std::optional<Decimal> benefit = a.night->BenefitOf(firm);
        if (!benefit) continue;
        const int64_t fen = ToFen(*benefit);
        if (fen <= 0) continue;  // a zero amount is not a grant
        const absl::string_view code = night.code(firm);
        const std::string id = GrantId(p.id(), code, a.period);
        auto [it, inserted] = work.try_emplace(id);
        Work& w = it->second;
        w.candidate = true;
        GrantRecord& g = w.after;
        if (inserted) {
          g.id = id;
          g.policy_id = p.id();
          g.credit_code = std::string(code);
          g.period = a.period;
          g.cap_key = a.cap_key;
          g.state = GrantState::kProposed;
          g.requires_confirmation = p.requires_confirmation();
          g.uncapped_fen = g.amount_fen = fen;
          refresh(w, a, firm, fen);
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
          auto adj = work.find(absl::StrCat(id, "/ADJ", n));
          if (adj == work.end()) break;
          last = n;
          const GrantRecord& ag = adj->second.after;
          if (ag.state == GrantState::kPaid) covered = ag.entitlement_fen;
          if (IsUnpaid(ag.state)) pending = &adj->second;
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
            Work& adj = work[absl::StrCat(id, "/ADJ", last + 1)];
            adj.candidate = true;
            GrantRecord& ag = adj.after;
            ag.id = absl::StrCat(id, "/ADJ", last + 1);
            ag.policy_id = p.id();
            ag.credit_code = std::string(code);
            ag.period = a.period;
            ag.base_id = id;
            ag.cap_key = a.cap_key;
            ag.state = GrantState::kProposed;
            ag.requires_confirmation = p.requires_confirmation();
            ag.uncapped_fen = ag.amount_fen = extra;
            refresh(adj, a, firm, fen);
            adj.reason = absl::StrCat("补发: the amount is now ", FenToYuan(fen), ", ", FenToYuan(covered),
                                      " was granted by ", id);
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
    for (auto& [id, w] : work) {
      if (w.candidate || !w.existed) continue;
      GrantRecord& g = w.after;
      auto ap = active_by_id.find(g.policy_id);
      if (ap == active_by_id.end() || !ap->second->dirty || ap->second->period != g.period) continue;
      if (!IsUnpaid(g.state)) continue;
      // A pending adjustment of a grant still eligible was handled above.
      if (!g.base_id.empty()) {
        auto base = work.find(g.base_id);
        if (base != work.end() && base->second.candidate) continue;
      }
      g.state = GrantState::kWithdrawn;
      g.withdrawn_by = WithdrawnBy::kNight;
      w.reason = WhyNotEligible(in, *ap->second, g.credit_code, as_of);
    }

    // 3. Caps, per firm and cap key of tonight: paid first, then the unpaid in policy id order.
    std::map<std::pair<std::string, std::string>, std::vector<Work*>> capped;
    for (auto& [id, w] : work) {
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
    std::vector<std::pair<const std::string*, Work*>> changed;
    for (auto& [id, w] : work) {
      const GrantRecord& b = w.before;
      const GrantRecord& a = w.after;
      const bool differs = !w.existed ? a.state == GrantState::kProposed
                                      : (a.state != b.state || a.amount_fen != b.amount_fen ||
                                         a.uncapped_fen != b.uncapped_fen || a.review_fen != b.review_fen ||
                                         a.entitlement_fen != b.entitlement_fen);
      if (differs) changed.emplace_back(&id, &w);
    }
    std::sort(changed.begin(), changed.end(), [](const auto& x, const auto& y) { return *x.first < *y.first; });
    absl::flat_hash_set<const ActivePolicy*> texts_kept;
    std::string taxonomy_digest;
    for (auto& [id, wp] : changed) {
      Work& w = *wp;
      GrantRecord& g = w.after;
      if (w.refresh_firm) {
        ActivePolicy& a = *w.policy;
        if (texts_kept.insert(&a).second) RETURN_IF_ERROR(txn.PutText(StoredText{a.digest, "policy", a.text}));
        if (taxonomy_digest.empty()) {
          ASSIGN_OR_RETURN(taxonomy_digest, KeepTaxonomy(txn, in.taxonomy));
        }
        g.policy_digest = a.digest;
        g.taxonomy_digest = taxonomy_digest;
        g.firm_data = FirmDataJson(in.firm_of(*w.refresh_firm), *a.policy, catalog.taxonomy());
      } else if (w.existed) {
        ASSIGN_OR_RETURN(std::optional<GrantRecord> full, txn.Find(g.id));
        if (full) g.firm_data = full->firm_data;
      }
      RETURN_IF_ERROR(txn.Put(g));
      const GrantRecord& b = w.before;
      if (!w.existed || (b.state == GrantState::kWithdrawn && g.state == GrantState::kProposed)) {
        const bool adjustment = !g.base_id.empty();
        RETURN_IF_ERROR(txn.Append(NightEntryFor(g, night.as_of, adjustment ? "ADJUSTMENT" : "NEW", 0, w.reason)));
        ++(adjustment ? counts.adjustments : counts.proposed);
      } else if (g.state == GrantState::kWithdrawn && b.state != GrantState::kWithdrawn) {
        RETURN_IF_ERROR(txn.Append(NightEntryFor(g, night.as_of, "WITHDRAWN", b.amount_fen, w.reason)));
        ++counts.withdrawn;
      } else if (g.state == GrantState::kPaid && g.review_fen != b.review_fen) {
        HistoryEntry h = NightEntryFor(g, night.as_of, "REVIEW", w.review_covered, w.reason);
        h.amount_fen = g.review_fen;
        RETURN_IF_ERROR(txn.Append(h));
        ++counts.review;
      } else if (g.state != GrantState::kWithdrawn) {
        RETURN_IF_ERROR(txn.Append(NightEntryFor(g, night.as_of, "CHANGED", b.amount_fen,
                                                 w.reason.empty() ? "grant_cap shared anew" : w.reason)));
        ++counts.changed;
      }
    }
    for (const ActivePolicy& a : active) {
      if (a.dirty) RETURN_IF_ERROR(txn.PutNightMark(a.policy->id(), a.mark));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return counts;
}

absl::StatusOr<std::string> ProposalsCsv(LedgerStore& ledger, const std::string& as_of) {
  std::string out = "grant_id,policy_id,credit_code,name,period,change,amount_yuan,previous_amount_yuan,reason\n";
  RETURN_IF_ERROR(ledger.Read([&](LedgerTransaction& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<NightEntry> entries, txn.NightEntries(as_of));
    for (const NightEntry& e : entries) {
      AppendCsvCell(&out, e.entry.grant_id);
      out += ',';
      AppendCsvCell(&out, e.policy_id);
      out += ',';
      AppendCsvCell(&out, e.credit_code);
      out += ',';
      AppendCsvCell(&out, e.name);
      out += ',';
      AppendCsvCell(&out, e.period);
      out += ',';
      AppendCsvCell(&out, e.entry.event);
      absl::StrAppend(&out, ",", FenToYuan(e.entry.amount_fen), ",",
                      e.entry.event == "NEW" || e.entry.event == "ADJUSTMENT" ? "" : FenToYuan(e.entry.previous_fen), ",");
      AppendCsvCell(&out, e.entry.note);
      out += '\n';
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<LedgerNightCounts> RunLedgerNight(const std::string& path, const std::string& rules_dir,
                                                 const Catalog& catalog, const NightResult& night,
                                                 const FirmStore& store, AtomicOutputDir* out) {
  LedgerNight in;
  in.catalog = &catalog;
  in.night = &night;
  in.firm_of = [&store](uint32_t row) { return store.ToFirm(row); };
  ASSIGN_OR_RETURN(in.taxonomy, ReadTaxonomyTexts(rules_dir + "/taxonomy"));
  ASSIGN_OR_RETURN(std::unique_ptr<LedgerStore> ledger, OpenSqliteLedger(path, LedgerMode::kReadWrite));
  ASSIGN_OR_RETURN(LedgerNightCounts counts, ProposeNight(*ledger, in));
  ASSIGN_OR_RETURN(std::string csv, ProposalsCsv(*ledger, night.as_of));
  RETURN_IF_ERROR(out->WriteFile("proposals.csv", [&](ByteSink* sink) { return sink->Write(csv); }));
  return counts;
}

std::string DescribeCounts(const LedgerNightCounts& c) {
  return absl::StrCat(c.proposed, " proposed, ", c.changed, " changed, ", c.adjustments, " adjustments, ",
                      c.withdrawn, " withdrawn, ", c.review, " for review (", c.policies_changed,
                      " policies changed since their last night, ", c.grants_scanned, " of their grants read)");
}

}  // namespace polmatch
