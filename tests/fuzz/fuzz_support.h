// File: fuzz_support.h
//
// What the libFuzzer targets share besides the tag library (fuzz_taxonomy.h): a check that
// aborts (so that the fuzzer reports the input), the round trip every binary format must pass, a
// checksum trailer fixed up so that the parsers' structural checks are reached, and the checks
// every firm reader's run must pass.
#ifndef POLMATCH_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define POLMATCH_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "engine/ingest/firm.h"
#include "engine/ingest/firm_reader.h"
#include "engine/ingest/firm_sources.h"
#include "engine/util/framing.h"
#include "google/protobuf/util/message_differencer.h"

namespace polmatch::fuzz {

// Aborts with "<who>: <what>" unless `ok`.
inline void Check(bool ok, const char* who, const char* what) {
  if (!ok) {
    std::cerr << who << ": " << what << "\n";
    std::abort();
  }
}

// Whatever `parse` accepts, `serialize` writes as bytes that parse again and serialize to the
// same bytes. `parse(bytes)` returns an absl::StatusOr; `what` names the format.
template <typename Parse, typename Serialize>
void CheckRoundTrip(const std::string& bytes, const Parse& parse, const Serialize& serialize, const char* who,
                    const char* what) {
  auto value = parse(bytes);
  if (!value.ok()) return;
  const std::string once = serialize(*value);
  auto again = parse(once);
  if (!again.ok()) {
    std::cerr << who << ": round trip failed: a serialized " << what << " does not parse\n";
    std::abort();
  }
  if (serialize(*again) != once) {
    std::cerr << who << ": round trip failed: " << what << " bytes changed\n";
    std::abort();
  }
}

// `bytes` with its last 8 bytes replaced by the Checksum64 trailer of the rest (the files that
// end in one: the snapshot, the state file, the shard manifest and selection).
inline std::string WithFixedChecksum(const std::string& bytes) {
  std::string fixed = bytes.substr(0, bytes.size() - 8);
  const uint64_t sum = Checksum64(fixed);
  fixed.append(reinterpret_cast<const char*>(&sum), 8);
  return fixed;
}

// Exactly the one-line refusal of a GB18030 file read as UTF-8 (ingest_internal::Gb18030Refusal),
// not just any message quoting its words (a header error echoes the input).
inline bool IsGb18030Refusal(absl::string_view message, const std::string& file) {
  absl::string_view rest = message;
  if (!absl::ConsumePrefix(&rest, file) || !absl::ConsumePrefix(&rest, ":")) return false;
  int line = 0;
  size_t digits = 0;
  while (digits < rest.size() && digits < 9 && rest[digits] >= '0' && rest[digits] <= '9') {
    line = line * 10 + (rest[digits++] - '0');
  }
  return digits > 0 && message == ingest_internal::Gb18030Refusal(file, line).message();
}

// A firm reader's run: the counts add up (`firms` = the records handed on), and every rejection
// is one line of valid UTF-8 with a line number.
inline void CheckReadCounts(const IngestStats& stats, int64_t firms, const std::vector<Rejection>& rejects,
                            const char* who) {
  Check(stats.records == stats.accepted + stats.rejected, who, "records != accepted + rejected");
  Check(stats.accepted == firms, who, "accepted != firms");
  Check(stats.rejected == static_cast<int64_t>(rejects.size()), who, "rejected != rejections");
  for (const Rejection& r : rejects) {
    Check(r.line >= 1, who, "rejection without a line");
    Check(r.reason.find('\n') == std::string::npos, who, "rejection reason spans lines");
    Check(ingest_internal::IsValidUtf8(r.reason), who, "rejection reason is not UTF-8");
  }
}

// What a firm reader's run over the fuzzer's input came to.
struct FirmRead {
  absl::Status status;
  IngestStats stats;
};

// Reads `text` as the file `file` with ReadFirms, checking that the firms come in line order and
// that each accepted one (partial ones too) round-trips through FirmToProfile, and hands each
// one's profile to `on_profile`; then CheckReadCounts.
template <typename OnProfile>
FirmRead ReadAllFirms(const std::string& text, const std::string& file, FirmFormat format, InputEncoding encoding,
                      const Taxonomy& taxonomy, const char* who, const OnProfile& on_profile) {
  std::istringstream in(text);
  std::vector<Rejection> rejects;
  FirmRead read;
  int64_t firms = 0;
  int last_line = 0;
  read.status = ReadFirms(
      in, file, format, taxonomy,
      [&](Firm&& firm, int line) {
        Check(line > last_line, who, "lines out of order");
        last_line = line;
        ++firms;
        const FirmProfile profile = FirmToProfile(firm, taxonomy);
        absl::StatusOr<Firm> again = FirmFromRecord(profile, taxonomy);
        Check(again.ok(), who, "an accepted firm does not convert back");
        Check(google::protobuf::util::MessageDifferencer::Equals(FirmToProfile(*again, taxonomy), profile), who,
              "FirmToProfile is not stable");
        on_profile(profile);
      },
      &rejects, &read.stats, encoding);
  CheckReadCounts(read.stats, firms, rejects, who);
  return read;
}

}  // namespace polmatch::fuzz

#endif  // POLMATCH_TESTS_FUZZ_FUZZ_SUPPORT_H_
