// polmatch query / polmatch check: one firm against the catalog, explained.
#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "engine/api/engine_internal.h"
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

// The engine over the loaded rules and registry, and the firm asked about.
struct FirmQuery {
  std::unique_ptr<Engine> engine;
  std::string code;
  std::string name;
  absl::CivilDay as_of;
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

// Loads the rules and the registry into an engine (which answers as `serve` and an embedding
// portal do, limits included); returns an exit code on failure.
std::optional<int> Prepare(const po::variables_map& vm, FirmQuery* q) {
  const std::optional<std::string> code = FirmOption(vm);
  if (!code) return kUsage;
  q->code = *code;
  int exit_code = kOk;
  std::optional<Catalog> catalog = LoadRules(vm["rules"].as<std::string>(), &exit_code);
  if (!catalog) return exit_code;
  std::optional<absl::CivilDay> as_of = AsOfOption(vm);
  if (!as_of) return kUsage;
  q->as_of = *as_of;
  std::optional<FirmStore> store = LoadRegistry(vm, catalog->taxonomy(), &exit_code);
  if (!store) return exit_code;
  std::optional<uint32_t> row = store->FindRow(*code);
  if (!row) {
    PrintError(absl::StrCat("firm ", *code, " not found in the firm data"));
    return kProblems;
  }
  q->name = std::string(store->name(*row));
  const std::optional<absl::CivilDay> founded = store->founded(*row);
  if (founded && *founded > q->as_of) {
    std::cerr << "query: warning: " << *code << " was founded on " << FormatDate(*founded)
              << ", after the as-of date " << FormatDate(q->as_of)
              << ": matched as given; founding-date conditions see a negative age\n";
  }
  EngineOptions options;
  options.limit_threads = 2;
  absl::StatusOr<std::unique_ptr<Engine>> engine = NewEngineForQuery(std::move(*catalog), std::move(*store), options);
  if (!engine.ok()) {
    PrintError(std::string(engine.status().message()));
    return kProblems;
  }
  q->engine = std::move(*engine);
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
  absl::StatusOr<FirmMatches> matched = q.engine->Match(q.code, q.as_of);
  if (!matched.ok()) {
    PrintError(std::string(matched.status().message()));
    return kProblems;
  }
  const FirmMatches& m = *matched;
  if (vm.count("json")) {
    std::cout << ToJson(m) << "\n";
    return kOk;
  }
  std::cout << m.credit_code() << "  " << q.name << "  (as of " << m.as_of() << ")\n";
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
  const std::string& id = vm["policy"].as<std::string>();
  absl::StatusOr<Policy> policy = q.engine->GetPolicy(id);
  if (!policy.ok()) {
    PrintError(absl::StrCat("unknown policy ", id));
    return kProblems;
  }
  absl::StatusOr<PolicyResult> explained = q.engine->Explain(q.code, id, q.as_of);
  if (!explained.ok()) {
    PrintError(std::string(explained.status().message()));
    return kProblems;
  }
  const PolicyResult& r = *explained;
  if (vm.count("json")) {
    FirmMatches m;
    m.set_credit_code(q.code);
    m.set_name(q.name);
    m.set_as_of(FormatDate(q.as_of));
    *m.add_results() = r;
    std::cout << ToJson(m) << "\n";
    return kOk;
  }
  std::cout << policy->id() << "  " << policy->title() << "  ("
            << (policy->mode() == Policy::AUTO_GRANT ? "免申即享 AUTO_GRANT" : "APPLY") << ")\n"
            << "source: " << policy->source().document() << " "
            << policy->source().clause() << "\n"
            << "firm:   " << q.code << "  " << q.name << "  as of "
            << FormatDate(q.as_of) << "\n"
            << "status: " << kStatusLabel[r.status()] << " — " << r.explanation_zh() << "\n"
            << "conditions:\n";
  PrintConditions(r, "  ");
  if (!r.benefit_detail().empty()) std::cout << "benefit: " << r.benefit_detail() << "\n";
  std::cout << "reason:  " << r.reason() << "\n";
  return kOk;
}

}  // namespace polmatch::cli
