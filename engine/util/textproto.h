// File: textproto.h
//
// Reading protobuf text-format files (the rules directory) with positioned errors, and mapping a
// position inside a string field's value back to the file's line and column (so an error in a rule
// expression points into the .textproto where it was written).
#ifndef POLMATCH_UTIL_TEXTPROTO_H_
#define POLMATCH_UTIL_TEXTPROTO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/util/diagnostics.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"

namespace polmatch {

absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Parses `text` (named `file` in messages) into `message`. Syntax errors go to `diags` with
// 1-based positions; returns false if any. `tree`, if given, records field locations. A string
// field whose value is not valid UTF-8 (a raw byte, or an escape such as "\xff") is an error at
// the offending byte's file:line:col: such a value would be cut or garbled in every output.
bool ParseTextProto(const std::string& file, const std::string& text,
                    google::protobuf::Message* message, Diagnostics* diags,
                    google::protobuf::TextFormat::ParseInfoTree* tree = nullptr);

// Where each byte of a string field's (unescaped) value sits in the file.
struct SourceSpan {
  // positions[i] = {line, column} (1-based, column in characters) of value byte i; one more entry
  // for the end of the value.
  std::vector<std::pair<int, int>> positions;
  std::pair<int, int> At(size_t byte) const;
};

// Builds the span of the string literal(s) of a field whose name starts at 0-based
// (line, column) in `text`, as ParseInfoTree reports it. Falls back to pointing every byte at the
// field itself when the literal cannot be followed.
// Linear in the bytes walked (the value and the lines before it).
SourceSpan LocateStringValue(absl::string_view text, int line, int column);

}  // namespace polmatch

#endif  // POLMATCH_UTIL_TEXTPROTO_H_
