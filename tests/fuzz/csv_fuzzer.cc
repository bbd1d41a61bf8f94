// libFuzzer target for CSV firm input: the whole input is read as a .csv file, as UTF-8 and again
// as GB18030 (--encoding gb18030). Checks that a failure is only ever an unusable header or a
// GB18030 file read as UTF-8, named by file and line, that the counts add up, that every rejection
// is one line of valid UTF-8 with a line number, and that accepted records (partial ones too)
// round-trip through FirmToProfile.
#include "tests/fuzz/fuzz_taxonomy.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/string_view.h"
#include "engine/ingest/firm_reader.h"
#include "engine/ingest/firm_sources.h"
#include "google/protobuf/util/message_differencer.h"

namespace {

const polmatch::Taxonomy& Tax() { return polmatch::FuzzTaxonomy(); }

void Check(bool ok, const char* what) {
  if (!ok) {
    std::cerr << "csv_fuzzer: " << what << "\n";
    std::abort();
  }
}

// Exactly the one-line refusal of a GB18030 file read as UTF-8 (ingest_internal::Gb18030Refusal),
// not just any message quoting its words (a header error echoes the input).
bool IsGb18030Refusal(absl::string_view message, const std::string& file) {
  absl::string_view rest = message;
  if (!absl::ConsumePrefix(&rest, file) || !absl::ConsumePrefix(&rest, ":")) return false;
  int line = 0;
  size_t digits = 0;
  while (digits < rest.size() && digits < 9 && rest[digits] >= '0' && rest[digits] <= '9') {
    line = line * 10 + (rest[digits++] - '0');
  }
  return digits > 0 &&
         message == polmatch::ingest_internal::Gb18030Refusal(file, line).message();
}

void ReadAs(const std::string& text, polmatch::InputEncoding encoding) {
  std::istringstream in(text);
  std::vector<polmatch::Rejection> rejects;
  polmatch::IngestStats stats;
  int64_t firms = 0;
  int last_line = 0;
  const absl::Status status = polmatch::ReadFirms(
      in, "fuzz.csv", polmatch::FirmFormat::kCsv, Tax(),
      [&](polmatch::Firm&& firm, int line) {
        Check(line > last_line, "lines out of order");
        last_line = line;
        ++firms;
        const polmatch::FirmProfile profile = polmatch::FirmToProfile(firm, Tax());
        absl::StatusOr<polmatch::Firm> again = polmatch::FirmFromRecord(profile, Tax());
        Check(again.ok(), "an accepted firm does not convert back");
        Check(google::protobuf::util::MessageDifferencer::Equals(
                  polmatch::FirmToProfile(*again, Tax()), profile),
              "FirmToProfile is not stable");
      },
      &rejects, &stats, encoding);
  if (!status.ok()) {
    Check(absl::IsInvalidArgument(status), "failure other than a bad header or GB18030");
    Check(absl::StartsWith(status.message(), "fuzz.csv:"), "header error without file:line");
    Check(status.message().find('\n') == absl::string_view::npos, "header error spans lines");
    const bool gb18030 = IsGb18030Refusal(status.message(), "fuzz.csv");
    Check(!gb18030 || encoding == polmatch::InputEncoding::kUtf8, "GB18030 refused as GB18030");
    Check(gb18030 || stats.records == 0, "records counted before a bad header");
  }
  Check(stats.records == stats.accepted + stats.rejected, "records != accepted + rejected");
  Check(stats.accepted == firms, "accepted != firms");
  Check(stats.rejected == static_cast<int64_t>(rejects.size()), "rejected != rejections");
  for (const polmatch::Rejection& r : rejects) {
    Check(r.line >= 1, "rejection without a line");
    Check(r.reason.find('\n') == std::string::npos, "rejection reason spans lines");
    Check(polmatch::ingest_internal::IsValidUtf8(r.reason), "rejection reason is not UTF-8");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  ReadAs(text, polmatch::InputEncoding::kUtf8);
  ReadAs(text, polmatch::InputEncoding::kGb18030);
  return 0;
}
