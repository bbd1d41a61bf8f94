// File: csv_reader.h
//
// CSV firm input (SPEC §2): RFC 4180 records under a header row `credit_code,name,region,industry,
// founded`, then fact columns (by id or Chinese name) and an optional `tags` column of
// ;-separated tag ids. Only credit_code is required: a source without region (a tax or
// third-party feed of credit_code and facts or tags) gives partial records. Internal to engine/ingest; firm_reader.h is the public face.
//
// A quoted field may run over several lines. A quote left open would swallow every later record,
// so a record that runs over lines is taken only if it closes cleanly with the header's number of
// fields; otherwise its first line alone is rejected ("unterminated quote") and reading resumes on
// the line after it, so the good records below are kept.
#ifndef POLMATCH_INGEST_CSV_READER_H_
#define POLMATCH_INGEST_CSV_READER_H_

#include <cstddef>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/ingest/firm_reader.h"
#include "engine/ingest/firm_sources.h"
#include "engine/taxonomy/taxonomy.h"

namespace polmatch::ingest_internal {

// Bounds on one record running over lines: beyond them the record is taken as an unterminated
// quote (and the lines it read are read again as records).
inline constexpr size_t kMaxCsvRecordLines = 1000;
inline constexpr size_t kMaxCsvRecordBytes = size_t{1} << 20;

// The fields of one record; the strings are reused from record to record.
class CsvFields {
 public:
  void Clear() { count_ = 0; }
  // Appends an empty field and returns it (valid until the next StartField).
  std::string* StartField();
  std::string* Last() { return &fields_[count_ - 1]; }
  size_t size() const { return count_; }
  const std::string& operator[](size_t i) const { return fields_[i]; }

 private:
  std::vector<std::string> fields_;
  size_t count_ = 0;
};

// Splits lines into RFC 4180 records ("" escapes a quote; commas and newlines inside quotes).
class CsvRecordReader {
 public:
  enum class Result { kRecord, kBad, kEnd };

  explicit CsvRecordReader(LineReader* lines) : lines_(lines) {}

  // The next record, skipping blank lines: kRecord with its fields, or kBad with `error`; `line` is
  // the record's first line. `expected_fields` (0 = any) decides whether a record running over
  // several lines is taken (see the file comment).
  Result Next(size_t expected_fields, CsvFields* fields, int* line, std::string* error);

 private:
  bool NextLine(absl::string_view* text, int* number);

  LineReader* lines_;
  std::deque<std::pair<int, std::string>> pending_;  // lines to read again, in order
  std::string current_;                              // the pending line being parsed
  std::vector<std::pair<int, std::string>> held_;    // continuation lines of a quoted field
};

// Reads a CSV firm file: the header, then every record. Errors for an unusable header
// ("file:line: …") or a read error.
absl::Status ReadCsv(LineReader& lines, IngestTally& tally, const Taxonomy& taxonomy,
                     const RecordSink& sink);

}  // namespace polmatch::ingest_internal

#endif  // POLMATCH_INGEST_CSV_READER_H_
