// File: json_writer.cc
#include "tools/json_writer.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace polmatch::json {
namespace {

// Code points protobuf's JSON printer writes as \u escapes although JSON does not require it
// (invisible and format characters); escaping the same ones keeps the answers written directly
// (tools/matches_json.cc) byte-identical to `polmatch query --json`.
bool EscapedLikeProtobuf(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0xad || (cp >= 0x600 && cp <= 0x603) || cp == 0x6dd ||
         cp == 0x70f || cp == 0x17b4 || cp == 0x17b5 || (cp >= 0x200b && cp <= 0x200f) ||
         (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2064) ||
         (cp >= 0x206a && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
         (cp >= 0x1d173 && cp <= 0x1d17a) || cp == 0xe0001 || (cp >= 0xe0020 && cp <= 0xe007f);
}

void AppendUnicodeEscape(uint32_t unit, std::string* out) {
  absl::StrAppend(out, "\\u", absl::Hex(unit, absl::kZeroPad4));
}


}  // namespace

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out->append("\\\""); break;
        case '\\': out->append("\\\\"); break;
        case '\b': out->append("\\b"); break;
        case '\f': out->append("\\f"); break;
        case '\n': out->append("\\n"); break;
        case '\r': out->append("\\r"); break;
        case '\t': out->append("\\t"); break;
        case '<': case '>': case 0x7f: AppendUnicodeEscape(c, out); break;
        default:
          if (c < 0x20) {
            AppendUnicodeEscape(c, out);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // A well-formed multi-byte sequence: no overlongs, no surrogates, at most U+10FFFF.
    const int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    bool ok = len > 0 && c <= 0xf4 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (ok && len >= 3) {
      const unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0) && !(c == 0xf0 && c1 < 0x90) &&
           !(c == 0xf4 && c1 >= 0x90);
    }
    if (!ok) {
      out->append("\xef\xbf\xbd");  // U+FFFD
      ++i;
      continue;
    }
    uint32_t cp = c & (0xff >> (len + 1));
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    if (!EscapedLikeProtobuf(cp)) {
      out->append(s.data() + i, len);
    } else if (cp < 0x10000) {
      AppendUnicodeEscape(cp, out);
    } else {
      AppendUnicodeEscape(0xd800 + ((cp - 0x10000) >> 10), out);
      AppendUnicodeEscape(0xdc00 + ((cp - 0x10000) & 0x3ff), out);
    }
    i += len;
  }
  out->push_back('"');
}

std::string ErrorObject(absl::string_view message) {
  std::string out = "{\"error\":";
  AppendJsonString(message, &out);
  out.push_back('}');
  return out;
}

JsonWriter& JsonWriter::Key(absl::string_view key) {
  Separate();
  AppendJsonString(key, &out_);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(absl::string_view s) {
  Separate();
  AppendJsonString(s, &out_);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t v) {
  Separate();
  absl::StrAppend(&out_, v);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool v) {
  Separate();
  out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::Null() {
  Separate();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::Raw(absl::string_view json) {
  Separate();
  out_.append(json.data(), json.size());
  return *this;
}

JsonWriter& JsonWriter::Open(char c) {
  Separate();
  out_.push_back(c);
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::Close(char c) {
  out_.push_back(c);
  first_.pop_back();
  return *this;
}

void JsonWriter::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (first_.empty()) return;
  if (!first_.back()) out_.push_back(',');
  first_.back() = false;
}

}  // namespace polmatch::json
