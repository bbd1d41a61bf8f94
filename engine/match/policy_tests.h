// File: policy_tests.h
//
// Runs the policy test cases that policy staff write beside the catalogs (rules/tests/*.textproto,
// message PolicyTestSuite; SPEC §3): each case's firm, evaluated with its population on `as_of`
// by the reference matcher, must get the expected status and benefit.
#ifndef POLMATCH_MATCH_POLICY_TESTS_H_
#define POLMATCH_MATCH_POLICY_TESTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/catalog/catalog.h"
#include "engine/util/diagnostics.h"

namespace polmatch {

struct PolicyTestFailure {
  std::string file;
  int line = 0;
  std::string name;
  std::string message;  // "expected ELIGIBLE 2000000.00, got NEAR_MISS"
};

struct PolicyTestReport {
  int passed = 0;
  int failed = 0;
  std::vector<PolicyTestFailure> failures;
  // Policies of the catalog that no case exercises.
  std::vector<std::string> untested_policies;
};

// Runs every case of `tests_dir`/*.textproto (in name order). Unparseable files are reported
// in `diags` and make the result an error.
absl::StatusOr<PolicyTestReport> RunPolicyTests(const Catalog& catalog,
                                                const std::string& tests_dir, Diagnostics* diags);

// Runs the cases of one suite (named `file` in failures).
void RunPolicyTestSuite(const Catalog& catalog, const PolicyTestSuite& suite,
                        const std::string& file, const std::vector<int>& lines,
                        PolicyTestReport* report);

}  // namespace polmatch

#endif  // POLMATCH_MATCH_POLICY_TESTS_H_
