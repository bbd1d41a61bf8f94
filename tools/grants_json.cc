#include "tools/grants_json.h"

#include "absl/strings/str_cat.h"
#include "tools/matches_json.h"

namespace polmatch::http::internal {

absl::string_view GrantStateZh(absl::string_view state) {
  if (state == "PROPOSED") return "拟兑现";
  if (state == "PUBLISHED") return "公示中";
  if (state == "OBJECTED") return "异议处理中";
  if (state == "APPROVED") return "待拨付";
  if (state == "PAID") return "已拨付";
  if (state == "WITHDRAWN") return "已撤销";
  if (state == "RECOVERED") return "已追回";
  return state;
}

std::string FirmGrantsJson(absl::string_view credit_code, const std::vector<FirmGrant>& grants) {
  std::string out = "{\"credit_code\":";
  AppendJsonString(credit_code, &out);
  out += ",\"grants\":[";
  auto field = [&out](const char* name, absl::string_view value, bool first = false) {
    absl::StrAppend(&out, first ? "\"" : ",\"", name, "\":");
    AppendJsonString(value, &out);
  };
  for (size_t i = 0; i < grants.size(); ++i) {
    const FirmGrant& g = grants[i];
    out += i == 0 ? "{" : ",{";
    field("id", g.id, true);
    field("policy", g.policy);
    field("name", g.name);
    field("period", g.period);
    field("state", g.state);
    field("state_zh", GrantStateZh(g.state));
    field("amount_yuan", g.amount_yuan);
    field("uncapped_amount_yuan", g.uncapped_amount_yuan);
    field("publicity_from", g.publicity_from);
    field("publicity_to", g.publicity_to);
    out += ",\"history\":[";
    for (size_t j = 0; j < g.history.size(); ++j) {
      out += j == 0 ? "{" : ",{";
      field("date", g.history[j].date, true);
      field("state", g.history[j].state);
      field("note", g.history[j].note);
      out += "}";
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace polmatch::http::internal
