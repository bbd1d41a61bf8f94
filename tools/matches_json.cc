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

// Code points protobuf's JSON printer writes as \u escapes although JSON does not require it
// (invisible and format characters); escaping the same ones keeps the direct writer below
// byte-identical to `polmatch query --json`.
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

}  // namespace internal
}  // namespace polmatch::http
