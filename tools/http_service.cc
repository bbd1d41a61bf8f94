#include "tools/http_service.h"

#include <algorithm>
#include <exception>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/ingest/credit_code.h"
#include "engine/ingest/firm_reader.h"
#include "engine/util/dates.h"
#include "tools/auth_gate.h"
#include "tools/grants_json.h"
#include "tools/json_writer.h"
#include "tools/matches_json.h"

namespace polmatch::http {

// Defined in the file generated from tools/portal/index.html by tools/portal/embed.cmake.
namespace internal {
extern const unsigned char kPortalHtml[];
extern const std::size_t kPortalHtmlSize;
}  // namespace internal

namespace {

int StatusToHttp(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    default:
      return 500;
  }
}

Response FromStatus(const absl::Status& s) { return Response::Error(StatusToHttp(s), s.message()); }

Response Json(std::string body) {
  Response r;
  r.body = std::move(body);
  return r;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::string_view PathOf(absl::string_view target) { return target.substr(0, target.find('?')); }

// The query string's key=value pairs, decoded, in order ("a" alone is a key with an empty value).
std::vector<std::pair<std::string, std::string>> ParseQuery(absl::string_view target) {
  std::vector<std::pair<std::string, std::string>> out;
  const size_t q = target.find('?');
  if (q == absl::string_view::npos) return out;
  for (absl::string_view pair : absl::StrSplit(target.substr(q + 1), '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    out.emplace_back(internal::PercentDecode(pair.substr(0, eq), true),
                     eq == absl::string_view::npos ? "" : internal::PercentDecode(pair.substr(eq + 1), true));
  }
  return out;
}

}  // namespace

namespace internal {

std::vector<absl::string_view> PathSegments(absl::string_view target) {
  absl::string_view path = PathOf(target);
  if (!path.empty() && path[0] == '/') path.remove_prefix(1);
  return absl::StrSplit(path, '/');
}

std::string PercentDecode(absl::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

}  // namespace internal

Response Response::Error(int status, absl::string_view message) {
  Response r;
  r.status = status;
  r.body = json::ErrorObject(message);
  return r;
}

std::optional<absl::CivilDay> Call::AsOf(Response* error) const {
  int count = 0;
  std::string text;
  for (const auto& [key, value] : query_) {
    if (key != "as_of") {
      *error = Response::Error(400, absl::StrCat("unknown query parameter \"", key, "\" (known: as_of)"));
      return std::nullopt;
    }
    ++count;
    text = value;
  }
  if (count > 1) {
    *error = Response::Error(400, "as_of is given more than once");
    return std::nullopt;
  }
  if (text.empty()) return Today();
  absl::StatusOr<absl::CivilDay> day = ParseDate(text);
  if (!day.ok()) {
    *error = Response::Error(400, absl::StrCat("as_of: ", day.status().message()));
    return std::nullopt;
  }
  return *day;
}

bool Call::NoQuery(Response* error) const {
  if (query_.empty()) return true;
  *error = Response::Error(400, absl::StrCat("unknown query parameter \"", query_.front().first, "\""));
  return false;
}

HttpService::HttpService(const Engine& engine, Options options)
    : engine_(engine), options_(std::move(options)) {
  const auto bind = [this](Response (HttpService::*f)(const Call&) const) {
    return [this, f](const Call& call) { return (this->*f)(call); };
  };
  constexpr bool kInline = false, kSlow = true;
  using A = Access;
  // The route table: method, pattern, metrics name, handler, slow (worker pool), who may call it.
  AddRoute("GET", "/healthz", "healthz", bind(&HttpService::Health), kInline, A::kPublic);
  routes_.back().rate_limited = false;
  AddRoute("GET", "/", "portal", bind(&HttpService::Portal), kInline, A::kPublic);
  AddRoute("GET", "/index.html", "portal", bind(&HttpService::Portal), kInline, A::kPublic);
  AddRoute("GET", "/api/v1/firms/{code}/matches", "matches", bind(&HttpService::Matches), kInline, A::kFirmData);
  AddRoute("GET", "/api/v1/firms/{code}/grants", "grants", bind(&HttpService::Grants), kSlow, A::kFirmData);
  AddRoute("GET", "/api/v1/firms/{code}/policies/{id}/explain", "explain", bind(&HttpService::Explain), kInline,
           A::kFirmData);
  // 政策计算器: shows only what the caller typed, no registry data.
  AddRoute("POST", "/api/v1/evaluate", "evaluate", bind(&HttpService::Evaluate), kSlow, A::kPublic);
  AddRoute("GET", "/api/v1/policies", "policies", bind(&HttpService::ListPolicies), kSlow, A::kPublic);
  AddRoute("GET", "/api/v1/policies/{id}", "policy", bind(&HttpService::GetPolicy), kInline, A::kPublic);
}

void HttpService::AddRoute(std::string method, std::string pattern, std::string name,
                           Handler handler, bool slow, Access access) {
  Route route;
  route.method = std::move(method);
  int params = 0;
  for (absl::string_view s : internal::PathSegments(pattern)) {
    if (s == "{code}") route.firm_param = params;
    if (!s.empty() && s.front() == '{') ++params;
    route.segments.emplace_back(s);
  }
  // A firm-data route without {code} could not be authorized per firm: staff only.
  if (access == Access::kFirmData && route.firm_param < 0) access = Access::kStaff;
  route.name = std::move(name);
  route.handler = std::move(handler);
  route.slow = slow;
  route.access = access;
  routes_.push_back(std::move(route));
}

const std::string& HttpService::PortalPage() {
  static const std::string* const page = new std::string(
      reinterpret_cast<const char*>(internal::kPortalHtml), internal::kPortalHtmlSize);
  return *page;
}

const std::string& HttpService::RouteName(int route) const {
  static const std::string* const other = new std::string("other");
  return route >= 0 && static_cast<size_t>(route) < routes_.size() ? routes_[route].name : *other;
}

namespace {

// Whether `segments` fit `route_segments`; the decoded parameters into *params.
bool PathMatches(const std::vector<std::string>& route_segments,
                 const std::vector<absl::string_view>& segments, std::vector<std::string>* params) {
  if (route_segments.size() != segments.size()) return false;
  params->clear();
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& want = route_segments[i];
    if (!want.empty() && want.front() == '{') {
      if (segments[i].empty()) return false;
      params->push_back(internal::PercentDecode(segments[i], false));
    } else if (internal::PercentDecode(segments[i], false) != want) {
      return false;
    }
  }
  return true;
}

}  // namespace

int HttpService::Find(const Request& req) const {
  const absl::string_view method = req.method == "HEAD" ? "GET" : absl::string_view(req.method);
  const std::vector<absl::string_view> segments = internal::PathSegments(req.target);
  std::vector<std::string> params;
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].method == method && PathMatches(routes_[i].segments, segments, &params)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

Response HttpService::Handle(const Request& req, std::optional<int> route) const {
  const int index = route ? *route : Find(req);
  const std::vector<absl::string_view> segments = internal::PathSegments(req.target);
  std::vector<std::string> params;
  if (index >= 0) {
    const Route& r = routes_[index];
    PathMatches(r.segments, segments, &params);
    if (gate_ == nullptr) return Dispatch(r, req, std::move(params));
    const std::string firm = r.firm_param >= 0 ? params[r.firm_param] : std::string();
    Principal who;
    std::optional<Response> refused = gate_->Admit(req, r.access, firm, r.rate_limited, &who);
    Response res = refused ? *std::move(refused) : Dispatch(r, req, std::move(params));
    if (r.access == Access::kFirmData) gate_->Audit(req, who, firm, res.status);
    return res;
  }
  // No route: still counted against the caller's address (a scan of paths is a scan).
  if (gate_ != nullptr) {
    Principal who;
    if (std::optional<Response> refused = gate_->Admit(req, Access::kPublic, "", true, &who)) return *refused;
  }
  // No route for this method: 405 when the path has others, else 404.
  std::vector<std::string> allowed;
  for (const Route& r : routes_) {
    if (!PathMatches(r.segments, segments, &params)) continue;
    if (std::find(allowed.begin(), allowed.end(), r.method) != allowed.end()) continue;
    allowed.push_back(r.method);
    if (r.method == "GET") allowed.push_back("HEAD");
  }
  const std::string path = internal::PercentDecode(PathOf(req.target), false);
  if (allowed.empty()) return Response::Error(404, absl::StrCat("no such endpoint: ", path));
  const std::string allow = absl::StrJoin(allowed, ", ");
  Response res = Response::Error(
      405, absl::StrCat("method ", req.method, " is not allowed on ", path, " (allowed: ", allow, ")"));
  res.headers.emplace_back("Allow", allow);
  return res;
}

Response HttpService::Dispatch(const Route& r, const Request& req, std::vector<std::string> params) const {
  try {
    return r.handler(Call(req, std::move(params), ParseQuery(req.target)));
  } catch (const std::exception& e) {
    return Response::Error(500, absl::StrCat("internal error: ", e.what()));
  } catch (...) {
    return Response::Error(500, "internal error");
  }
}

Response HttpService::Health(const Call& call) const {
  Response res;
  if (!call.NoQuery(&res)) return res;
  res.content_type = "text/plain; charset=utf-8";
  res.body = "ok";
  return res;
}

Response HttpService::Portal(const Call&) const {
  Response res;
  // No external resources: scripts and styles are inline, requests go to this server only.
  res.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                           "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
                           "form-action 'none'; frame-ancestors 'none'");
  res.content_type = "text/html; charset=utf-8";
  res.body = PortalPage();
  return res;
}

