// File: json_writer.h
//
// JSON encoding, apart from any transport: the one string escaper every answer uses (escaped as
// protobuf's JSON printer escapes, so that a directly written answer is byte-identical to
// `query --json`), and a small streaming writer for the objects written by hand (the HTTP policy
// list and errors, the analysis subcommands' --json output: reserve, simulate, path). Keys come
// in the order written; money and other Decimals are strings (SPEC §4), counts numbers. Compact.
//
// Example:
//   JsonWriter j;
//   j.BeginObject();
//   j.Key("policy").String("shanwei-2021.4.4");
//   j.Key("near_miss").Int(12);
//   j.EndObject();
//   std::cout << j.str() << "\n";       // {"policy":"shanwei-2021.4.4","near_miss":12}
#ifndef POLMATCH_TOOLS_JSON_WRITER_H_
#define POLMATCH_TOOLS_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace polmatch::json {

// `s` as a JSON string (quotes included) appended to *out: escaped as protobuf's JSON printer
// escapes it (`<`, `>` and invisible format characters as \u escapes); invalid UTF-8, which
// protobuf drops, becomes U+FFFD, so the output is always valid JSON.
void AppendJsonString(absl::string_view s, std::string* out);

// {"error": message}: the body of every error answer.
std::string ErrorObject(absl::string_view message);

class JsonWriter {
 public:
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(absl::string_view key);
  JsonWriter& String(absl::string_view s);
  JsonWriter& Int(int64_t v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  // A value that is JSON already (e.g. a protobuf message printed by protobuf).
  JsonWriter& Raw(absl::string_view json);
  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  JsonWriter& Open(char c);
  JsonWriter& Close(char c);
  // A comma before every element but the first of its container (a value after a key needs none).
  void Separate();

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace polmatch::json

namespace polmatch::cli {
using ::polmatch::json::JsonWriter;
}  // namespace polmatch::cli

#endif  // POLMATCH_TOOLS_JSON_WRITER_H_
