// libFuzzer target for JSON Lines firm input: the whole input is read as a .jsonl file, as UTF-8
// and again as GB18030 (--encoding gb18030). Checks that the counts add up, that the only failure
// is the one-line refusal of a GB18030 file read as UTF-8, that every rejection is one line of
// valid UTF-8 with a line number, that every accepted record (partial ones too) round-trips through
// FirmToProfile and protobuf's JSON printer, and that the fast parser agrees with protobuf's on
// every line it accepts.
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
#include "absl/strings/str_split.h"
#include "engine/ingest/firm_reader.h"
#include "engine/ingest/firm_sources.h"
#include "engine/ingest/jsonl_reader.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace {

using google::protobuf::util::MessageDifferencer;

const polmatch::Taxonomy& Tax() { return polmatch::FuzzTaxonomy(); }

void Check(bool ok, const char* what) {
  if (!ok) {
    std::cerr << "jsonl_fuzzer: " << what << "\n";
    std::abort();
  }
}

void CheckRoundTrip(const polmatch::Firm& firm) {
  const polmatch::FirmProfile profile = polmatch::FirmToProfile(firm, Tax());
  absl::StatusOr<polmatch::Firm> again = polmatch::FirmFromRecord(profile, Tax());
  Check(again.ok(), "an accepted firm does not convert back");
  Check(MessageDifferencer::Equals(polmatch::FirmToProfile(*again, Tax()), profile),
        "FirmToProfile is not stable");
  std::string json;
  Check(google::protobuf::util::MessageToJsonString(profile, &json).ok(), "cannot print JSON");
  absl::StatusOr<polmatch::FirmProfile> parsed = polmatch::ParseFirmJson(json);
  Check(parsed.ok(), "printed JSON does not parse");
  Check(MessageDifferencer::Equals(*parsed, profile), "JSON round trip changed the profile");
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
      in, "fuzz.jsonl", polmatch::FirmFormat::kAuto, Tax(),
      [&](polmatch::Firm&& firm, int line) {
        Check(line > last_line, "lines out of order");
        last_line = line;
        ++firms;
        CheckRoundTrip(firm);
      },
      &rejects, &stats, encoding);
  if (!status.ok()) {
    Check(encoding == polmatch::InputEncoding::kUtf8 && absl::IsInvalidArgument(status) &&
              IsGb18030Refusal(status.message(), "fuzz.jsonl"),
          "a readable stream failed other than as a GB18030 file");
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

  // The fast parser may only accept what protobuf parses to the same message.
  polmatch::FirmProfile fast, slow;
  std::string scratch;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!polmatch::ingest_internal::ParseFirmJsonFast(line, &fast)) continue;
    Check(polmatch::ingest_internal::ParseFirmJsonWithProtobuf(line, &slow, &scratch).ok(),
          "fast parser accepted a line protobuf rejects");
    Check(MessageDifferencer::Equals(fast, slow), "fast parser and protobuf disagree");
  }
  return 0;
}
