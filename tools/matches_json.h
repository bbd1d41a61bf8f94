// File: matches_json.h
//
// The JSON bodies of the firm-facing answers (SPEC §4 `query --json`, SPEC §6), apart from the
// transport that sends them: the HTTP service and the command line share them.
#ifndef POLMATCH_TOOLS_MATCHES_JSON_H_
#define POLMATCH_TOOLS_MATCHES_JSON_H_

#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "polmatch/engine.h"

namespace polmatch::http::internal {

// `m` in protobuf's JSON mapping with preserve_proto_field_names and always_print_primitive_fields.
std::string ProtoJson(const google::protobuf::Message& m);

// Exposed for tests. `s` as a JSON string, escaped as protobuf's JSON printer escapes it (invalid
// UTF-8, which protobuf drops, becomes U+FFFD); and `m` exactly as protobuf prints it with
// preserve_proto_field_names and always_print_primitive_fields, several times faster.
void AppendJsonString(absl::string_view s, std::string* out);
std::string FirmMatchesJson(const FirmMatches& m);

}  // namespace polmatch::http::internal

#endif  // POLMATCH_TOOLS_MATCHES_JSON_H_
