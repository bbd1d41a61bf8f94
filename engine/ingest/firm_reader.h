// File: firm_reader.h
//
// Reading firm registries (SPEC §2): JSON Lines (the protobuf JSON mapping of FirmProfile) and CSV,
// each record validated and converted to a Firm, and several sources merged by credit code
// (湖北 "六库融通": 政务数据, third-party data and public information combined into one record per
// firm). A bad record never stops a run: it is rejected as "file:line: reason", counted, and the
// good records around it are kept. Only an input that cannot be read at all (or a CSV header that
// cannot be understood) is an error.
//
// Example:
//   std::vector<Rejection> rejects;
//   IngestStats stats;
//   absl::StatusOr<std::vector<Firm>> firms =
//       LoadFirms({"gov.jsonl", "third_party.csv"}, taxonomy, &rejects, &stats);
//   if (!firms.ok()) { /* unreadable input: exit 2 */ }
//   for (const Rejection& r : rejects) std::cerr << r.ToString() << "\n";
#ifndef POLMATCH_INGEST_FIRM_READER_H_
#define POLMATCH_INGEST_FIRM_READER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <istream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"
#include "engine/ingest/firm.h"
#include "engine/taxonomy/taxonomy.h"
#include "proto/polmatch.pb.h"

namespace polmatch {

// A record that was not ingested. `line` is 1-based: a JSONL line, or a CSV record's first line.
struct Rejection {
  std::string file;
  int line = 0;
  std::string reason;  // one line, specific: "founded: bad date \"2023-02-30\" (want YYYY-MM-DD)"

  std::string ToString() const;  // "file:line: reason"
};

// Counts over one or more reads; every function adds to the counts it is given.
struct IngestStats {
  int64_t records = 0;   // non-blank records seen (a CSV header is not a record)
  int64_t accepted = 0;  // records that validated
  int64_t rejected = 0;  // records that did not; records == accepted + rejected
  int64_t merged = 0;    // accepted records that updated a firm seen earlier (LoadFirms only)
  int64_t skipped = 0;   // records a RecordOwner gave to another reader (not in the counts above)
};

// Which records one reader of a cut registry keeps (index --shard): called with the credit code of
// each record that parsed far enough to show a valid one, and with "" for a record whose code
// cannot be read (unparseable, or an invalid code). A record it refuses is skipped before any
// further validation: neither counted (but in IngestStats::skipped) nor rejected, nor merged.
using RecordOwner = std::function<bool(absl::string_view credit_code)>;

// The character encoding of a firm file. UTF-8 (a BOM allowed) is the format; a GB18030 (GBK) file
// read as UTF-8 is refused as a whole ("file:line: … --encoding gb18030 …"), never read as garbage.
enum class InputEncoding {
  kUtf8,
  kGb18030,  // converted to UTF-8 as it is read (what Chinese Excel and WPS save)
};

// "utf-8"/"utf8" or "gb18030"/"gbk" (any case); nullopt otherwise.
std::optional<InputEncoding> ParseInputEncoding(absl::string_view name);

enum class FirmFormat {
  kAuto,       // by extension (.jsonl/.ndjson/.json, .csv), else '{' as first non-blank byte
  kJsonLines,  // one FirmProfile JSON object per line
  kCsv,        // RFC 4180 with a header row
};

// The format a file's name says (.jsonl/.ndjson/.json, .csv; case-insensitive), else kAuto.
FirmFormat FormatByExtension(absl::string_view name);

// Parses one JSON object into a FirmProfile with protobuf's JSON parser (snake_case and
// lowerCamelCase field names; unknown fields are errors). Fact values may be JSON numbers, kept
// exactly as written (12345.675 becomes "12345.675", never a double), decimal strings, or null
// (unknown, as an empty string); a number in exponent notation (1e5) is written out exactly
// ("100000"). A raw control character inside a string is refused with its column. Errors are one line: "malformed JSON: …", "unknown field \"x\"".
// Fields are not validated here; FirmFromProfile does that.
absl::StatusOr<FirmProfile> ParseFirmJson(absl::string_view line);

// Called with each valid, converted firm and its 1-based line, in input order.
using FirmSink = std::function<void(Firm&&, int line)>;

// Streams the firms of one file to `sink`. Bad records are appended to `rejects` and counted in
// `stats` (either may be null); reading never stops at a bad record. Errors only for input that
// cannot be read: NotFound for a missing file, PermissionDenied, InvalidArgument for a directory,
// DataLoss for a read error, and InvalidArgument "file:line: …" for an unusable CSV header (no
// credit_code column, an unknown or duplicate column; without a region column every record is
// partial) or a GB18030 file read as UTF-8.
// A record without region (a partial record, SPEC §2) reaches the sink as a Firm whose partial()
// is true: LoadFirms decides whether it completes a firm. A GB18030 file read as kUtf8 is
// InvalidArgument "file:line: …" (the records before that line may have reached the sink).
absl::Status ReadFirms(const std::string& path, FirmFormat format, const Taxonomy& taxonomy,
                       const FirmSink& sink, std::vector<Rejection>* rejects,
                       IngestStats* stats, InputEncoding encoding = InputEncoding::kUtf8);
// The same over a stream (fuzzers, stdin, tests); `name` is the file named in rejections and
// decides kAuto by its extension before sniffing.
absl::Status ReadFirms(std::istream& in, const std::string& name, FirmFormat format,
                       const Taxonomy& taxonomy, const FirmSink& sink,
                       std::vector<Rejection>* rejects, IngestStats* stats,
                       InputEncoding encoding = InputEncoding::kUtf8);

// Folds a later record of the same firm into `into`: a known fact of `later` overrides (an
// unknown one never erases a known one), tag grants are united (identical grants kept once, earlier
// ones first), and a non-empty name, region, industry or founding date of `later` overrides.
void MergeFirm(Firm* into, Firm&& later);

// Reads every path (format by extension or content) and merges the records by credit code in the
// order given, a later source's record over an earlier one by MergeFirm. Within one file a credit
// code appears once: a later record of it is rejected ("duplicate credit code (first at line 3)",
// most likely an export error). A partial record (no region) completes the firm an earlier source
// defines; one that comes first is rejected ("no base record: …"). The result is sorted by credit
// code. Errors as ReadFirms; the first unreadable path ends the load.
absl::StatusOr<std::vector<Firm>> LoadFirms(const std::vector<std::string>& paths,
                                            const Taxonomy& taxonomy,
                                            std::vector<Rejection>* rejects, IngestStats* stats,
                                            InputEncoding encoding = InputEncoding::kUtf8);

// The one-line refusal when no firm record was accepted ("no firm record accepted: …"); empty
// when some were.
std::string NoneAccepted(const IngestStats& stats);

}  // namespace polmatch

#endif  // POLMATCH_INGEST_FIRM_READER_H_
