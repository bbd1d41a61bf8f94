#include "engine/match/policy_tests.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/ingest/firm.h"
#include "engine/match/reference.h"
#include "engine/util/dates.h"
#include "engine/util/textproto.h"

namespace polmatch {

void RunPolicyTestSuite(const Catalog& catalog, const PolicyTestSuite& suite,
                        const std::string& file, const std::vector<int>& lines,
                        PolicyTestReport* report) {
  const ReferenceMatcher matcher(catalog);
  for (int i = 0; i < suite.test_size(); ++i) {
    const PolicyTestCase& tc = suite.test(i);
    const int line = i < static_cast<int>(lines.size()) ? lines[i] : 0;
    auto fail = [&](std::string message) {
      ++report->failed;
      report->failures.push_back({file, line, tc.name(), std::move(message)});
    };
    const int p = catalog.IndexOf(tc.policy());
    if (p < 0) {
      fail(absl::StrCat("unknown policy \"", tc.policy(), "\""));
      continue;
    }
    absl::StatusOr<absl::CivilDay> as_of = ParseDate(tc.as_of());
    if (!as_of.ok()) {
      fail(absl::StrCat("as_of: ", as_of.status().message()));
      continue;
    }
    std::vector<Firm> firms;
    absl::StatusOr<Firm> firm = FirmFromProfile(tc.firm(), catalog.taxonomy());
    if (!firm.ok()) {
      fail(absl::StrCat("firm: ", firm.status().message()));
      continue;
    }
    firms.push_back(std::move(*firm));
    bool population_ok = true;
    for (const FirmProfile& other : tc.population()) {
      absl::StatusOr<Firm> f = FirmFromProfile(other, catalog.taxonomy());
      if (!f.ok()) {
        fail(absl::StrCat("population firm ", other.credit_code(), ": ", f.status().message()));
        population_ok = false;
        break;
      }
      firms.push_back(std::move(*f));
    }
    if (!population_ok) continue;
    const Outcome got = matcher.EvaluateAll(firms, *as_of)[0][p];
    std::string got_text = MatchStatus_Name(got.status);
    if (got.benefit) absl::StrAppend(&got_text, " ", FormatYuan(*got.benefit));
    std::string want_text = MatchStatus_Name(tc.expect_status());
    if (!tc.expect_benefit().empty()) absl::StrAppend(&want_text, " ", tc.expect_benefit());
    bool ok = got.status == tc.expect_status();
    if (ok && !tc.expect_benefit().empty()) {
      absl::StatusOr<Decimal> want = Decimal::Parse(tc.expect_benefit());
      ok = want.ok() && got.benefit && *got.benefit == *want;
    }
    if (ok) {
      ++report->passed;
    } else {
      fail(absl::StrCat("expected ", want_text, ", got ", got_text));
    }
  }
}

absl::StatusOr<PolicyTestReport> RunPolicyTests(const Catalog& catalog,
                                                const std::string& tests_dir, Diagnostics* diags) {
  namespace fs = std::filesystem;
  const int errors_before = diags->error_count();
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::directory_iterator it(tests_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".textproto") files.push_back(it->path().string());
  }
  if (ec) {
    diags->Error(tests_dir, 0, 0, absl::StrCat("cannot list tests: ", ec.message()));
    return diags->ToStatus();
  }
  std::sort(files.begin(), files.end());
  PolicyTestReport report;
  std::set<std::string> tested;
  for (const std::string& file : files) {
    absl::StatusOr<std::string> text = ReadFileToString(file);
    if (!text.ok()) {
      diags->Error(file, 0, 0, "cannot read file");
      continue;
    }
    PolicyTestSuite suite;
    google::protobuf::TextFormat::ParseInfoTree tree;
    if (!ParseTextProto(file, *text, &suite, diags, &tree)) continue;
    std::vector<int> lines;
    const auto* field = suite.GetDescriptor()->FindFieldByName("test");
    for (int i = 0; i < suite.test_size(); ++i) {
      lines.push_back(tree.GetLocation(field, i).line + 1);
      tested.insert(suite.test(i).policy());
    }
    RunPolicyTestSuite(catalog, suite, file, lines, &report);
  }
  for (const CompiledPolicy& p : catalog.policies()) {
    if (!tested.count(p.id())) report.untested_policies.push_back(p.id());
  }
  if (diags->error_count() > errors_before) return diags->ToStatus();
  return report;
}

}  // namespace polmatch
