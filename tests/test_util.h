// File: test_util.h
//
// Shared fixtures for the test suites: the real tag library of rules/taxonomy (loaded once),
// credit codes with valid check digits, and firm builders.
#ifndef POLMATCH_TESTS_TEST_UTIL_H_
#define POLMATCH_TESTS_TEST_UTIL_H_

#include <string>

#include "engine/ingest/firm.h"
#include "engine/taxonomy/taxonomy.h"
#include "proto/polmatch.pb.h"

namespace polmatch::testing {

// rules/ of the source tree.
std::string RulesDir();
// The tag library of rules/taxonomy, loaded once; aborts the test binary if it does not load.
const Taxonomy& RealTaxonomy();
// A valid credit code: "91" + region + 9 characters derived from `serial`, plus the check digit.
std::string MakeCreditCode(const std::string& region, int serial);
// A profile in `region` with a valid code; facts and tags added by the caller.
FirmProfile MakeProfile(const std::string& region, int serial, const std::string& industry = "C13",
                        const std::string& founded = "2015-06-01");
// Converts, failing the current test on error.
Firm MakeFirm(const FirmProfile& profile);

// The polmatch binary run with `args` (a shell command line tail), stdout and stderr together.
struct CmdResult {
  int exit_code = -1;
  std::string out;
};
CmdResult Polmatch(const std::string& args);

}  // namespace polmatch::testing

#endif  // POLMATCH_TESTS_TEST_UTIL_H_
