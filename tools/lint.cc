// polmatch lint RULES_DIR
#include <iostream>

#include "engine/util/diagnostics.h"
#include "tools/cli.h"

namespace polmatch::cli {

int RunLint(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()("rules", po::value<std::string>()->required(), "rules directory");
  po::positional_options_description positional;
  positional.add("rules", 1);
  po::variables_map vm;
  if (auto exit = ParseArgs(argc, argv, "polmatch lint RULES_DIR",
                            "Checks the tag library (RULES_DIR/taxonomy) and every policy catalog\n"
                            "(RULES_DIR/policies/*.textproto): syntax, unknown identifiers, type errors,\n"
                            "cycles in the tag hierarchy, duplicate ids, dates and modes. Prints one\n"
                            "`file:line:col: message` per problem. Exit 0 clean, 1 errors found,\n"
                            "2 unreadable directory.",
                            options, positional, vm)) {
    return *exit;
  }
  int exit_code = kOk;
  std::optional<Catalog> catalog = LoadRules(vm["rules"].as<std::string>(), &exit_code);
  if (!catalog) return exit_code;
  std::cerr << "lint: " << catalog->policies().size() << " policies, "
            << catalog->taxonomy().num_tags() << " tags, " << catalog->taxonomy().num_facts()
            << " facts: no errors\n";
  return kOk;
}

}  // namespace polmatch::cli
