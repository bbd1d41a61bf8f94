// File: auth_gate.cc
#include "tools/auth_gate.h"

#include <algorithm>
#include <chrono>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tools/json_writer.h"

namespace polmatch::http {
namespace {

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The decoded path of a request target, for the audit trail (the query is left out: it holds
// only as_of, and a client could put anything there).
std::string EndpointOf(absl::string_view target) {
  const absl::string_view path = target.substr(0, std::min(target.find('?'), size_t{512}));
  return internal::PercentDecode(path, false);
}

}  // namespace

AccessGate::AccessGate(Options options)
    : options_(options),
      by_principal_(options.per_principal.per_minute, options.per_principal.burst),
      by_address_(options.per_address.per_minute, options.per_address.burst) {
  if (options_.auth == nullptr) return;
  const AuthConfig& config = options_.auth->config();
  for (int i = 0; i < config.api_key_size(); ++i) {
    const std::optional<RateLimitSettings> own = RateLimitSettings::ForKey(config, i);
    by_key_.push_back(own ? std::make_unique<RateLimiter>(own->per_minute, own->burst) : nullptr);
  }
}

std::string AccessGate::ClientOf(const Request& req) const {
  if (options_.auth == nullptr || options_.auth->trusted_proxies().empty()) return req.client;
  return options_.auth->trusted_proxies().ClientAddress(req.client, req.forwarded_for);
}

Response AccessGate::Refuse(int status, const absl::Status& why, bool token_scheme) {
  const absl::string_view reason = AuthFailureReason(why);
  for (size_t i = 0; i < kNumReasons; ++i) {
    if (kAuthFailureReasons[i] == reason) failures_[i].fetch_add(1, std::memory_order_relaxed);
  }
  json::JsonWriter j;
  j.BeginObject().Key("error").String(why.message()).Key("reason").String(reason).EndObject();
  Response res;
  res.status = status;
  res.body = j.Take();
  if (status == 401) {
    // RFC 6750 §3: which scheme, and for a bad token that it is the token.
    res.headers.emplace_back("WWW-Authenticate", reason == "missing" || !token_scheme
                                                     ? "Bearer realm=\"polmatch\""
                                                     : "Bearer realm=\"polmatch\", error=\"invalid_token\"");
  }
  return res;
}

Response AccessGate::TooMany(int retry_after, absl::string_view kind) {
  (kind == "address" ? limited_address_ : limited_principal_).fetch_add(1, std::memory_order_relaxed);
  json::JsonWriter j;
  j.BeginObject()
      .Key("error")
      .String(absl::StrCat("请求过于频繁,请", retry_after, "秒后再试 (rate limited per ", kind, ": retry after ",
                           retry_after, " s)"))
      .Key("reason")
      .String("rate_limited")
      .EndObject();
  Response res;
  res.status = 429;
  res.body = j.Take();
  res.headers.emplace_back("Retry-After", absl::StrCat(retry_after));
  return res;
}

std::optional<Response> AccessGate::Admit(const Request& req, Access access, absl::string_view firm,
                                          bool rate_limited, Principal* who) {
  *who = Principal{};
  const double now = MonotonicSeconds();
  int retry_after = 0;
  if (rate_limited && !by_address_.unlimited() && !by_address_.Allow(ClientOf(req), now, &retry_after)) {
    return TooMany(retry_after, "address");
  }
  if (options_.auth == nullptr || access == Access::kPublic) return std::nullopt;
  absl::StatusOr<Principal> p =
      options_.auth->Authenticate(Credentials{req.authorization, req.api_key, req.cookie}, absl::Now());
  if (!p.ok()) {
    const bool token_scheme = req.api_key.empty() && !absl::StartsWithIgnoreCase(req.authorization, "apikey");
    return Refuse(401, p.status(), token_scheme);
  }
  *who = *std::move(p);
  RateLimiter& bucket = who->key_index >= 0 && static_cast<size_t>(who->key_index) < by_key_.size() &&
                                by_key_[who->key_index] != nullptr
                            ? *by_key_[who->key_index]
                            : by_principal_;
  if (who->kind != CallerKind::kPublic && rate_limited && !bucket.unlimited() &&
      !bucket.Allow(absl::StrCat(who->role(), ":", who->id), now, &retry_after)) {
    return TooMany(retry_after, "principal");
  }
  if (absl::Status may = Authorize(*who, access, firm); !may.ok()) {
    return Refuse(absl::IsUnauthenticated(may) ? 401 : 403, may, true);
  }
  return std::nullopt;
}

void AccessGate::Audit(const Request& req, const Principal& who, absl::string_view firm, int status) {
  if (options_.audit == nullptr) return;
  AuditEntry e;
  e.time = absl::Now();
  e.principal = who.id;
  e.role = std::string(who.role());
  e.client = ClientOf(req);
  e.firm = std::string(firm);
  e.method = req.method;
  e.endpoint = EndpointOf(req.target);
  e.status = status;
  audited_.fetch_add(1, std::memory_order_relaxed);
  if (absl::Status s = options_.audit->Record(e); !s.ok()) {
    // Counted and said once in a while; the answer is not withheld (the access log has the line).
    if (audit_failures_.fetch_add(1, std::memory_order_relaxed) % 1000 == 0) {
      std::cerr << "polmatch serve: " << s.message() << std::endl;
    }
  }
}

void AccessGate::AppendMetrics(std::string* out) const {
  const auto family = [out](absl::string_view name, absl::string_view help) {
    absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " counter\n");
  };
  family("polmatch_http_auth_failures_total", "Requests refused 401 or 403, by reason.");
  for (size_t i = 0; i < kNumReasons; ++i) {
    absl::StrAppend(out, "polmatch_http_auth_failures_total{reason=\"", kAuthFailureReasons[i], "\"} ",
                    failures_[i].load(std::memory_order_relaxed), "\n");
  }
  family("polmatch_http_rate_limited_total", "Requests refused 429, by the bucket that was empty.");
  absl::StrAppend(out, "polmatch_http_rate_limited_total{kind=\"address\"} ", limited_address_.load(), "\n",
                  "polmatch_http_rate_limited_total{kind=\"principal\"} ", limited_principal_.load(), "\n");
  family("polmatch_http_audit_entries_total", "Requests for a firm's data written to the audit trail.");
  absl::StrAppend(out, "polmatch_http_audit_entries_total ", audited_.load(), "\n");
  family("polmatch_http_audit_failures_total", "Audit entries that could not be written.");
  absl::StrAppend(out, "polmatch_http_audit_failures_total ", audit_failures_.load(), "\n");
}

}  // namespace polmatch::http
