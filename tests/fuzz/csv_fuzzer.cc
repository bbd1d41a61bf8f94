// libFuzzer target for CSV firm input: the whole input is read as a .csv file, as UTF-8 and again
// as GB18030 (--encoding gb18030). Checks that a failure is only ever an unusable header or a
// GB18030 file read as UTF-8, named by file and line, that the counts add up, that every rejection
// is one line of valid UTF-8 with a line number, and that accepted records (partial ones too)
// round-trip through FirmToProfile.
#include "tests/fuzz/fuzz_taxonomy.h"
#include "tests/fuzz/fuzz_support.h"

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

void Check(bool ok, const char* what) { polmatch::fuzz::Check(ok, "csv_fuzzer", what); }

void ReadAs(const std::string& text, polmatch::InputEncoding encoding) {
  const polmatch::fuzz::FirmRead read = polmatch::fuzz::ReadAllFirms(
      text, "fuzz.csv", polmatch::FirmFormat::kCsv, encoding, Tax(), "csv_fuzzer", [](const polmatch::FirmProfile&) {});
  const absl::Status& status = read.status;
  if (!status.ok()) {
    Check(absl::IsInvalidArgument(status), "failure other than a bad header or GB18030");
    Check(absl::StartsWith(status.message(), "fuzz.csv:"), "header error without file:line");
    Check(status.message().find('\n') == absl::string_view::npos, "header error spans lines");
    const bool gb18030 = polmatch::fuzz::IsGb18030Refusal(status.message(), "fuzz.csv");
    Check(!gb18030 || encoding == polmatch::InputEncoding::kUtf8, "GB18030 refused as GB18030");
    Check(gb18030 || read.stats.records == 0, "records counted before a bad header");
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
