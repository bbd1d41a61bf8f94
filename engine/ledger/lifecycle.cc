#include "engine/ledger/lifecycle.h"

#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/catalog/catalog.h"
#include "engine/ingest/firm.h"
#include "engine/ledger/kept_rules.h"
#include "engine/match/explain.h"
#include "engine/match/reference.h"
#include "engine/util/dates.h"
#include "engine/util/json_string.h"
#include "engine/util/status_macros.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"

namespace polmatch {
namespace {

HistoryEntry Step(const GrantRecord& g, absl::CivilDay date, std::string event, std::string note) {
  HistoryEntry h;
  h.grant_id = g.id;
  h.date = FormatDate(date);
  h.event = std::move(event);
  h.state = g.state;
  h.amount_fen = g.amount_fen;
  h.previous_fen = g.amount_fen;
  h.note = std::move(note);
  return h;
}

std::string Refusal(const GrantRecord& g, absl::string_view what, absl::string_view why) {
  return absl::StrCat("grant ", g.id, " is ", StateName(g.state), ": cannot ", what, why.empty() ? "" : " (",
                      why, why.empty() ? "" : ")");
}

absl::StatusOr<Policy> KeptPolicy(LedgerTransaction& txn, const std::string& digest, bool* intact = nullptr) {
  ASSIGN_OR_RETURN(std::optional<StoredText> text, txn.Text(digest));
  if (!text || text->kind != "policy") return absl::NotFoundError(absl::StrCat("the ledger keeps no policy text ", digest));
  if (intact != nullptr) *intact = Sha256Hex(text->text) == digest;
  Policy p;
  if (!google::protobuf::TextFormat::ParseFromString(text->text, &p)) {
    return absl::DataLossError(absl::StrCat("policy text ", digest, " does not parse"));
  }
  return p;
}

}  // namespace

absl::StatusOr<std::vector<GrantRecord>> PublishGrants(LedgerStore& ledger, const std::string& policy_id,
                                                       absl::CivilDay from, const PublicityEndFn& publicity_end) {
  std::vector<GrantRecord> published;
  RETURN_IF_ERROR(ledger.Write([&](LedgerTransaction& txn) -> absl::Status {
    published.clear();
    GrantQuery q;
    q.policy_id = policy_id;
    q.state = GrantState::kProposed;
    ASSIGN_OR_RETURN(std::vector<GrantRecord> grants, txn.Query(q));
    if (grants.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("policy ", policy_id, " has no PROPOSED grant to publish"));
    }
    absl::flat_hash_map<std::string, int> days_by_digest;
    for (GrantRecord& g : grants) {
      auto it = days_by_digest.find(g.policy_digest);
      if (it == days_by_digest.end()) {
        ASSIGN_OR_RETURN(Policy p, KeptPolicy(txn, g.policy_digest));
        it = days_by_digest.emplace(g.policy_digest, p.publicity_days()).first;
      }
      const int days = it->second;
      g.state = GrantState::kPublished;
      g.publicity_from = FormatDate(from);
      std::string note;
      if (days > 0) {
        absl::StatusOr<absl::CivilDay> end = publicity_end(from, days);
        if (!end.ok()) return end.status();
        g.publicity_to = FormatDate(*end);
        note = absl::StrCat("公示 ", g.publicity_from, " to ", g.publicity_to, " (", days, " working days)");
      } else {
        g.publicity_to.clear();
        note = absl::StrCat("no 公示 (publicity_days 0): approvable from ", g.publicity_from);
      }
      RETURN_IF_ERROR(txn.Put(g));
      RETURN_IF_ERROR(txn.Append(Step(g, from, "PUBLISHED", std::move(note))));
      published.push_back(std::move(g));
    }
    return absl::OkStatus();
  }));
  return published;
}

