// polmatch grants: the grant ledger's lifecycle after a night has proposed (SPEC §7). The rules
// live in engine/ledger/lifecycle.h; this file parses options, reads and writes files, prints.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/ledger/kept_rules.h"
#include "engine/ledger/lifecycle.h"
#include "engine/output/list_file.h"
#include "engine/util/calendar.h"
#include "engine/util/dates.h"
#include "engine/util/textproto.h"
#include "google/protobuf/text_format.h"
#include "tools/cli.h"

namespace polmatch::cli {
namespace {

constexpr char kUsageLine[] =
    "polmatch grants publish|object|resolve|confirm|decline|approve|export|pay|recover|list|show|audit "
    "--ledger L …";

int ExitFor(const absl::Status& s) {
  if (s.ok()) return kOk;
  // A step the state machine forbids, or an unknown grant: the command ran and refused.
  if (absl::IsFailedPrecondition(s) || absl::IsNotFound(s)) return kProblems;
  return kUsage;
}

int Fail(const absl::Status& s) {
  for (absl::string_view line : absl::StrSplit(s.message(), '\n')) PrintError(std::string(line));
  return ExitFor(s);
}

std::optional<absl::CivilDay> DateOption(const po::variables_map& vm, const char* name) {
  absl::StatusOr<absl::CivilDay> d = ParseDate(vm[name].as<std::string>());
  if (!d.ok()) {
    PrintError(absl::StrCat("--", name, ": ", d.status().message()));
    return std::nullopt;
  }
  return *d;
}

std::unique_ptr<LedgerStore> OpenLedger(const po::variables_map& vm, LedgerMode mode) {
  const std::string path = vm["ledger"].as<std::string>();
  if (!std::filesystem::exists(path)) {
    PrintError(absl::StrCat(path, ": no such ledger (batch --ledger creates it)"));
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<LedgerStore>> ledger = OpenSqliteLedger(path, mode);
  if (!ledger.ok()) {
    PrintError(std::string(ledger.status().message()));
    return nullptr;
  }
  return std::move(*ledger);
}

// A CSV file as (line number, fields) rows after its header; RFC 4180 quotes within a line; a
// UTF-8 BOM is skipped. `header` gets the header's fields.
absl::StatusOr<std::vector<std::pair<int, std::vector<std::string>>>> ReadCsvRows(const std::string& path,
                                                                                  std::vector<std::string>* header) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read"));
  absl::string_view rest = *text;
  if (absl::StartsWith(rest, "\xEF\xBB\xBF")) rest.remove_prefix(3);
  std::vector<std::pair<int, std::vector<std::string>>> rows;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(rest, '\n')) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (quoted) {
        if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
          fields.back() += '"';
          ++i;
        } else if (c == '"') {
          quoted = false;
        } else {
          fields.back() += c;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        fields.emplace_back();
      } else {
        fields.back() += c;
      }
    }
    if (quoted) return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": unterminated quote"));
    if (header->empty()) {
      *header = std::move(fields);
      continue;
    }
    rows.emplace_back(number, std::move(fields));
  }
  if (header->empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty file, no header"));
  return rows;
}

int ColumnOf(const std::vector<std::string>& header, absl::string_view name) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (absl::StripAsciiWhitespace(header[i]) == name) return static_cast<int>(i);
  }
  return -1;
}

