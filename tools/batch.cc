// polmatch batch: the nightly job (SPEC §5).
#include <iostream>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/api/nightly.h"
#include "tools/cli.h"
#include "tools/progress.h"

namespace polmatch::cli {
namespace {

// --push STATUSES: "ELIGIBLE,NEAR_MISS" → a mask; nullopt for a status that is not pushable.
std::optional<StatusMask> ParsePushStatuses(const std::string& text) {
  StatusMask mask = 0;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    MatchStatus s;
    if (!MatchStatus_Parse(std::string(absl::StripAsciiWhitespace(part)), &s) || s == INELIGIBLE ||
        s == STATUS_UNSPECIFIED) {
      return std::nullopt;
    }
    mask |= static_cast<StatusMask>(1 << s);
  }
  if (mask == 0) return std::nullopt;
  return mask;
}

// What the night tells, printed as the command always has: phases and messages on stderr, the
// rules' diagnostics, a progress bar on a terminal, rejected records into --rejects.
class BatchObserver : public NightlyObserver {
 public:
  explicit BatchObserver(const po::variables_map& vm) : vm_(vm) {}
  void OnPhase(absl::string_view phase, double seconds, bool concurrent) override {
    bar_.reset();  // a phase ends the progress bar
    PrintPhase(std::string(phase), seconds, concurrent ? "  (from the start, on a second thread)" : "");
  }
  void OnDiagnostic(const Diagnostic& diagnostic) override { std::cerr << diagnostic.ToString() << "\n"; }
  void OnMessage(absl::string_view text) override { std::cerr << "batch: " << text << "\n"; }
  void OnProgress(uint64_t done, uint64_t total) override {
    if (!bar_) bar_ = std::make_unique<ProgressBar>("matching", total);
    bar_->Update(done);
  }
  absl::Status OnRejects(const std::vector<Rejection>& rejects) override { return RejectsOption(vm_, rejects); }

 private:
  const po::variables_map& vm_;
  std::unique_ptr<ProgressBar> bar_;
};

}  // namespace