absl::Status RecordActions(LedgerStore& ledger, const std::vector<ClerkAction>& actions) {
  return ledger.Write([&](LedgerTransaction& txn) -> absl::Status {
    std::vector<std::string> refused;
    // Several actions on one grant in one call see each other's effect.
    std::map<std::string, GrantRecord> touched;
    std::vector<HistoryEntry> steps;
    for (const ClerkAction& a : actions) {
      const std::string where = a.line > 0 ? absl::StrCat("line ", a.line, ": ") : "";
      GrantRecord* g = nullptr;
      if (auto it = touched.find(a.grant_id); it != touched.end()) {
        g = &it->second;
      } else {
        ASSIGN_OR_RETURN(std::optional<GrantRecord> found, txn.Find(a.grant_id));
        if (!found) {
          refused.push_back(absl::StrCat(where, "no grant ", a.grant_id));
          continue;
        }
        g = &touched.emplace(a.grant_id, std::move(*found)).first->second;
      }
      const GrantState s = g->state;
      std::string event;
      std::string refusal;
      switch (a.step) {
        case ClerkStep::kObject:
          if (s != GrantState::kPublished) {
            refusal = Refusal(*g, "record an objection", "only a PUBLISHED grant, during or after its 公示, can be objected to");
            break;
          }
          g->state = GrantState::kObjected;
          g->objection_open = true;
          event = "OBJECTED";
          break;
        case ClerkStep::kDismiss:
        case ClerkStep::kUphold:
          if (s != GrantState::kObjected) {
            refusal = Refusal(*g, "resolve an objection", "it has no open objection");
            break;
          }
          g->objection_open = false;
          if (a.step == ClerkStep::kDismiss) {
            g->state = GrantState::kPublished;
            event = "RESOLVED";
          } else {
            g->state = GrantState::kWithdrawn;
            g->withdrawn_by = WithdrawnBy::kPerson;
            event = "RESOLVED";
          }
          break;
        case ClerkStep::kConfirm:
          if (!IsUnpaid(s)) {
            refusal = Refusal(*g, "confirm", "only an unpaid grant can be confirmed");
            break;
          }
          if (g->confirmed) {
            refusal = Refusal(*g, "confirm", "already confirmed");
            break;
          }
          g->confirmed = true;
          event = "CONFIRMED";
          break;
        case ClerkStep::kDecline:
          if (!IsUnpaid(s)) {
            refusal = Refusal(*g, "record the firm's refusal", "only an unpaid grant can be declined");
            break;
          }
          g->state = GrantState::kWithdrawn;
          g->withdrawn_by = WithdrawnBy::kPerson;
          event = "DECLINED";
          break;
        case ClerkStep::kRecover:
          if (s != GrantState::kPaid) {
            refusal = Refusal(*g, "recover", "only a PAID grant can be recovered");
            break;
          }
          g->state = GrantState::kRecovered;
          g->recovered_fen = g->paid_fen;
          event = "RECOVERED";
          break;
      }
      if (!refusal.empty()) {
        refused.push_back(absl::StrCat(where, refusal));
        continue;
      }
      std::string note = a.note;
      if (a.step == ClerkStep::kDismiss) note = absl::StrCat("objection dismissed", note.empty() ? "" : ": ", note);
      if (a.step == ClerkStep::kUphold) note = absl::StrCat("objection upheld", note.empty() ? "" : ": ", note);
      steps.push_back(Step(*g, a.date, event, std::move(note)));
    }
    if (!refused.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(absl::StrJoin(refused, "\n"),
                                                        actions.size() > 1 ? "\nnothing recorded" : ""));
    }
    for (const auto& [id, g] : touched) RETURN_IF_ERROR(txn.Put(g));
    for (const HistoryEntry& h : steps) RETURN_IF_ERROR(txn.Append(h));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<GrantRecord>> ApproveGrants(LedgerStore& ledger, absl::CivilDay date) {
  std::vector<GrantRecord> approved;
  RETURN_IF_ERROR(ledger.Write([&](LedgerTransaction& txn) -> absl::Status {
    approved.clear();
    GrantQuery q;
    q.state = GrantState::kPublished;
    ASSIGN_OR_RETURN(std::vector<GrantRecord> grants, txn.Query(q));
    const std::string today = FormatDate(date);
    for (GrantRecord& g : grants) {
      const bool ended = g.publicity_to.empty() ? g.publicity_from <= today : g.publicity_to < today;
      if (!ended || (g.requires_confirmation && !g.confirmed)) continue;
      g.state = GrantState::kApproved;
      RETURN_IF_ERROR(txn.Put(g));
      RETURN_IF_ERROR(txn.Append(Step(g, date, "APPROVED",
                                      g.publicity_to.empty() ? "no 公示" : absl::StrCat("公示 ended ", g.publicity_to))));
      approved.push_back(std::move(g));
    }
    return absl::OkStatus();
  }));
  return approved;
}

absl::StatusOr<PaymentOutcome> RecordPayments(LedgerStore& ledger, const std::vector<Payment>& payments) {
  PaymentOutcome out;
  RETURN_IF_ERROR(ledger.Write([&](LedgerTransaction& txn) -> absl::Status {
    out = PaymentOutcome();
    std::set<std::string> seen;
    for (const Payment& p : payments) {
      auto refuse = [&](const std::string& why) {
        out.refused.push_back(absl::StrCat("line ", p.line, ": grant ", p.grant_id, ": ", why));
      };
      if (!seen.insert(p.grant_id).second) {
        refuse("paid twice in this file");
        continue;
      }
      ASSIGN_OR_RETURN(std::optional<GrantRecord> g, txn.Find(p.grant_id));
      if (!g) {
        refuse("no such grant");
        continue;
      }
      if (g->state != GrantState::kApproved) {
        refuse(absl::StrCat("is ", StateName(g->state), ", not APPROVED"));
        continue;
      }
      absl::StatusOr<int64_t> fen = ParseYuanToFen(p.amount_yuan);
      if (!fen.ok()) {
        refuse(std::string(fen.status().message()));
        continue;
      }
      if (*fen != g->amount_fen) {
        refuse(absl::StrCat("amount ", FenToYuan(*fen), " does not match the approved ", FenToYuan(g->amount_fen)));
        continue;
      }
      absl::StatusOr<absl::CivilDay> day = ParseDate(p.paid_on);
      if (!day.ok()) {
        refuse(absl::StrCat("paid_on: ", day.status().message()));
        continue;
      }
      if (p.reference.empty()) {
        refuse("no payment reference");
        continue;
      }
      g->state = GrantState::kPaid;
      g->paid_fen = *fen;
      g->paid_on = FormatDate(*day);
      g->payment_reference = p.reference;
      RETURN_IF_ERROR(txn.Put(*g));
      RETURN_IF_ERROR(txn.Append(Step(*g, *day, "PAID", absl::StrCat("reference ", p.reference))));
      out.paid.push_back(p.grant_id);
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<GrantWithHistory>> ListGrants(const LedgerStore& ledger, const GrantQuery& query) {
  std::vector<GrantWithHistory> out;
  RETURN_IF_ERROR(ledger.Read([&](LedgerTransaction& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::vector<GrantRecord> grants, txn.Query(query));
    out.clear();
    out.reserve(grants.size());
    for (GrantRecord& g : grants) {
      ASSIGN_OR_RETURN(std::vector<HistoryEntry> history, txn.History(g.id));
      out.push_back(GrantWithHistory{std::move(g), std::move(history)});
    }
    return absl::OkStatus();
  }));
  return out;
}

std::string GrantsJson(const std::vector<GrantWithHistory>& grants) {
  std::string out = "{\"grants\": [";
  for (size_t i = 0; i < grants.size(); ++i) {
    const GrantRecord& g = grants[i].grant;
    absl::StrAppend(&out, i == 0 ? "" : ", ", "{\"id\": ", JsonString(g.id), ", \"policy\": ", JsonString(g.policy_id),
                    ", \"credit_code\": ", JsonString(g.credit_code), ", \"name\": ", JsonString(g.name),
                    ", \"period\": ", JsonString(g.period), ", \"state\": ", JsonString(StateName(g.state)),
                    ", \"amount_yuan\": ", JsonString(FenToYuan(g.amount_fen)),
                    ", \"uncapped_amount_yuan\": ", JsonString(FenToYuan(g.uncapped_fen)),
                    ", \"publicity_from\": ", JsonString(g.publicity_from),
                    ", \"publicity_to\": ", JsonString(g.publicity_to), ", \"history\": [");
    const auto& history = grants[i].history;
    for (size_t j = 0; j < history.size(); ++j) {
      const HistoryEntry& h = history[j];
      std::string note = h.event;
      if (!h.note.empty()) absl::StrAppend(&note, ": ", h.note);
      absl::StrAppend(&out, j == 0 ? "" : ", ", "{\"date\": ", JsonString(h.date), ", \"state\": ",
                      JsonString(StateName(h.state)), ", \"note\": ", JsonString(note), "}");
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

absl::StatusOr<AuditReport> AuditGrant(const LedgerStore& ledger, const std::string& grant_id) {
  AuditReport report;
  RETURN_IF_ERROR(ledger.Read([&](LedgerTransaction& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<GrantRecord> g, txn.Find(grant_id));
    if (!g) return absl::NotFoundError(absl::StrCat("no grant ", grant_id));
    report.grant = *g;
    ASSIGN_OR_RETURN(Policy policy, KeptPolicy(txn, g->policy_digest, &report.text_intact));
    ASSIGN_OR_RETURN(Taxonomy kept_taxonomy, LoadKeptTaxonomy(txn, g->taxonomy_digest));
    auto taxonomy = std::make_shared<const Taxonomy>(std::move(kept_taxonomy));
    policy.clear_cap_group();  // the cap is the ledger's, not the policy's amount
    policy.clear_exclusive_group();
    PolicyCatalog one;
    *one.add_policy() = policy;
    Diagnostics diags;
    absl::StatusOr<Catalog> catalog = Catalog::FromProtos(taxonomy, {one}, &diags, {"(kept policy text)"});
    if (!catalog.ok()) {
      report.disagreement = absl::StrCat("the kept policy text no longer compiles: ", catalog.status().message());
      return absl::OkStatus();
    }
    FirmProfile profile;
    if (!google::protobuf::util::JsonStringToMessage(g->firm_data, &profile).ok()) {
      return absl::DataLossError(absl::StrCat("grant ", grant_id, ": the kept firm data does not parse"));
    }
    // The code and name are the grant's (the kept data leaves them out since schema version 3).
    if (profile.credit_code().empty()) profile.set_credit_code(g->credit_code);
    if (profile.name().empty()) profile.set_name(g->name);
    ASSIGN_OR_RETURN(Firm firm, FirmFromProfile(profile, *taxonomy));
    ASSIGN_OR_RETURN(absl::CivilDay as_of, ParseDate(g->as_of));
    FirmView view(firm, *taxonomy, as_of);
    const CompiledPolicy& cp = catalog->policies()[0];
    ReferenceMatcher matcher(*catalog);
    Outcome outcome = matcher.EvaluatePolicy(cp, view);
    report.replay = ExplainOutcome(cp, *taxonomy, view, outcome);
    if (!report.text_intact) {
      report.disagreement = "the kept policy text does not match its digest";
    } else if (outcome.status != ELIGIBLE || !outcome.benefit) {
      report.disagreement = absl::StrCat("the replay finds ", MatchStatus_Name(outcome.status), ", not ELIGIBLE");
    } else if (ToFen(*outcome.benefit) != g->entitlement_fen) {
      report.disagreement = absl::StrCat("the replay computes ", FenToYuan(ToFen(*outcome.benefit)), ", the ledger granted ",
                                         FenToYuan(g->entitlement_fen));
    }
    report.agrees = report.disagreement.empty();
    return absl::OkStatus();
  }));
  return report;
}

}  // namespace polmatch
