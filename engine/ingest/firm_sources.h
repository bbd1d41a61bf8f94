// File: firm_sources.h
//
// Plumbing shared by the JSON Lines and CSV readers (firm_reader.h is the public face): a buffered
// line reader over any std::istream, UTF-8 checks, and the tally that turns a bad record into a
// one-line Rejection and counts it.
#ifndef POLMATCH_INGEST_FIRM_SOURCES_H_
#define POLMATCH_INGEST_FIRM_SOURCES_H_

#include <cstddef>
#include <istream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/ingest/firm_reader.h"

namespace polmatch::ingest_internal {

// Splits a stream into lines, reading `chunk` bytes at a time into one growing buffer (a line may
// be of any length). Lines come without their "\n" or "\r\n", and line 1 without a UTF-8 BOM.
// Not copyable; the stream must outlive the reader.
class LineReader {
 public:
  static constexpr size_t kDefaultChunk = 1 << 20;

  explicit LineReader(std::istream& in, size_t chunk = kDefaultChunk);
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line; false at the end of input (or on a read error: see status()). The view is
  // valid until the next call.
  bool Next(absl::string_view* line);
  // Makes the next Next() return the last line again (with the same number).
  void Unread() { unread_ = true; }
  // 1-based number of the last line returned.
  int line_number() const { return line_number_; }
  // DataLoss if the stream failed before its end.
  absl::Status status() const;

 private:
  // Moves the unread bytes to the front, grows the buffer if it is full, and reads a chunk.
  void Fill();

  std::istream& in_;
  size_t chunk_;
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
  size_t begin_ = 0;  // first unread byte
  size_t end_ = 0;    // one past the last byte read
  bool at_end_ = false;
  bool read_error_ = false;
  bool unread_ = false;
  absl::string_view last_;
  int line_number_ = 0;
};

// Only spaces, tabs and carriage returns.
bool IsBlank(absl::string_view text);

// Well-formed UTF-8: no overlong forms, surrogates or code points above U+10FFFF. On failure
// *bad_offset (if given) is the offset of the first bad byte.
bool IsValidUtf8(absl::string_view text, size_t* bad_offset = nullptr);

// `text` made fit for one line of a rejects file: valid UTF-8 kept, control characters and bytes
// of invalid UTF-8 escaped (\n, \t, \x1b), cut at about `max_bytes` with "…".
std::string OneLine(absl::string_view text, size_t max_bytes = 400);

// Counts the records of one file and collects its rejections (`rejects` and `stats` may be null).
class IngestTally {
 public:
  IngestTally(const std::string& file, std::vector<Rejection>* rejects, IngestStats* stats)
      : file_(file), rejects_(rejects), stats_(stats) {}

  void Accept() {
    if (stats_ != nullptr) {
      ++stats_->records;
      ++stats_->accepted;
    }
  }
  void Reject(int line, absl::string_view reason);
  const std::string& file() const { return file_; }

 private:
  const std::string& file_;
  std::vector<Rejection>* rejects_;
  IngestStats* stats_;
};

}  // namespace polmatch::ingest_internal

#endif  // POLMATCH_INGEST_FIRM_SOURCES_H_
