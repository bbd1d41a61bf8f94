// polmatch lint RULES_DIR [--as-of DATE]
#include <filesystem>
#include <iostream>
#include <optional>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "engine/analysis/rule_checks.h"
#include "engine/util/diagnostics.h"
#include "tools/cli.h"

namespace polmatch::cli {

int RunLint(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("rules", po::value<std::string>()->required(), "rules directory")
      ("as-of", po::value<std::string>(), "date the [expired] check is relative to (default: today)");
  po::positional_options_description positional;
  positional.add("rules", 1);
  po::variables_map vm;
  if (auto exit = ParseArgs(argc, argv, "polmatch lint RULES_DIR [--as-of DATE]",
                            "Checks the tag library (RULES_DIR/taxonomy) and every policy catalog\n"
                            "(RULES_DIR/policies/*.textproto): syntax, invalid UTF-8, unknown identifiers,\n"
                            "type errors, cycles and over-deep chains (> 64) in the tag hierarchy,\n"
                            "duplicate tag, fact and policy ids, dates and modes, expressions past the\n"
                            "limits (64 KiB, 10,000 nodes, 200 levels; each operator of a chain is a\n"
                            "level), literals 6 decimals cannot hold (0.000001%); then the rule\n"
                            "checks (engine/analysis/rule_checks.h), each finding ending in its name:\n"
                            "  [unsatisfiable]  error: the conditions can never all be true\n"
                            "  [always-true]    warning: a condition true for every firm with its data,\n"
                            "                   or implied by the other conditions\n"
                            "  [tier-order]     tier() thresholds that do not rise (warning) or repeat (error)\n"
                            "  [unit-mismatch]  error: yuan compared with or added to persons or a count\n"
                            "  [undated]        warning: no valid_from (applies on any date)\n"
                            "  [expired]        warning: valid_to is before --as-of\n"
                            "  [group]          warning: an exclusive group whose members never both apply\n"
                            "  [duplicate]      warning: equal eligibility and benefit in force together\n"
                            "  [calendar]       warning: publicity_days set, but RULES_DIR/calendar does not\n"
                            "                   cover every year of the policy's validity\n"
                            "The working calendar (RULES_DIR/calendar/YYYY.textproto), when present, is\n"
                            "checked too: dates of the file's year, 调休 workdays on weekends, no gap.\n"
                            "Prints one `file:line:col: message` per finding. Exit 0 no errors (warnings\n"
                            "allowed), 1 errors found, 2 unreadable directory (or one without taxonomy/\n"
                            "and policies/) or bad usage.",
                            options, positional, vm)) {
    return *exit;
  }
  std::optional<absl::CivilDay> as_of = AsOfOption(vm);
  if (!as_of) return kUsage;
  int exit_code = kOk;
  int load_warnings = 0;  // the tag library's and catalogs' own warnings, printed by LoadRules
  std::optional<Catalog> catalog = LoadRules(vm["rules"].as<std::string>(), &exit_code, &load_warnings);
  if (!catalog) return exit_code;
  Diagnostics findings;
  // The working calendar is optional until a policy counts a 公示 in working days ([calendar]).
  std::optional<WorkingCalendar> calendar;
  const std::filesystem::path rules_dir = vm["rules"].as<std::string>();
  if (std::error_code ec; std::filesystem::exists(rules_dir / "calendar", ec)) {
    absl::StatusOr<WorkingCalendar> loaded = WorkingCalendar::Load(rules_dir, &findings);
    if (loaded.ok()) calendar = *std::move(loaded);
  }
  RuleCheckOptions checks{*as_of};
  checks.calendar = calendar ? &*calendar : nullptr;
  CheckRules(*catalog, checks, &findings);
  findings.Sort();
  for (const Diagnostic& d : findings.items()) std::cerr << d.ToString() << "\n";
  const int errors = findings.error_count();
  const int warnings = static_cast<int>(findings.items().size()) - errors + load_warnings;
  std::cerr << "lint: " << catalog->policies().size() << " policies, "
            << catalog->taxonomy().num_tags() << " tags, " << catalog->taxonomy().num_facts()
            << " facts: " << (errors == 0 ? std::string("no errors") : absl::StrCat(errors, " error(s)"))
            << ", " << warnings << " warning(s)\n";
  return errors > 0 ? kProblems : kOk;
}

}  // namespace polmatch::cli