// The 公示名单 / 拨付清单 rows of grants, with the title and source from each grant's kept policy.
absl::StatusOr<ListTable> GrantList(const LedgerStore& ledger, const std::string& title,
                                    const std::vector<GrantRecord>& grants) {
  std::vector<FinanceListRow> rows;
  absl::Status s = ledger.Read([&](LedgerTransaction& txn) -> absl::Status {
    std::map<std::string, Policy> policies;
    for (const GrantRecord& g : grants) {
      auto it = policies.find(g.policy_digest);
      if (it == policies.end()) {
        Policy p;
        absl::StatusOr<std::optional<StoredText>> text = txn.Text(g.policy_digest);
        if (!text.ok()) return text.status();
        if (*text) google::protobuf::TextFormat::ParseFromString((*text)->text, &p);
        it = policies.emplace(g.policy_digest, std::move(p)).first;
      }
      const Policy& p = it->second;
      FinanceListRow row;
      row.name = g.name;
      row.credit_code = g.credit_code;
      row.policy = p.title().empty() ? g.policy_id : p.title();
      if (!g.base_id.empty()) row.policy += "(补发)";
      row.source = absl::StrCat(p.source().document(), p.source().clause().empty() ? "" : " ", p.source().clause());
      row.amount_yuan = FenToYuan(g.amount_fen);
      row.period = g.period;
      row.publicity_from = g.publicity_from;
      row.publicity_to = g.publicity_to;
      rows.push_back(std::move(row));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return FinanceList(title, rows);
}

// Writes `table` as F.xlsx and F.csv (or only the one F's extension names).
absl::Status WriteList(const std::filesystem::path& out, const ListTable& table) {
  const std::string ext = out.extension().string();
  if (ext == ".xlsx") return WriteListXlsx(out, table);
  if (ext == ".csv") return WriteListCsv(out, table);
  std::filesystem::path xlsx = out, csv = out;
  xlsx += ".xlsx";
  csv += ".csv";
  absl::Status s = WriteListXlsx(xlsx, table);
  if (s.ok()) s = WriteListCsv(csv, table);
  return s;
}

void PrintGrantLine(const GrantRecord& g) {
  std::cout << g.id << "  " << StateName(g.state) << "  " << FenToYuan(g.amount_fen);
  if (g.uncapped_fen != g.amount_fen) std::cout << " (uncapped " << FenToYuan(g.uncapped_fen) << ")";
  std::cout << "  " << g.name;
  if (!g.publicity_from.empty()) {
    std::cout << "  公示 " << g.publicity_from << (g.publicity_to.empty() ? "" : " 至 " + g.publicity_to);
  }
  if (g.requires_confirmation) std::cout << (g.confirmed ? "  confirmed" : "  awaiting confirmation");
  std::cout << "\n";
}

int RunPublish(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("ledger", po::value<std::string>()->required(), "the grant ledger")
      ("policy", po::value<std::string>()->required(), "the policy whose PROPOSED grants go on 公示")
      ("from", po::value<std::string>()->required(), "first day of the 公示, YYYY-MM-DD")
      ("rules", po::value<std::string>()->default_value("rules"), "rules directory whose calendar/ counts working days")
      ("out", po::value<std::string>(), "write the 公示名单 here as 公示名单-POLICY-DATE.xlsx and .csv");
  po::variables_map vm;
  if (auto exit = ParseArgs(argc, argv, "polmatch grants publish --ledger L --policy ID --from DATE [--out DIR]",
                            "Starts 公示 for every PROPOSED grant of the policy: it ends `publicity_days` working days\n"
                            "after DATE (weekends, public holidays and 调休 workdays of RULES/calendar). With --out,\n"
                            "writes the 公示名单 (.xlsx and UTF-8 .csv with BOM). Exit 1 if the policy has nothing\n"
                            "PROPOSED.",
                            options, {}, vm)) {
    return *exit;
  }
  std::optional<absl::CivilDay> from = DateOption(vm, "from");
  if (!from) return kUsage;
  absl::StatusOr<WorkingCalendar> calendar = WorkingCalendar::Load(vm["rules"].as<std::string>());
  if (!calendar.ok()) return Fail(absl::InvalidArgumentError(calendar.status().message()));
  std::unique_ptr<LedgerStore> ledger = OpenLedger(vm, LedgerMode::kReadWrite);
  if (!ledger) return kUsage;
  absl::StatusOr<std::vector<GrantRecord>> published = PublishGrants(
      *ledger, vm["policy"].as<std::string>(), *from,
      [&](absl::CivilDay d, int days) { return calendar->PublicityEnd(d, days); });
  if (!published.ok()) return Fail(published.status());
  for (const GrantRecord& g : *published) PrintGrantLine(g);
  std::cerr << "grants: " << published->size() << " published\n";
  if (vm.count("out")) {
    const std::string policy = vm["policy"].as<std::string>();
    absl::StatusOr<ListTable> table =
        GrantList(*ledger, absl::StrCat("免申即享公示名单(", policy, ",", FormatDate(*from), "起)"), *published);
    absl::Status s = table.status();
    std::filesystem::path stem = std::filesystem::path(vm["out"].as<std::string>()) /
                                 absl::StrCat("公示名单-", policy, "-", FormatDate(*from));
    std::error_code ec;
    std::filesystem::create_directories(stem.parent_path(), ec);
    if (s.ok()) s = WriteList(stem, *table);
    if (!s.ok()) return Fail(absl::InvalidArgumentError(s.message()));
    std::cerr << "grants: wrote " << stem.string() << ".xlsx and .csv\n";
  }
  return kOk;
}

// object, resolve, confirm, decline, recover: one grant (--grant) or, for confirm and decline,
// every grant_id of a CSV file (--file); all recorded or none.
int RunClerkStep(const std::string& command, int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("ledger", po::value<std::string>()->required(), "the grant ledger")
      ("grant", po::value<std::string>(), "the grant id (policy/credit_code/period)")
      ("date", po::value<std::string>()->required(), "the day it happened, YYYY-MM-DD")
      ("note", po::value<std::string>()->default_value(""), "what was said or decided");
  const bool many = command == "confirm" || command == "decline";
  if (many) options.add_options()("file", po::value<std::string>(), "a CSV with a grant_id column: every grant in it");
  if (command == "resolve") {
    options.add_options()("outcome", po::value<std::string>()->required(),
                          "dismissed (the grant goes back to PUBLISHED) or upheld (WITHDRAWN)");
  }
  const std::map<std::string, std::string> what = {
      {"object", "records an objection (异议) to a PUBLISHED grant: it is OBJECTED until resolved"},
      {"resolve", "records the outcome of an objection: dismissed → PUBLISHED, upheld → WITHDRAWN"},
      {"confirm", "records the firm's confirmation (意愿确认), needed before approval where the policy says so"},
      {"decline", "records the firm's refusal: the unpaid grant is WITHDRAWN (a later night does not propose it again)"},
      {"recover", "records a recovery (追回) of a PAID grant: RECOVERED"}};
  po::variables_map vm;
  if (auto exit = ParseArgs(argc, argv,
                            absl::StrCat("polmatch grants ", command, " --ledger L ",
                                         many ? "(--grant ID | --file CSV)" : "--grant ID", " --date DATE [--note TEXT]",
                                         command == "resolve" ? " --outcome dismissed|upheld" : ""),
                            absl::StrCat("Each step ", what.at(command),
                                         ".\nA step the grant's state forbids changes nothing: one line, exit 1.",
                                         many ? "\nWith --file, every row is recorded or none is (each refusal names its line)." : ""),
                            options, {}, vm)) {
    return *exit;
  }
  if (vm.count("grant") == (many ? vm.count("file") : 0)) {
    PrintError(many ? "give either --grant or --file" : "--grant is required");
    return kUsage;
  }
  std::optional<absl::CivilDay> date = DateOption(vm, "date");
  if (!date) return kUsage;
  ClerkStep step = ClerkStep::kObject;
  if (command == "resolve") {
    const std::string outcome = vm["outcome"].as<std::string>();
    if (outcome != "dismissed" && outcome != "upheld") {
      PrintError("--outcome must be dismissed or upheld");
      return kUsage;
    }
    step = outcome == "dismissed" ? ClerkStep::kDismiss : ClerkStep::kUphold;
  } else if (command == "confirm") {
    step = ClerkStep::kConfirm;
  } else if (command == "decline") {
    step = ClerkStep::kDecline;
  } else if (command == "recover") {
    step = ClerkStep::kRecover;
  }
  std::vector<ClerkAction> actions;
  if (vm.count("grant")) {
    actions.push_back({step, vm["grant"].as<std::string>(), *date, vm["note"].as<std::string>(), 0});
  } else {
    std::vector<std::string> header;
    auto rows = ReadCsvRows(vm["file"].as<std::string>(), &header);
    if (!rows.ok()) return Fail(rows.status());
    const int col = ColumnOf(header, "grant_id");
    if (col < 0) return Fail(absl::InvalidArgumentError(absl::StrCat(vm["file"].as<std::string>(), ":1: no grant_id column")));
    for (const auto& [line, fields] : *rows) {
      const std::string id = col < static_cast<int>(fields.size()) ? std::string(absl::StripAsciiWhitespace(fields[col])) : "";
      actions.push_back({step, id, *date, vm["note"].as<std::string>(), line});
    }
  }
  std::unique_ptr<LedgerStore> ledger = OpenLedger(vm, LedgerMode::kReadWrite);
  if (!ledger) return kUsage;
  absl::Status s = RecordActions(*ledger, actions);
  if (!s.ok()) return Fail(s);
  std::cerr << "grants: " << actions.size() << " recorded\n";
  return kOk;
}

int RunApprove(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("ledger", po::value<std::string>()->required(), "the grant ledger")
      ("date", po::value<std::string>()->required(), "the day of approval, YYYY-MM-DD");
  po::variables_map vm;
  if (auto exit = ParseArgs(argc, argv, "polmatch grants approve --ledger L --date DATE",
                            "Moves to APPROVED every PUBLISHED grant whose 公示 ended before DATE, with no open\n"
                            "objection (an objected grant is OBJECTED) and confirmed where the policy requires it.",
                            options, {}, vm)) {
    return *exit;
  }
  std::optional<absl::CivilDay> date = DateOption(vm, "date");
  if (!date) return kUsage;
  std::unique_ptr<LedgerStore> ledger = OpenLedger(vm, LedgerMode::kReadWrite);
  if (!ledger) return kUsage;
  absl::StatusOr<std::vector<GrantRecord>> approved = ApproveGrants(*ledger, *date);
  if (!approved.ok()) return Fail(approved.status());
  for (const GrantRecord& g : *approved) PrintGrantLine(g);
  std::cerr << "grants: " << approved->size() << " approved\n";
  return kOk;
}

int RunExport(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("ledger", po::value<std::string>()->required(), "the grant ledger")
      ("state", po::value<std::string>()->default_value("APPROVED"), "the grants to list")
      ("out", po::value<std::string>()->required(), "F.xlsx, F.csv, or F (both)");
  po::variables_map vm;
  if (auto exit = ParseArgs(argc, argv, "polmatch grants export --ledger L --state APPROVED --out F",
                            "Writes the 拨付清单 for finance: 序号, 企业名称, 统一社会信用代码, 政策事项, 文件与条款,\n"
                            "金额(元), 期间, 公示起止 — as .xlsx (typed cells) and/or .csv (UTF-8 with BOM).\n"
                            "Finance pays it and returns grant_id,amount_yuan,paid_on,reference to `grants pay`.",
                            options, {}, vm)) {
    return *exit;
  }
  std::optional<GrantState> state = ParseGrantState(vm["state"].as<std::string>());
  if (!state) {
    PrintError("--state: not a grant state (PROPOSED, PUBLISHED, OBJECTED, APPROVED, PAID, WITHDRAWN, RECOVERED)");
    return kUsage;
  }
  std::unique_ptr<LedgerStore> ledger = OpenLedger(vm, LedgerMode::kReadOnly);
  if (!ledger) return kUsage;
  GrantQuery q;
  q.state = *state;
  q.with_firm_data = false;
  absl::StatusOr<std::vector<GrantWithHistory>> grants = ListGrants(*ledger, q);
  if (!grants.ok()) return Fail(grants.status());
  std::vector<GrantRecord> records;
  for (auto& g : *grants) records.push_back(std::move(g.grant));
  absl::StatusOr<ListTable> table = GrantList(*ledger, absl::StrCat("免申即享资金拨付清单(", StateName(*state), ")"), records);
  absl::Status s = table.status();
  if (s.ok()) s = WriteList(vm["out"].as<std::string>(), *table);
  if (!s.ok()) return Fail(absl::InvalidArgumentError(s.message()));
  std::cerr << "grants: " << records.size() << " grants exported\n";
  return kOk;
}

int RunPay(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("ledger", po::value<std::string>()->required(), "the grant ledger")
      ("file", po::value<std::string>()->required(), "CSV: grant_id,amount_yuan,paid_on,reference");
  po::variables_map vm;
  if (auto exit = ParseArgs(argc, argv, "polmatch grants pay --ledger L --file CSV",
                            "Records payments. A row whose grant is not APPROVED, whose amount differs from the\n"
                            "approved amount, or that pays a grant twice is refused with its line and reason; the\n"
                            "other rows are recorded (one transaction). Exit 1 if any row was refused.",
                            options, {}, vm)) {
    return *exit;
  }
  const std::string path = vm["file"].as<std::string>();
  std::vector<std::string> header;
  auto rows = ReadCsvRows(path, &header);
  if (!rows.ok()) return Fail(rows.status());
  const int id = ColumnOf(header, "grant_id"), amount = ColumnOf(header, "amount_yuan"),
            paid_on = ColumnOf(header, "paid_on"), reference = ColumnOf(header, "reference");
  if (id < 0 || amount < 0 || paid_on < 0 || reference < 0) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat(path, ":1: the header must name grant_id,amount_yuan,paid_on,reference")));
  }
  std::vector<Payment> payments;
  for (const auto& [line, fields] : *rows) {
    auto at = [&, &f = fields](int c) {
      return c < static_cast<int>(f.size()) ? std::string(absl::StripAsciiWhitespace(f[c])) : std::string();
    };
    payments.push_back({line, at(id), at(amount), at(paid_on), at(reference)});
  }
  std::unique_ptr<LedgerStore> ledger = OpenLedger(vm, LedgerMode::kReadWrite);
  if (!ledger) return kUsage;
  absl::StatusOr<PaymentOutcome> out = RecordPayments(*ledger, payments);
  if (!out.ok()) return Fail(out.status());
  for (const std::string& r : out->refused) std::cerr << path << ":" << r.substr(5) << "\n";
  std::cerr << "grants: " << out->paid.size() << " paid, " << out->refused.size() << " refused\n";
  return out->refused.empty() ? kOk : kProblems;
}

