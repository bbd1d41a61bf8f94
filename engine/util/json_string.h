// File: json_string.h
//
// JSON string literals for the engine's hand-written JSON (summaries, pushes, ledger exports,
// generated registries): one escaping, RFC 8259's — `"` and `\` escaped, \n \r \t by their short
// forms, the other control characters as \u00XX; every other byte (UTF-8 included) as it is.
//
// Example:
//   std::string line = "{\"name\": ";
//   AppendJsonString("深圳\"一号\"", &line);   // {"name": "深圳\"一号\""
#ifndef POLMATCH_UTIL_JSON_STRING_H_
#define POLMATCH_UTIL_JSON_STRING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace polmatch {

// Appends `s` escaped, without the quotes.
void AppendJsonEscaped(absl::string_view s, std::string* out);
// Appends `s` as a quoted JSON string.
inline void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  AppendJsonEscaped(s, out);
  out->push_back('"');
}
inline std::string JsonString(absl::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

}  // namespace polmatch

#endif  // POLMATCH_UTIL_JSON_STRING_H_
