// polmatch query / polmatch check: one firm against the catalog, explained.
#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "engine/match/bulk_matcher.h"
#include "engine/match/explain.h"
#include "engine/match/reference.h"
#include "engine/util/dates.h"
#include "google/protobuf/util/json_util.h"
#include "tools/cli.h"

namespace polmatch::cli {
namespace {

const char* kStatusLabel[] = {"?", "ELIGIBLE", "UNDETERMINED", "NEAR_MISS", "INELIGIBLE",
                              "EXCLUDED", "NOT_SELECTED"};

std::string ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  opts.always_print_enums_as_ints = false;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  return out;
}

const char* ValueMark(ConditionTrace::Value v) {
  switch (v) {
    case ConditionTrace::TRUE: return "✓";
    case ConditionTrace::FALSE: return "✗";
    default: return "?";
  }
}

struct FirmQuery {
  std::optional<Catalog> catalog;
  std::optional<FirmStore> store;
  Firm firm;
  absl::CivilDay as_of;
  std::vector<Outcome> outcomes;  // catalog order, groups and limits applied
};

void AddCommonOptions(po::options_description& options) {
  options.add_options()
      ("rules", po::value<std::string>()->required(), "rules directory (taxonomy/, policies/)");
  AddRegistryOptions(options);
  options.add_options()
      ("firm", po::value<std::string>()->required(), "the firm's 统一社会信用代码")
      ("as-of", po::value<std::string>(), "evaluation date YYYY-MM-DD (default: today)")
      ("json", "print one JSON object instead of text");
}

// Loads everything and evaluates the firm; returns an exit code on failure.
std::optional<int> Prepare(const po::variables_map& vm, FirmQuery* q) {
  const std::optional<std::string> code = FirmOption(vm);
  if (!code) return kUsage;
  int exit_code = kOk;
  q->catalog = LoadRules(vm["rules"].as<std::string>(), &exit_code);
  if (!q->catalog) return exit_code;
  std::optional<absl::CivilDay> as_of = AsOfOption(vm);
  if (!as_of) return kUsage;
  q->as_of = *as_of;
  q->store = LoadRegistry(vm, q->catalog->taxonomy(), &exit_code);
  if (!q->store) return exit_code;
  std::optional<uint32_t> row = q->store->FindRow(*code);
  if (!row) {
    PrintError(absl::StrCat("firm ", *code, " not found in the firm data"));
    return kProblems;
  }
  q->firm = q->store->ToFirm(*row);
  if (q->firm.founded && *q->firm.founded > q->as_of) {
    std::cerr << "query: warning: " << *code << " was founded on " << FormatDate(*q->firm.founded)
              << ", after the as-of date " << FormatDate(q->as_of)
              << ": matched as given; founding-date conditions see a negative age\n";
  }
  const ReferenceMatcher matcher(*q->catalog);
  q->outcomes = matcher.EvaluateFirm(FirmView(q->firm, q->catalog->taxonomy(), q->as_of));
  // Limits rank a policy's eligible firms across the registry: only when the firm is eligible
  // for a limited policy, match the whole registry with the bitset engine to place it.
  bool limited = false;
  for (size_t p = 0; p < q->outcomes.size(); ++p) {
    limited = limited || (q->outcomes[p].status == ELIGIBLE &&
                          q->catalog->policies()[p].policy.limit() > 0);
  }
  if (limited) {
    absl::StatusOr<BulkMatcher> bulk = BulkMatcher::Create(*q->catalog, *q->store);
    if (!bulk.ok()) {
      PrintError(std::string(bulk.status().message()));
      return kProblems;
    }
    const BulkResult all = bulk->Match(q->as_of, 2);
    for (size_t p = 0; p < q->outcomes.size(); ++p) {
      if (q->outcomes[p].status == ELIGIBLE && q->catalog->policies()[p].policy.limit() > 0 &&
          all.Get(*row, static_cast<int>(p)).status == NOT_SELECTED) {
        q->outcomes[p].status = NOT_SELECTED;
      }
    }
  }
  return std::nullopt;
}

// Each condition as the firm reads it, then the rule as written and the data behind it (for staff).
void PrintConditions(const PolicyResult& r, const std::string& indent) {
  for (const ConditionTrace& c : r.conditions()) {
    std::cout << indent << ValueMark(c.value()) << " " << c.text_zh() << "\n"
              << indent << "    规则原文: " << c.text();
    if (!c.detail().empty()) std::cout << "   [" << c.detail() << "]";
    std::cout << "\n";
  }
}

}  // namespace