int RunBatch(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("rules", po::value<std::string>()->required(), "rules directory (taxonomy/, policies/)")
      ("as-of", po::value<std::string>(), "evaluation date YYYY-MM-DD (default: today)")
      ("out", po::value<std::string>()->required(), "output directory, replaced atomically")
      ("previous", po::value<std::string>(), "the last run's output directory: push only what changed")
      ("rejects", po::value<std::string>(), "write rejected firm records here, one `file:line: reason` each")
      ("strict", "exit 1 when any firm record was rejected")
      ("no-pushes", "write no pushes.jsonl, only the state, summary and grants: seeds the next night's "
                    "--previous without telling every firm everything at once (a first rollout; at a "
                    "province's scale the first night's full push list is ~170 GB). What this night "
                    "found counts as told: the next night pushes only what changed since")
      ("push", po::value<std::string>()->default_value("ELIGIBLE,NEAR_MISS,UNDETERMINED"),
       "statuses pushed, comma-separated: ELIGIBLE, NEAR_MISS, UNDETERMINED, EXCLUDED, NOT_SELECTED. "
       "Give the same list every night: a firm whose status leaves the list gets a REVOKED push")
      ("ledger", po::value<std::string>(), "the grant ledger (SQLite, created on first use): after the "
                                           "night's files, propose tonight's grants and write proposals.csv (SPEC §7)")
      ("engine", po::value<std::string>()->default_value("bitset"),
       "bitset (the bulk matcher) or reference (one firm at a time; for cross-checks)")
      ("max-shrink", po::value<std::string>()->default_value("5%"),
       "with --previous: refuse (exit 1, --out untouched) when the registry has lost more than this "
       "share of the previous night's firms; 5% or 0.05")
      ("max-reject-rate", po::value<std::string>()->default_value("1%"),
       "with --previous: refuse when more than this share of the --firms records was rejected; "
       "1% or 0.01")
      ("force", "run even when --max-shrink or --max-reject-rate would refuse the night")
      ("shard", po::value<std::string>(), "K/N: match only the firms of shard K of N (0 ≤ K < N ≤ 4096; a "
                                          "firm's shard is FNV-1a 64 of its credit code mod N) and write a "
                                          "shard night for `polmatch merge`; --snapshot may be the whole "
                                          "snapshot or this shard's (index --shard)");
  AddThreadsOption(options);
  AddRegistryOptions(options);
  po::variables_map vm;
  if (auto exit = ParseArgs(
          argc, argv,
          "polmatch batch --rules DIR (--snapshot S | --firms F…) --as-of DATE --out DIR [--previous DIR]",
          "The nightly job: matches every firm against every policy and writes, atomically (a crash\n"
          "leaves the previous complete set):\n"
          "  summary.json   per policy: eligible, undetermined, near_miss, excluded, not_selected,\n"
          "                 auto_granted, benefit_total_yuan\n"
          "  grants.csv     the 免申即享 grants, ELIGIBLE firms with a positive amount:\n"
          "                 policy_id,credit_code,name,benefit_yuan\n"
          "  lists.csv      AUTO_GRANT items with no amount (名录库 entry, push library):\n"
          "                 policy_id,credit_code,name,benefit_note\n"
          "  pushes.jsonl   what to tell firms tonight (with --previous: only NEW/CHANGED/REVOKED)\n"
          "  state.pmstate  what the next night's --previous reads\n"
          "  proposals.csv  with --ledger: tonight's NEW/CHANGED/ADJUSTMENT/WITHDRAWN/REVIEW grants\n"
          "Same inputs give byte-identical outputs. Time and memory go to stderr.",
          options, {}, vm)) {
    return *exit;
  }
  NightlyOptions night;
  const std::string engine = vm["engine"].as<std::string>();
  if (engine != "bitset" && engine != "reference") {
    PrintError("--engine must be bitset or reference");
    return kUsage;
  }
  night.matcher = engine == "reference" ? NightlyMatcher::kReference : NightlyMatcher::kBitset;
  const std::optional<StatusMask> push_statuses = ParsePushStatuses(vm["push"].as<std::string>());
  if (!push_statuses) {
    PrintError("--push takes statuses among ELIGIBLE,NEAR_MISS,UNDETERMINED,EXCLUDED,NOT_SELECTED");
    return kUsage;
  }
  night.push_statuses = *push_statuses;
  const std::optional<int> threads = ThreadsOption(vm);
  if (!threads) return kUsage;
  night.threads = *threads;
  if (vm.count("shard")) {
    absl::StatusOr<ShardSpec> parsed = ParseShardSpec(vm["shard"].as<std::string>());
    if (!parsed.ok()) {
      PrintError(absl::StrCat("--shard ", parsed.status().message()));
      return kUsage;
    }
    night.shard = *parsed;
  }
  for (const auto& [flag, ppm] : {std::pair<const char*, int64_t*>{"max-shrink", &night.guards.max_shrink_ppm},
                                  {"max-reject-rate", &night.guards.max_reject_ppm}}) {
    absl::StatusOr<int64_t> parsed = ParseFraction(vm[flag].as<std::string>());
    if (!parsed.ok()) {
      PrintError(absl::StrCat("--", flag, ": ", parsed.status().message()));
      return kUsage;
    }
    *ppm = *parsed;
  }
  std::optional<InputEncoding> encoding = EncodingOption(vm);
  if (!encoding) return kUsage;
  night.encoding = *encoding;
  std::optional<absl::CivilDay> as_of = AsOfOption(vm);
  if (!as_of) return kUsage;
  night.as_of = *as_of;
  night.rules_dir = vm["rules"].as<std::string>();
  if (vm.count("snapshot")) night.snapshot_path = vm["snapshot"].as<std::string>();
  if (vm.count("firms")) night.firm_files = vm["firms"].as<std::vector<std::string>>();
  night.out_dir = vm["out"].as<std::string>();
  if (vm.count("previous")) night.previous_dir = vm["previous"].as<std::string>();
  night.pushes = !vm.count("no-pushes");
  if (vm.count("ledger")) night.ledger_path = vm["ledger"].as<std::string>();
  night.force = vm.count("force") > 0;

  PhaseTimer timer;
  BatchObserver observer(vm);
  const absl::StatusOr<NightlyReport> report = RunNightly(night, &observer);
  if (!report.ok()) {
    const std::string message(report.status().message());
    switch (NightlyFailureOf(report.status())) {
      case NightlyFailure::kBadInput:
        PrintError(message);
        return kUsage;
      case NightlyFailure::kRulesInvalid:  // each error was printed with the rules' diagnostics
        return kProblems;
      case NightlyFailure::kRefused:
        std::cerr << "batch: refused: " << message << "\n";
        return kProblems;
      case NightlyFailure::kProblem:
        PrintError(message);
        return kProblems;
    }
  }
  timer.Done("batch");
  return (vm.count("strict") && !report->rejects.empty()) ? kProblems : kOk;
}

}  // namespace polmatch::cli
