// polmatch test RULES_DIR
#include <iostream>

#include "engine/match/policy_tests.h"
#include "tools/cli.h"

namespace polmatch::cli {

int RunTest(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()("rules", po::value<std::string>()->required(), "rules directory")(
      "verbose,v", "also list the policies no test case exercises");
  po::positional_options_description positional;
  positional.add("rules", 1);
  po::variables_map vm;
  if (auto exit = ParseArgs(argc, argv, "polmatch test RULES_DIR",
                            "Runs the policy test cases of RULES_DIR/tests/*.textproto (message\n"
                            "polmatch.PolicyTestSuite): each case's firm is matched on its as_of and must\n"
                            "get the expected status and benefit. Prints each failure and\n"
                            "`N passed, N failed`. Exit 0 all passed, 1 failures, 2 unreadable input.",
                            options, positional, vm)) {
    return *exit;
  }
  const std::string dir = vm["rules"].as<std::string>();
  int exit_code = kOk;
  std::optional<Catalog> catalog = LoadRules(dir, &exit_code);
  if (!catalog) return exit_code;
  Diagnostics diags;
  absl::StatusOr<PolicyTestReport> report = RunPolicyTests(*catalog, dir + "/tests", &diags);
  for (const Diagnostic& d : diags.items()) std::cerr << d.ToString() << "\n";
  if (!report.ok()) return kProblems;
  for (const PolicyTestFailure& f : report->failures) {
    std::cout << f.file << ":" << f.line << ": FAIL " << f.name << ": " << f.message << "\n";
  }
  if (vm.count("verbose")) {
    for (const std::string& id : report->untested_policies) std::cout << "untested: " << id << "\n";
  }
  std::cout << report->passed << " passed, " << report->failed << " failed\n";
  if (!report->untested_policies.empty()) {
    std::cerr << "test: " << report->untested_policies.size()
              << " policies have no test case (-v lists them)\n";
  }
  return report->failed == 0 ? kOk : kProblems;
}

}  // namespace polmatch::cli
