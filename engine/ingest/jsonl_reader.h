// File: jsonl_reader.h
//
// JSON Lines firm input (one FirmProfile per line, SPEC §2). Internal to engine/ingest;
// firm_reader.h is the public face.
//
// protobuf's JSON parser is the definition of the format, but it parses about 80k firms/s. Most
// lines have one plain shape (the known fields, strict JSON, strings without escapes), which a
// hand-written parser reads several times faster; any other line goes to protobuf, which also
// words every error. The fast parser accepts only lines that protobuf parses to the same message
// (the jsonl fuzzer checks this on every input).
#ifndef POLMATCH_INGEST_JSONL_READER_H_
#define POLMATCH_INGEST_JSONL_READER_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/ingest/firm_reader.h"
#include "engine/ingest/firm_sources.h"
#include "engine/taxonomy/taxonomy.h"
#include "proto/polmatch.pb.h"

namespace polmatch::ingest_internal {

// Parses `text` into `profile` (cleared first) by the fast path, falling back to protobuf.
// `scratch` is reused between calls.
absl::Status ParseFirmJsonInto(absl::string_view text, FirmProfile* profile, std::string* scratch);

// The fast path alone: true if `text` has the plain shape and was parsed; false otherwise
// (`profile` is then in an unspecified state).
bool ParseFirmJsonFast(absl::string_view text, FirmProfile* profile);

// The protobuf path alone: QuoteFactNumbers, then JsonStringToMessage with errors made one line.
absl::Status ParseFirmJsonWithProtobuf(absl::string_view text, FirmProfile* profile,
                                       std::string* scratch);

// Writes `text` to `out` with each bare JSON number among the values of the top-level "facts"
// object turned into a string of the same characters ({"facts":{"revenue":12345.675}} →
// {"facts":{"revenue":"12345.675"}}). Returns false, leaving `out` alone, when there is nothing to
// rewrite. Tolerates what protobuf's parser tolerates; stops rewriting where the text stops making
// sense and leaves the rest for protobuf to report.
bool QuoteFactNumbers(absl::string_view text, std::string* out);

// Length of the number token at text[pos] (a '-' or digit): the run of characters of
// "+-.0123456789eE". Both parsers quote exactly this run, written out as a plain decimal when it is
// a JSON number in exponent notation that fits (ExpandJsonExponent); Decimal::Parse judges it.
size_t NumberTokenLength(absl::string_view text, size_t pos);

// Reads every line of `lines` as a firm record.
absl::Status ReadJsonLines(LineReader& lines, IngestTally& tally, const Taxonomy& taxonomy,
                           const RecordSink& sink);

}  // namespace polmatch::ingest_internal

#endif  // POLMATCH_INGEST_JSONL_READER_H_