int RunList(const std::string& command, int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("ledger", po::value<std::string>()->required(), "the grant ledger")
      ("grant", po::value<std::string>(), "one grant")
      ("firm", po::value<std::string>(), "the grants of one firm (credit code)")
      ("policy", po::value<std::string>(), "the grants of one policy")
      ("state", po::value<std::string>(), "the grants in one state")
      ("json", "print {\"grants\": [{id, policy, credit_code, name, period, state, amount_yuan, "
               "uncapped_amount_yuan, publicity_from, publicity_to, history: [{date, state, note}]}]}");
  po::variables_map vm;
  if (auto exit = ParseArgs(argc, argv,
                            absl::StrCat("polmatch grants ", command, " --ledger L [--firm CODE] [--policy ID] [--state S] [--json]"),
                            command == "list" ? "Where grants stand: one line each (id, state, amount, firm, 公示)."
                                              : "Where grants stand, each with its whole history.",
                            options, {}, vm)) {
    return *exit;
  }
  GrantQuery q;
  if (vm.count("firm")) q.credit_code = absl::AsciiStrToUpper(vm["firm"].as<std::string>());
  if (vm.count("policy")) q.policy_id = vm["policy"].as<std::string>();
  if (vm.count("state")) {
    q.state = ParseGrantState(vm["state"].as<std::string>());
    if (!q.state) {
      PrintError("--state: not a grant state (PROPOSED, PUBLISHED, OBJECTED, APPROVED, PAID, WITHDRAWN, RECOVERED)");
      return kUsage;
    }
  }
  q.with_firm_data = command == "show";
  std::unique_ptr<LedgerStore> ledger = OpenLedger(vm, LedgerMode::kReadOnly);
  if (!ledger) return kUsage;
  absl::StatusOr<std::vector<GrantWithHistory>> grants = ListGrants(*ledger, q);
  if (!grants.ok()) return Fail(grants.status());
  if (vm.count("grant")) {
    const std::string id = vm["grant"].as<std::string>();
    grants->erase(std::remove_if(grants->begin(), grants->end(), [&](const auto& g) { return g.grant.id != id; }),
                  grants->end());
    if (grants->empty()) return Fail(absl::NotFoundError(absl::StrCat("no grant ", id)));
  }
  if (vm.count("json")) {
    std::cout << GrantsJson(*grants);
    return kOk;
  }
  for (const GrantWithHistory& g : *grants) {
    PrintGrantLine(g.grant);
    if (command != "show") continue;
    std::cout << "  as_of " << g.grant.as_of << ", policy text sha256 " << g.grant.policy_digest << "\n";
    if (!g.grant.paid_on.empty()) std::cout << "  paid " << g.grant.paid_on << ", reference " << g.grant.payment_reference << "\n";
    for (const HistoryEntry& h : g.history) {
      std::cout << "  " << h.date << "  " << h.event;
      if (h.event != StateName(h.state)) std::cout << " (" << StateName(h.state) << ")";
      std::cout << "  " << FenToYuan(h.amount_fen) << (h.note.empty() ? "" : "  ") << h.note << "\n";
    }
  }
  return kOk;
}

