// File: test_util.h
//
// Shared fixtures for the test suites: the real tag library of rules/taxonomy (loaded once),
// credit codes with valid check digits, and firm builders.
#ifndef POLMATCH_TESTS_TEST_UTIL_H_
#define POLMATCH_TESTS_TEST_UTIL_H_

#include <filesystem>
#include <string>
#include <vector>

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

// A new empty directory under the test temp dir, named `prefix`_<pid>_<n>.
std::filesystem::path FreshTempDir(const std::string& prefix);
// A rules directory at `dir`: policies/p.textproto holding `policies` (text-format `policy { … }`
// entries) and a link to the real tag library as taxonomy/.
void WriteRulesDir(const std::filesystem::path& dir, const std::string& policies);
// A registry snapshot at `path` of `n` firms in region 441502, each tagged qual.hitech, with
// serials serial_base + i and the fact revenue = revenue_base + i; their credit codes in order.
// Fails the current test on error.
std::vector<std::string> WriteHitechSnapshot(const std::string& path, int serial_base, long long revenue_base,
                                             int n = 3);

// The polmatch binary run with `args` (a shell command line tail), stdout and stderr together.
struct CmdResult {
  int exit_code = -1;
  std::string out;
};
// With `kill_after_seconds` > 0 it runs under `timeout -s KILL`, and a run that was still going
// then (a hang) exits 124.
CmdResult Polmatch(const std::string& args, int kill_after_seconds = 0);

}  // namespace polmatch::testing

#endif  // POLMATCH_TESTS_TEST_UTIL_H_
