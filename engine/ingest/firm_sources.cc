#include "engine/ingest/firm_sources.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_format.h"

namespace polmatch::ingest_internal {

LineReader::LineReader(std::istream& in, size_t chunk)
    : in_(in), chunk_(std::max<size_t>(chunk, 16)) {}

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
  if (line_number_ == 1 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
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

void IngestTally::Reject(int line, absl::string_view reason) {
  if (stats_ != nullptr) {
    ++stats_->records;
    ++stats_->rejected;
  }
  if (rejects_ != nullptr) rejects_->push_back(Rejection{file_, line, OneLine(reason)});
}

}  // namespace polmatch::ingest_internal
