// libFuzzer target for JSON Lines firm input: the whole input is read as a .jsonl file, as UTF-8
// and again as GB18030 (--encoding gb18030). Checks that the counts add up, that the only failure
// is the one-line refusal of a GB18030 file read as UTF-8, that every rejection is one line of
// valid UTF-8 with a line number, that every accepted record (partial ones too) round-trips through
// FirmToProfile and protobuf's JSON printer, and that the fast parser agrees with protobuf's on
// every line it accepts.
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
#include "absl/strings/str_split.h"
#include "engine/ingest/firm_reader.h"
#include "engine/ingest/firm_sources.h"
#include "engine/ingest/jsonl_reader.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace {

using google::protobuf::util::MessageDifferencer;

const polmatch::Taxonomy& Tax() { return polmatch::FuzzTaxonomy(); }

void Check(bool ok, const char* what) { polmatch::fuzz::Check(ok, "jsonl_fuzzer", what); }

// A profile survives protobuf's JSON printer and the reader's parser.
void CheckJsonRoundTrip(const polmatch::FirmProfile& profile) {
  std::string json;
  Check(google::protobuf::util::MessageToJsonString(profile, &json).ok(), "cannot print JSON");
  absl::StatusOr<polmatch::FirmProfile> parsed = polmatch::ParseFirmJson(json);
  Check(parsed.ok(), "printed JSON does not parse");
  Check(MessageDifferencer::Equals(*parsed, profile), "JSON round trip changed the profile");
}

void ReadAs(const std::string& text, polmatch::InputEncoding encoding) {
  const absl::Status status = polmatch::fuzz::ReadAllFirms(text, "fuzz.jsonl", polmatch::FirmFormat::kAuto, encoding,
                                                           Tax(), "jsonl_fuzzer", CheckJsonRoundTrip)
                                  .status;
  if (!status.ok()) {
    Check(encoding == polmatch::InputEncoding::kUtf8 && absl::IsInvalidArgument(status) &&
              polmatch::fuzz::IsGb18030Refusal(status.message(), "fuzz.jsonl"),
          "a readable stream failed other than as a GB18030 file");
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
