#include "engine/ingest/firm_sources.h"

#include <iconv.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/ingest/credit_code.h"

namespace polmatch::ingest_internal {

LineReader::LineReader(std::istream& in, size_t chunk, InputEncoding encoding)
    : in_(in), chunk_(std::max<size_t>(chunk, 16)) {
  if (encoding == InputEncoding::kGb18030) decoder_ = std::make_unique<Gb18030Decoder>();
}

void LineReader::Fill() {
  if (begin_ > 0) {
    if (end_ > begin_) std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (capacity_ - end_ < chunk_ / 2) {
    const size_t capacity = std::max(capacity_ * 2, end_ + chunk_);
    std::unique_ptr<char[]> grown(new char[capacity]);
    if (end_ > 0) std::memcpy(grown.get(), buffer_.get(), end_);
    buffer_ = std::move(grown);
    capacity_ = capacity;
  }
  in_.read(buffer_.get() + end_, static_cast<std::streamsize>(capacity_ - end_));
  const std::streamsize n = in_.gcount();
  end_ += static_cast<size_t>(n);
  if (in_.bad()) read_error_ = true;
  if (!in_.good() || n == 0) at_end_ = true;
}

bool LineReader::Next(absl::string_view* line) {
  if (gb18030_line_ != 0) return false;
  if (unread_) {
    unread_ = false;
    *line = last_;
    return true;
  }
  size_t scanned = begin_;  // bytes before this offset hold no '\n'
  absl::string_view text;
  for (;;) {
    const void* newline = scanned < end_
                              ? std::memchr(buffer_.get() + scanned, '\n', end_ - scanned)
                              : nullptr;
    if (newline != nullptr) {
      const char* nl = static_cast<const char*>(newline);
      text = absl::string_view(buffer_.get() + begin_, nl - (buffer_.get() + begin_));
      begin_ = static_cast<size_t>(nl - buffer_.get()) + 1;
      break;
    }
    if (at_end_) {
      if (begin_ == end_) return false;
      text = absl::string_view(buffer_.get() + begin_, end_ - begin_);
      begin_ = end_;
      break;
    }
    const size_t pending = end_ - begin_;
    Fill();
    scanned = pending;  // Fill moved the unread bytes to the front
  }
  ++line_number_;
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (decoder_ != nullptr) text = decoder_->Decode(text);
  if (line_number_ == 1 && text.substr(0, 3) == "\xEF\xBB\xBF") {
    text.remove_prefix(3);
    sniffer_.DecideUtf8();
  }
  if (decoder_ == nullptr && !sniffer_.decided() && sniffer_.ShowsGb18030(text)) {
    gb18030_line_ = line_number_;
    at_end_ = true;
    begin_ = end_;
    return false;
  }
  last_ = text;
  *line = text;
  return true;
}

absl::Status LineReader::status() const {
  if (read_error_) {
    return absl::DataLossError(
        absl::StrFormat("read error after line %d", line_number_));
  }
  return absl::OkStatus();
}

bool IsBlank(absl::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

namespace {

// Length of the well-formed UTF-8 sequence at text[i], or 0.
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return len;
}

}  // namespace

bool IsValidUtf8(absl::string_view text, size_t* bad_offset) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    // ASCII runs, eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      if ((word & 0x8080808080808080ULL) != 0) break;
      i += 8;
    }
    if (i >= n) break;
    const size_t len = Utf8SequenceLength(text, i);
    if (len == 0) {
      if (bad_offset != nullptr) *bad_offset = i;
      return false;
    }
    i += len;
  }
  return true;
}

std::string OneLine(absl::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 8);
  size_t i = 0;
  while (i < text.size()) {
    if (out.size() >= max_bytes) {
      out += "…";
      break;
    }
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      out += absl::StrFormat("\\x%02x", c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      const size_t len = Utf8SequenceLength(text, i);
      if (len == 0) {
        out += absl::StrFormat("\\x%02x", c);
      } else {
        out.append(text.data() + i, len);
        i += len;
        continue;
      }
    }
    ++i;
  }
  return out;
}

bool IsValidGb18030(absl::string_view text) {
  const size_t n = text.size();
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  size_t i = 0;
  while (i < n) {
    const unsigned char b0 = byte(i);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    if (b0 == 0x80 || b0 == 0xFF || i + 1 >= n) return false;
    const unsigned char b1 = byte(i + 1);
    if ((b1 >= 0x40 && b1 <= 0x7E) || (b1 >= 0x80 && b1 <= 0xFE)) {
      i += 2;
      continue;
    }
    // Four bytes: BMP (81–84) or supplementary planes (90–E3).
    if (b1 < 0x30 || b1 > 0x39 || i + 3 >= n) return false;
    if (!((b0 >= 0x81 && b0 <= 0x84) || (b0 >= 0x90 && b0 <= 0xE3))) return false;
    if (byte(i + 2) < 0x81 || byte(i + 2) > 0xFE || byte(i + 3) < 0x30 || byte(i + 3) > 0x39) {
      return false;
    }
    i += 4;
  }
  return true;
}

bool EncodingSniffer::ShowsGb18030(absl::string_view line) {
  if (IsValidUtf8(line)) {
    // ASCII decides nothing; the first line with other well-formed UTF-8 decides UTF-8.
    for (const char c : line) {
      if (static_cast<unsigned char>(c) >= 0x80) {
        decided_ = true;
        break;
      }
    }
    return false;
  }
  if (!IsValidGb18030(line)) return false;  // stray bytes: that record is rejected
  decided_ = true;
  return true;
}

Gb18030Decoder::Gb18030Decoder() : cd_(reinterpret_cast<void*>(::iconv_open("UTF-8", "GB18030"))) {}

