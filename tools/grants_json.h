// File: grants_json.h
//
// The JSON body of GET /api/v1/firms/{credit_code}/grants (SPEC §6, §7), apart from the transport
// that sends it: the firm's grants in the ledger and where each stands.
#ifndef POLMATCH_TOOLS_GRANTS_JSON_H_
#define POLMATCH_TOOLS_GRANTS_JSON_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "polmatch/engine.h"

namespace polmatch::http::internal {

// {"credit_code", "grants": [{"id", "policy", "name", "period", "state", "state_zh",
// "amount_yuan", "uncapped_amount_yuan", "publicity_from", "publicity_to",
// "history": [{"date", "state", "note"}]}]} — the fields of `grants list --json` plus the state
// as the firm's page shows it (拟兑现, 公示中, 异议处理中, 待拨付, 已拨付, 已撤销, 已追回).
std::string FirmGrantsJson(absl::string_view credit_code, const std::vector<FirmGrant>& grants);

// The state as a firm reads it.
absl::string_view GrantStateZh(absl::string_view state);

}  // namespace polmatch::http::internal

#endif  // POLMATCH_TOOLS_GRANTS_JSON_H_
