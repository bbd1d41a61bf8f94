// libFuzzer target for CSV firm input: the whole input is read as a .csv file. Checks that a
// failure is only ever an unusable header named by file and line, that the counts add up, that
// every rejection is one line of valid UTF-8 with a line number, and that accepted firms
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
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
        absl::StatusOr<polmatch::Firm> again = polmatch::FirmFromProfile(profile, Tax());
        Check(again.ok(), "an accepted firm does not convert back");
        Check(google::protobuf::util::MessageDifferencer::Equals(
                  polmatch::FirmToProfile(*again, Tax()), profile),
              "FirmToProfile is not stable");
      },
      &rejects, &stats);
  if (!status.ok()) {
    Check(absl::IsInvalidArgument(status), "failure other than a bad header");
    Check(absl::StartsWith(status.message(), "fuzz.csv:"), "header error without file:line");
    Check(status.message().find('\n') == absl::string_view::npos, "header error spans lines");
    Check(stats.records == 0, "records counted before a bad header");
  }
  Check(stats.records == stats.accepted + stats.rejected, "records != accepted + rejected");
  Check(stats.accepted == firms, "accepted != firms");
  Check(stats.rejected == static_cast<int64_t>(rejects.size()), "rejected != rejections");
  for (const polmatch::Rejection& r : rejects) {
    Check(r.line >= 1, "rejection without a line");
    Check(r.reason.find('\n') == std::string::npos, "rejection reason spans lines");
    Check(polmatch::ingest_internal::IsValidUtf8(r.reason), "rejection reason is not UTF-8");
  }
  return 0;
}
