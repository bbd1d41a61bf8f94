// A portal embedding polmatch: usage: portal_example RULES_DIR SNAPSHOT CREDIT_CODE YYYY-MM-DD
#include <iostream>

#include "polmatch/engine.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: portal_example RULES_DIR SNAPSHOT CREDIT_CODE YYYY-MM-DD\n";
    return 2;
  }
  polmatch::EngineOptions options;
  options.rules_dir = argv[1];
  options.snapshot_path = argv[2];
  auto engine = polmatch::Engine::Create(options);  // load once, share across threads
  if (!engine.ok()) {
    std::cerr << engine.status() << "\n";
    return 1;
  }
  absl::CivilDay as_of;
  if (!absl::ParseCivilTime(argv[4], &as_of)) return 2;
  auto matches = (*engine)->Match(argv[3], as_of);
  if (!matches.ok()) {
    std::cerr << matches.status() << "\n";  // NotFound, InvalidArgument, …
    return 1;
  }
  for (const polmatch::PolicyResult& r : matches->results()) {
    if (r.status() == polmatch::INELIGIBLE) continue;
    std::cout << polmatch::MatchStatus_Name(r.status()) << "\t" << r.policy() << "\t"
              << r.title() << "\t" << r.benefit_yuan() << "\t" << r.reason() << "\n";
  }
  return 0;
}