Response HttpService::Matches(const Call& call) const {
  Response error;
  std::optional<absl::CivilDay> as_of = call.AsOf(&error);
  if (!as_of) return error;
  absl::StatusOr<FirmMatches> m = engine_.Match(call.Param(0), *as_of);
  if (!m.ok()) return FromStatus(m.status());
  return Json(internal::FirmMatchesJson(*m));
}

// serve --ledger: the firm's grants (404 when no ledger is configured).
Response HttpService::Grants(const Call& call) const {
  Response error;
  if (!call.NoQuery(&error)) return error;
  absl::StatusOr<std::vector<FirmGrant>> grants = engine_.Grants(call.Param(0));
  if (!grants.ok()) {
    return Response::Error(absl::IsFailedPrecondition(grants.status()) ? 404 : StatusToHttp(grants.status()),
                           grants.status().message());
  }
  return Json(internal::FirmGrantsJson(call.Param(0), *grants));
}

Response HttpService::Explain(const Call& call) const {
  Response error;
  std::optional<absl::CivilDay> as_of = call.AsOf(&error);
  if (!as_of) return error;
  const std::string& code = call.Param(0);
  // A malformed code is 400 whether or not the policy exists.
  if (absl::Status valid = ValidateCreditCode(code); !valid.ok()) return Response::Error(400, valid.message());
  absl::StatusOr<PolicyResult> r = engine_.Explain(code, call.Param(1), *as_of);
  if (!r.ok()) return FromStatus(r.status());
  // The `check --json` object: the firm, the date and the one result.
  FirmMatches m;
  m.set_credit_code(code);
  m.set_as_of(FormatDate(*as_of));
  *m.add_results() = std::move(*r);
  return Json(internal::FirmMatchesJson(m));
}