int RunAudit(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("ledger", po::value<std::string>()->required(), "the grant ledger")
      ("grant", po::value<std::string>()->required(), "the grant id");
  po::variables_map vm;
  if (auto exit = ParseArgs(argc, argv, "polmatch grants audit --ledger L --grant ID",
                            "Replays the grant from what the ledger kept — the policy's text and the tag library\n"
                            "as they were (by digest), the firm's data as it was, the as_of — with the reference\n"
                            "evaluator, and prints the trace and the amount. Exit 1 if the replay disagrees with\n"
                            "what was granted (the amount before any grant_cap).",
                            options, {}, vm)) {
    return *exit;
  }
  std::unique_ptr<LedgerStore> ledger = OpenLedger(vm, LedgerMode::kReadOnly);
  if (!ledger) return kUsage;
  absl::StatusOr<AuditReport> report = AuditGrant(*ledger, vm["grant"].as<std::string>());
  if (!report.ok()) return Fail(report.status());
  const GrantRecord& g = report->grant;
  std::cout << "grant " << g.id << " (" << StateName(g.state) << "), " << g.name << "\n"
            << "  as_of " << g.as_of << ", policy text sha256 " << g.policy_digest
            << (report->text_intact ? " (intact)" : " (ALTERED)") << "\n"
            << "  replay: " << MatchStatus_Name(report->replay.status()) << ", amount "
            << (report->replay.benefit_yuan().empty() ? "none" : report->replay.benefit_yuan()) << "\n";
  for (const ConditionTrace& c : report->replay.conditions()) {
    std::cout << "    " << ConditionTrace::Value_Name(c.value()) << "  " << c.text()
              << (c.detail().empty() ? "" : "  — ") << c.detail() << "\n";
  }
  if (!report->replay.benefit_detail().empty()) std::cout << "  amount: " << report->replay.benefit_detail() << "\n";
  std::cout << "  granted: " << FenToYuan(g.entitlement_fen);
  if (!g.base_id.empty()) std::cout << " in all, " << FenToYuan(g.uncapped_fen) << " by this adjustment of " << g.base_id;
  if (g.amount_fen != g.uncapped_fen) std::cout << " (paid or payable after the cap: " << FenToYuan(g.amount_fen) << ")";
  std::cout << "\n";
  if (!report->agrees) {
    PrintError(absl::StrCat("audit of ", g.id, ": ", report->disagreement));
    return kProblems;
  }
  std::cout << "  the replay agrees\n";
  return kOk;
}

}  // namespace

