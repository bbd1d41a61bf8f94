// File: matches_json.h
//
// The JSON bodies of the firm-facing answers (SPEC §4 `query --json`, SPEC §6), apart from the
// transport that sends them: the HTTP service and the command line share them.
#ifndef POLMATCH_TOOLS_MATCHES_JSON_H_
#define POLMATCH_TOOLS_MATCHES_JSON_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "polmatch/engine.h"
#include "tools/json_writer.h"

namespace polmatch::http::internal {

// `m` in protobuf's JSON mapping with preserve_proto_field_names and always_print_primitive_fields.
std::string ProtoJson(const google::protobuf::Message& m);

// The string escaper lives with the JSON writer (tools/json_writer.h).
using ::polmatch::json::AppendJsonString;

// `m` exactly as protobuf prints it with preserve_proto_field_names and
// always_print_primitive_fields, several times faster.
std::string FirmMatchesJson(const FirmMatches& m);

// GET /api/v1/policies: {"as_of": "…", "policies": [{"id", "title", "issuer", "mode",
// "source": {…}}]}, in the order given.
std::string PolicyListJson(absl::string_view as_of, const std::vector<Policy>& policies);

}  // namespace polmatch::http::internal

#endif  // POLMATCH_TOOLS_MATCHES_JSON_H_