Gb18030Decoder::~Gb18030Decoder() {
  if (cd_ != reinterpret_cast<void*>(-1)) ::iconv_close(reinterpret_cast<iconv_t>(cd_));
}

absl::string_view Gb18030Decoder::Decode(absl::string_view text) {
  out_.clear();
  if (cd_ == reinterpret_cast<void*>(-1)) {  // no converter: every non-ASCII byte stays bad
    out_.assign(text.data(), text.size());
    return out_;
  }
  const iconv_t cd = reinterpret_cast<iconv_t>(cd_);
  ::iconv(cd, nullptr, nullptr, nullptr, nullptr);
  char* in = const_cast<char*>(text.data());
  size_t in_left = text.size();
  char buffer[4096];
  while (in_left > 0) {
    char* out = buffer;
    size_t out_left = sizeof(buffer);
    const size_t r = ::iconv(cd, &in, &in_left, &out, &out_left);
    out_.append(buffer, out - buffer);
    if (r != static_cast<size_t>(-1)) break;
    if (errno == E2BIG) continue;
    // EILSEQ or EINVAL (cut short): keep the byte as it is and go on after it.
    out_.push_back(*in);
    ++in;
    --in_left;
    ::iconv(cd, nullptr, nullptr, nullptr, nullptr);
  }
  return out_;
}

absl::Status Gb18030Refusal(const std::string& file, int line) {
  return absl::InvalidArgumentError(absl::StrCat(
      file, ":", line,
      ": not UTF-8 but GB18030/GBK (as Chinese Excel and WPS save CSV): read it with "
      "--encoding gb18030, or convert it with iconv -f GB18030 -t UTF-8"));
}

ExponentForm ExpandJsonExponent(absl::string_view token, std::string* out) {
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?[eE][+-]?[0-9]+
  size_t i = 0;
  const size_t n = token.size();
  const auto digits_from = [&](size_t at) {
    size_t j = at;
    while (j < n && absl::ascii_isdigit(static_cast<unsigned char>(token[j]))) ++j;
    return j;
  };
  const bool negative = i < n && token[i] == '-';
  if (negative) ++i;
  const size_t int_begin = i;
  i = digits_from(i);
  if (i == int_begin || (token[int_begin] == '0' && i - int_begin > 1)) {
    return ExponentForm::kNotExponent;
  }
  std::string digits(token.substr(int_begin, i - int_begin));
  int64_t point = static_cast<int64_t>(digits.size());  // digits before the decimal point
  if (i < n && token[i] == '.') {
    const size_t frac_begin = ++i;
    i = digits_from(i);
    if (i == frac_begin) return ExponentForm::kNotExponent;
    digits.append(token.data() + frac_begin, i - frac_begin);
  }
  if (i >= n || (token[i] != 'e' && token[i] != 'E')) return ExponentForm::kNotExponent;
  ++i;
  bool exp_negative = false;
  if (i < n && (token[i] == '+' || token[i] == '-')) exp_negative = token[i++] == '-';
  const size_t exp_begin = i;
  i = digits_from(i);
  if (i == exp_begin || i != n) return ExponentForm::kNotExponent;
  int64_t exponent = 0;
  for (size_t k = exp_begin; k < n; ++k) {
    exponent = std::min<int64_t>(exponent * 10 + (token[k] - '0'), int64_t{1} << 40);
  }
  point += exp_negative ? -exponent : exponent;
  // Significant digits only.
  const size_t lead = digits.find_first_not_of('0');
  if (lead == std::string::npos) {
    *out = "0";
    return ExponentForm::kExpanded;
  }
  point -= static_cast<int64_t>(lead);
  digits.erase(0, lead);
  digits.erase(digits.find_last_not_of('0') + 1);
  const int64_t size = static_cast<int64_t>(digits.size());
  if (point > 13) return ExponentForm::kOutOfRange;
  if (size - point > 6) return ExponentForm::kTooPrecise;
  out->assign(negative ? "-" : "");
  if (point <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-point), '0');
    out->append(digits);
  } else if (point >= size) {
    out->append(digits);
    out->append(static_cast<size_t>(point - size), '0');
  } else {
    out->append(digits, 0, static_cast<size_t>(point));
    out->push_back('.');
    out->append(digits, static_cast<size_t>(point), std::string::npos);
  }
  return ExponentForm::kExpanded;
}

int RawControlInJsonString(absl::string_view text, unsigned char* byte) {
  char quote = 0;  // the open string's quote (protobuf also reads 'single-quoted' strings)
  int column = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80) ++column;
    if (quote == 0) {
      if (c == '"' || c == '\'') quote = static_cast<char>(c);
      continue;
    }
    if (c < 0x20) {
      *byte = c;
      return column;
    }
    if (c == '\\') {
      if (i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x20) {
        ++i;
        ++column;
      }
    } else if (c == static_cast<unsigned char>(quote)) {
      quote = 0;
    }
  }
  return 0;
}

std::string DuplicateCode(int first_line) {
  return absl::StrCat("duplicate credit code (first at line ", first_line, ")");
}

bool OwnsRecord(const RecordOwner& owner, const FirmProfile* profile, IngestStats* stats) {
  if (!owner) return true;
  const bool readable = profile != nullptr && ValidateCreditCode(profile->credit_code()).ok();
  const bool mine = owner(readable ? absl::string_view(profile->credit_code()) : absl::string_view());
  if (!mine && stats != nullptr) ++stats->skipped;
  return mine;
}

void IngestTally::Reject(int line, absl::string_view reason) {
  if (stats_ != nullptr) {
    ++stats_->records;
    ++stats_->rejected;
  }
  if (rejects_ != nullptr) rejects_->push_back(Rejection{file_, line, OneLine(reason)});
}

}  // namespace polmatch::ingest_internal
