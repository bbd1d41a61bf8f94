// File: json_writer.h
//
// A small streaming JSON writer for the analysis subcommands' --json output (reserve, simulate,
// path): keys in the order written, strings escaped, money and other Decimals as strings
// (SPEC §4), counts as numbers. Compact, one object per run.
//
// Example:
//   JsonWriter j;
//   j.BeginObject();
//   j.Key("policy").String("shanwei-2021.4.4");
//   j.Key("near_miss").Int(12);
//   j.EndObject();
//   std::cout << j.str() << "\n";
#ifndef POLMATCH_TOOLS_JSON_WRITER_H_
#define POLMATCH_TOOLS_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace polmatch::cli {

class JsonWriter {
 public:
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(absl::string_view key) {
    Separate();
    Escaped(key);
    out_.push_back(':');
    after_key_ = true;
    return *this;
  }
  JsonWriter& String(absl::string_view s) {
    Separate();
    Escaped(s);
    return *this;
  }
  JsonWriter& Int(int64_t v) {
    Separate();
    absl::StrAppend(&out_, v);
    return *this;
  }
  JsonWriter& Bool(bool v) {
    Separate();
    out_ += v ? "true" : "false";
    return *this;
  }
  JsonWriter& Null() {
    Separate();
    out_ += "null";
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  JsonWriter& Open(char c) {
    Separate();
    out_.push_back(c);
    first_.push_back(true);
    return *this;
  }
  JsonWriter& Close(char c) {
    out_.push_back(c);
    first_.pop_back();
    return *this;
  }
  // A comma before every element but the first of its container (a value after a key needs none).
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_.push_back(',');
    first_.back() = false;
  }
  void Escaped(absl::string_view s) {
    out_.push_back('"');
    for (unsigned char c : s) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (c < 0x20) {
            out_ += absl::StrFormat("\\u%04x", c);
          } else {
            out_.push_back(static_cast<char>(c));
          }
      }
    }
    out_.push_back('"');
  }

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace polmatch::cli

#endif  // POLMATCH_TOOLS_JSON_WRITER_H_