Response HttpService::Evaluate(const Call& call) const {
  Response error;
  std::optional<absl::CivilDay> as_of = call.AsOf(&error);
  if (!as_of) return error;
  if (call.body().find_first_not_of(" \t\r\n") == std::string::npos) {
    return Response::Error(400, "request body is empty: expected a FirmProfile JSON object");
  }
  absl::StatusOr<FirmProfile> profile = ParseFirmJson(call.body());
  if (!profile.ok()) return Response::Error(400, profile.status().message());
  // 政策计算器: a firm that is not registered may have no credit code yet. It is evaluated under
  // a placeholder code of its region, which the answer does not repeat.
  const bool anonymous = profile->credit_code().empty();
  if (anonymous) {
    const std::string& region = profile->region();
    const bool digits = region.size() == 6 && region.find_first_not_of("0123456789") == std::string::npos;
    const std::string first17 = absl::StrCat("91", digits ? region : "000000", "000000000");
    profile->set_credit_code(absl::StrCat(first17, std::string(1, *CreditCodeCheckChar(first17))));
  }
  absl::StatusOr<FirmMatches> m = engine_.Evaluate(*profile, *as_of);
  if (!m.ok()) return FromStatus(m.status());
  if (anonymous) m->clear_credit_code();
  return Json(internal::FirmMatchesJson(*m));
}

Response HttpService::ListPolicies(const Call& call) const {
  Response error;
  std::optional<absl::CivilDay> as_of = call.AsOf(&error);
  if (!as_of) return error;
  return Json(internal::PolicyListJson(FormatDate(*as_of), engine_.PoliciesInForce(*as_of)));
}

Response HttpService::GetPolicy(const Call& call) const {
  Response res;
  if (!call.NoQuery(&res)) return res;
  absl::StatusOr<Policy> p = engine_.GetPolicy(call.Param(0));
  if (!p.ok()) return FromStatus(p.status());
  return Json(internal::ProtoJson(*p));
}

}  // namespace polmatch::http
