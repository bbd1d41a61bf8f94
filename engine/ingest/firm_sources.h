// File: firm_sources.h
//
// Plumbing shared by the JSON Lines and CSV readers (firm_reader.h is the public face): a buffered
// line reader over any std::istream (converting GB18030 when asked, recognising it when not), UTF-8
// and GB18030 checks, exact JSON exponent numbers, and the tally that turns a bad record into a
// one-line Rejection and counts it.
#ifndef POLMATCH_INGEST_FIRM_SOURCES_H_
#define POLMATCH_INGEST_FIRM_SOURCES_H_

#include <cstddef>
#include <functional>
#include <istream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/ingest/firm_reader.h"

namespace polmatch::ingest_internal {

// Decides whether a UTF-8 file is in fact GB18030 (GBK), as Chinese Excel and WPS save CSV: by its
// first line that is not ASCII and is either well-formed UTF-8 (a UTF-8 file) or not, but
// well-formed GB18030 (a GB18030 file). Lines that are neither (stray bytes) decide nothing: their
// records are rejected as invalid UTF-8. A UTF-8 BOM decides UTF-8.
class EncodingSniffer {
 public:
  bool decided() const { return decided_; }
  void DecideUtf8() { decided_ = true; }
  // Looks at one line while undecided; true if it shows the file is GB18030.
  bool ShowsGb18030(absl::string_view line);

 private:
  bool decided_ = false;
};

// Converts GB18030 text to UTF-8 (glibc iconv), line by line. A byte sequence that is not
// GB18030 is copied as it is, so that the record holding it is rejected as invalid UTF-8.
class Gb18030Decoder {
 public:
  Gb18030Decoder();
  ~Gb18030Decoder();
  Gb18030Decoder(const Gb18030Decoder&) = delete;
  Gb18030Decoder& operator=(const Gb18030Decoder&) = delete;

  // `text` in UTF-8; valid until the next call.
  absl::string_view Decode(absl::string_view text);

 private:
  void* cd_;  // iconv_t
  std::string out_;
};

// The one-line refusal of a GB18030 file read as UTF-8: "file:line: … --encoding gb18030 …".
absl::Status Gb18030Refusal(const std::string& file, int line);

// Splits a stream into lines, reading `chunk` bytes at a time into one growing buffer (a line may
// be of any length). Lines come without their "\n" or "\r\n", and line 1 without a UTF-8 BOM.
// GB18030 input is converted to UTF-8 (line numbers kept); UTF-8 input that turns out to be
// GB18030 (EncodingSniffer) ends the reading at that line: see gb18030_line().
// Not copyable; the stream must outlive the reader.
class LineReader {
 public:
  static constexpr size_t kDefaultChunk = 1 << 20;