int RunGrants(int argc, char** argv) {
  const std::string command = argc >= 2 ? argv[1] : "";
  if (command.empty() || command == "--help" || command == "-h") {
    (command.empty() ? std::cerr : std::cout)
        << "usage: " << kUsageLine << "\n\n"
        << "The grant ledger (免申即享 兑现, SPEC §7) after `batch --ledger L` has proposed tonight's grants:\n"
           "  publish   start 公示 for a policy's PROPOSED grants; write the 公示名单\n"
           "  object    record an objection (异议);  resolve  its outcome (dismissed | upheld)\n"
           "  confirm   the firm confirms (意愿确认);  decline  the firm refuses\n"
           "  approve   APPROVED: 公示 ended, no open objection, confirmed where required\n"
           "  export    the 拨付清单 for finance (.xlsx / .csv)\n"
           "  pay       record payments from finance's CSV\n"
           "  recover   record a recovery (追回) of a paid grant\n"
           "  list      where grants stand;  show  the same with each grant's history\n"
           "  audit     replay a grant from the kept policy text and firm data\n"
           "States: PROPOSED → PUBLISHED → APPROVED → PAID, OBJECTED, WITHDRAWN, RECOVERED.\n"
           "(polmatch grants <step> --help for each)\n";
    return command.empty() ? kUsage : kOk;
  }
  --argc;
  ++argv;
  if (command == "publish") return RunPublish(argc, argv);
  if (command == "object" || command == "resolve" || command == "confirm" || command == "decline" ||
      command == "recover") {
    return RunClerkStep(command, argc, argv);
  }
  if (command == "approve") return RunApprove(argc, argv);
  if (command == "export") return RunExport(argc, argv);
  if (command == "pay") return RunPay(argc, argv);
  if (command == "list" || command == "show") return RunList(command, argc, argv);
  if (command == "audit") return RunAudit(argc, argv);
  PrintError(absl::StrCat("grants: unknown step '", command, "'"));
  std::cerr << "usage: " << kUsageLine << "\n";
  return kUsage;
}

}  // namespace polmatch::cli
