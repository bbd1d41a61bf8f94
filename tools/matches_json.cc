// File: matches_json.cc
#include "tools/matches_json.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace polmatch::http {
namespace internal {

std::string ProtoJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  return out;
}

std::string FirmMatchesJson(const FirmMatches& m) {
  // Written directly: protobuf's JSON converter takes several times as long as the match itself
  // (a 1000-policy catalog answers ~0.9 MB per firm). Should the messages gain fields, this
  // falls back to protobuf rather than leave them out.
  static const bool known_schema = FirmMatches::descriptor()->field_count() == 4 &&
                                   PolicyResult::descriptor()->field_count() == 9 &&
                                   ConditionTrace::descriptor()->field_count() == 5;
  if (!known_schema) return ProtoJson(m);
  const auto string_field = [](const char* name, const std::string& value, std::string* out) {
    absl::StrAppend(out, "\"", name, "\":");
    AppendJsonString(value, out);
  };
  // An enum as its name; a number outside the enum as the number, as protobuf prints it.
  const auto enum_field = [](const char* name, const std::string& value_name, int number,
                             std::string* out) {
    if (value_name.empty()) {
      absl::StrAppend(out, "\"", name, "\":", number);
    } else {
      absl::StrAppend(out, "\"", name, "\":\"", value_name, "\"");
    }
  };
  std::string out;
  out.reserve(256 + static_cast<size_t>(m.results_size()) * 768);
  out.append("{");
  string_field("credit_code", m.credit_code(), &out);
  out.append(",");
  string_field("name", m.name(), &out);
  out.append(",");
  string_field("as_of", m.as_of(), &out);
  out.append(",\"results\":[");
  for (int i = 0; i < m.results_size(); ++i) {
    const PolicyResult& r = m.results(i);
    out.append(i == 0 ? "{" : ",{");
    string_field("policy", r.policy(), &out);
    out.append(",");
    string_field("title", r.title(), &out);
    out.append(",");
    enum_field("status", MatchStatus_Name(r.status()), r.status(), &out);
    out.append(",");
    enum_field("mode", Policy::Mode_Name(r.mode()), r.mode(), &out);
    out.append(",");
    string_field("benefit_yuan", r.benefit_yuan(), &out);
    out.append(",\"conditions\":[");
    for (int j = 0; j < r.conditions_size(); ++j) {
      const ConditionTrace& c = r.conditions(j);
      out.append(j == 0 ? "{" : ",{");
      string_field("text", c.text(), &out);
      out.append(",");
      enum_field("value", ConditionTrace::Value_Name(c.value()), c.value(), &out);
      out.append(",");
      string_field("detail", c.detail(), &out);
      out.append(",");
      string_field("text_zh", c.text_zh(), &out);
      out.append(c.actionable() ? ",\"actionable\":true}" : ",\"actionable\":false}");
    }
    out.append("],");
    string_field("benefit_detail", r.benefit_detail(), &out);
    out.append(",");
    string_field("reason", r.reason(), &out);
    out.append(",");
    string_field("explanation_zh", r.explanation_zh(), &out);
    out.append("}");
  }
  out.append("]}");
  return out;
}

std::string PolicyListJson(absl::string_view as_of, const std::vector<Policy>& policies) {
  json::JsonWriter j;
  j.BeginObject().Key("as_of").String(as_of).Key("policies").BeginArray();
  for (const Policy& p : policies) {
    j.BeginObject();
    j.Key("id").String(p.id());
    j.Key("title").String(p.title());
    j.Key("issuer").String(p.issuer());
    j.Key("mode").String(Policy::Mode_Name(p.mode()));
    j.Key("source").Raw(ProtoJson(p.source()));
    j.EndObject();
  }
  j.EndArray().EndObject();
  return j.Take();
}

}  // namespace internal
}  // namespace polmatch::http