  explicit LineReader(std::istream& in, size_t chunk = kDefaultChunk,
                      InputEncoding encoding = InputEncoding::kUtf8);
  explicit LineReader(std::istream& in, InputEncoding encoding)
      : LineReader(in, kDefaultChunk, encoding) {}
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
  // The line at which UTF-8 input was found to be GB18030 (reading stopped there), or 0.
  int gb18030_line() const { return gb18030_line_; }

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
  EncodingSniffer sniffer_;
  std::unique_ptr<Gb18030Decoder> decoder_;  // GB18030 input only
  int gb18030_line_ = 0;
};

// Only spaces, tabs and carriage returns.
bool IsBlank(absl::string_view text);

// Well-formed UTF-8: no overlong forms, surrogates or code points above U+10FFFF. On failure
// *bad_offset (if given) is the offset of the first bad byte.
bool IsValidUtf8(absl::string_view text, size_t* bad_offset = nullptr);

// Well-formed GB18030 (of which GBK is a part): bytes 00–7F; two bytes 81–FE, 40–7E|80–FE; four
// bytes 81–84|90–E3, 30–39, 81–FE, 30–39.
bool IsValidGb18030(absl::string_view text);

// A JSON number in exponent notation (1e5, -2.5E-3) as an exact plain decimal: kExpanded with `out`
// set when it has at most 13 integer and 6 fractional digits (Decimal::Parse judges the range
// exactly), else why not; kNotExponent for anything else (a plain number, a non-number).
enum class ExponentForm { kNotExponent, kExpanded, kOutOfRange, kTooPrecise };
ExponentForm ExpandJsonExponent(absl::string_view token, std::string* out);

// The first raw control character (U+0000–U+001F) inside a string of a JSON text, which JSON
// forbids: its 1-based column (in characters) and byte, or 0 if there is none.
int RawControlInJsonString(absl::string_view text, unsigned char* byte);

// `text` made fit for one line of a rejects file: valid UTF-8 kept, control characters and bytes
// of invalid UTF-8 escaped (\n, \t, \x1b), cut at about `max_bytes` with "…".
std::string OneLine(absl::string_view text, size_t max_bytes = 400);

// Receives a record that validated: OK, or why it is rejected after all (a rule of the merge:
// "duplicate credit code (first at line 3)", "no base record …").
using RecordSink = std::function<absl::Status(Firm&&, int line)>;

// The merge rules of LoadFirms and LoadFirmTable (SPEC §2): a credit code appears once per file; a
// partial record completes a firm an earlier source defines.
inline constexpr char kNoBaseRecord[] =
    "no base record: a record without region only completes a firm that an earlier source "
    "defines";
std::string DuplicateCode(int first_line);

// ReadFirms with a RecordSink (the merge's entry), over a stream or a file.
// `owner` (if set) keeps only its records (RecordOwner).
absl::Status ReadRecords(std::istream& in, const std::string& name, FirmFormat format,
                         InputEncoding encoding, const Taxonomy& taxonomy, const RecordSink& sink,
                         std::vector<Rejection>* rejects, IngestStats* stats,
                         const RecordOwner& owner = nullptr);
absl::Status ReadRecordsFromFile(const std::string& path, FirmFormat format,
                                 InputEncoding encoding, const Taxonomy& taxonomy,
                                 const RecordSink& sink, std::vector<Rejection>* rejects,
                                 IngestStats* stats, const RecordOwner& owner = nullptr);

// Whether `owner` (none: everyone) keeps a record: `profile` is its parsed record, or null when it
// did not parse. Counts a record it skips in `stats` (may be null).
bool OwnsRecord(const RecordOwner& owner, const FirmProfile* profile, IngestStats* stats);

// Counts the records of one file and collects its rejections (`rejects` and `stats` may be null).
class IngestTally {
 public:
  IngestTally(const std::string& file, std::vector<Rejection>* rejects, IngestStats* stats,
              const RecordOwner* owner = nullptr)
      : file_(file), rejects_(rejects), stats_(stats), owner_(owner) {}

  // Whether this reader keeps the record (`profile` null: it did not parse); see OwnsRecord.
  bool Mine(const FirmProfile* profile) {
    return owner_ == nullptr || OwnsRecord(*owner_, profile, stats_);
  }

  void Accept() {
    if (stats_ != nullptr) {
      ++stats_->records;
      ++stats_->accepted;
    }
  }
  void Reject(int line, absl::string_view reason);
  // Passes a validated record to `sink` and counts it as accepted or, if the sink refuses it,
  // rejected.
  void Offer(const RecordSink& sink, Firm&& firm, int line) {
    absl::Status taken = sink(std::move(firm), line);
    if (taken.ok()) {
      Accept();
    } else {
      Reject(line, taken.message());
    }
  }
  const std::string& file() const { return file_; }

 private:
  const std::string& file_;
  std::vector<Rejection>* rejects_;
  IngestStats* stats_;
  const RecordOwner* owner_;
};

}  // namespace polmatch::ingest_internal

#endif  // POLMATCH_INGEST_FIRM_SOURCES_H_