int RunQuery(int argc, char** argv) {
  po::options_description options("options");
  AddCommonOptions(options);
  options.add_options()("all", "also list ineligible policies");
  po::variables_map vm;
  if (auto exit = ParseArgs(
          argc, argv, "polmatch query --rules DIR (--snapshot S | --firms F…) --firm CODE [--as-of DATE] [--json]",
          "Every policy's status for one firm: eligible ones first (highest benefit first), then\n"
          "near misses with the one condition missing, then undetermined ones with the data\n"
          "needed. Exit 0 found, 1 firm unknown or rules invalid, 2 bad usage/unreadable input.\n\n"
          "example: polmatch query --rules rules --firms rules/demo/notable_firms.jsonl \\\n"
          "           --firm 91441502MA4W0PA9X8 --as-of 2021-06-30",
          options, {}, vm)) {
    return *exit;
  }
  FirmQuery q;
  if (auto exit = Prepare(vm, &q)) return *exit;
  // As the embedded engine and the HTTP service answer: INELIGIBLE results untraced (`check` explains any).
  FirmMatches m = ExplainFirm(*q.catalog, FirmView(q.firm, q.catalog->taxonomy(), q.as_of), q.outcomes,
                              /*trace_ineligible=*/false);
  if (vm.count("json")) {
    std::cout << ToJson(m) << "\n";
    return kOk;
  }
  std::cout << m.credit_code() << "  " << q.firm.name << "  (as of " << m.as_of() << ")\n";
  int ineligible = 0;
  for (const PolicyResult& r : m.results()) {
    if (r.status() == INELIGIBLE && !vm.count("all")) {
      ++ineligible;
      continue;
    }
    std::string label = kStatusLabel[r.status()];
    label.resize(13, ' ');
    std::cout << label << r.policy() << "  " << r.title();
    if (!r.benefit_yuan().empty()) std::cout << "  " << r.benefit_yuan() << " 元";
    if (r.status() == ELIGIBLE && r.mode() == Policy::AUTO_GRANT) std::cout << "  [免申即享]";
    std::cout << "\n";
    if (!r.explanation_zh().empty()) std::cout << "             " << r.explanation_zh() << "\n";
  }
  if (ineligible > 0) std::cout << ineligible << " other policies do not apply (--all lists them)\n";
  return kOk;
}

int RunCheck(int argc, char** argv) {
  po::options_description options("options");
  AddCommonOptions(options);
  options.add_options()("policy", po::value<std::string>()->required(), "the policy id");
  po::variables_map vm;
  if (auto exit = ParseArgs(
          argc, argv,
          "polmatch check --rules DIR (--snapshot S | --firms F…) --firm CODE --policy ID [--as-of DATE] [--json]",
          "Why a policy does or does not apply to a firm: each top-level condition with its value\n"
          "(✓ true, ✗ false, ? unknown) and the firm's data behind it, then the benefit\n"
          "computation. Exit 0 explained, 1 unknown firm/policy or invalid rules, 2 bad usage.",
          options, {}, vm)) {
    return *exit;
  }
  FirmQuery q;
  if (auto exit = Prepare(vm, &q)) return *exit;
  const int p = q.catalog->IndexOf(vm["policy"].as<std::string>());
  if (p < 0) {
    PrintError(absl::StrCat("unknown policy ", vm["policy"].as<std::string>()));
    return kProblems;
  }
  const CompiledPolicy& policy = q.catalog->policies()[p];
  FirmView view(q.firm, q.catalog->taxonomy(), q.as_of);
  PolicyResult r = ExplainOutcome(policy, q.catalog->taxonomy(), view, q.outcomes[p]);
  if (vm.count("json")) {
    FirmMatches m;
    m.set_credit_code(q.firm.credit_code);
    m.set_name(q.firm.name);
    m.set_as_of(FormatDate(q.as_of));
    *m.add_results() = r;
    std::cout << ToJson(m) << "\n";
    return kOk;
  }
  std::cout << policy.id() << "  " << policy.policy.title() << "  ("
            << (policy.auto_grant() ? "免申即享 AUTO_GRANT" : "APPLY") << ")\n"
            << "source: " << policy.policy.source().document() << " "
            << policy.policy.source().clause() << "\n"
            << "firm:   " << q.firm.credit_code << "  " << q.firm.name << "  as of "
            << FormatDate(q.as_of) << "\n"
            << "status: " << kStatusLabel[r.status()] << " — " << r.explanation_zh() << "\n"
            << "conditions:\n";
  PrintConditions(r, "  ");
  if (!r.benefit_detail().empty()) std::cout << "benefit: " << r.benefit_detail() << "\n";
  std::cout << "reason:  " << r.reason() << "\n";
  return kOk;
}

}  // namespace polmatch::cli
