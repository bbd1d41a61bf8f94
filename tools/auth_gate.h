// File: auth_gate.h
//
// The HTTP service's gate (serve --auth FILE, --audit-log FILE): before a route's handler runs,
// its caller is rate-limited by address, authenticated, rate-limited as a principal and
// authorized for the route's Access; after it, every request for a firm's data is written to
// the access audit trail. HttpService calls it (HttpService::SetGate); the embedded library never
// does: a portal embedding polmatch::Engine does all of this itself (engine/README.md).
//
//   per-address bucket empty                       429 + Retry-After   reason "rate_limited"
//   credential present but bad                     401 + WWW-Authenticate, reason (auth.h)
//   per-principal bucket empty                     429 + Retry-After
//   no credential for a firm/staff/admin route     401  reason "missing"
//   another firm's data, a staff/admin route       403  reason "forbidden"
// Refusals are {"error": "中文 (English)", "reason": "…"}; neither a key nor a token is ever
// echoed. Public routes do not look at credentials at all (an expired cookie still loads the
// portal page), and /healthz is not rate-limited.
//
// Example:
//   AccessGate gate({.auth = &authenticator, .audit = audit.get(), .per_principal = {600, 100}});
//   service.SetGate(&gate);
#ifndef POLMATCH_TOOLS_AUTH_GATE_H_
#define POLMATCH_TOOLS_AUTH_GATE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "tools/auth.h"
#include "tools/http_service.h"

namespace polmatch::http {

class AccessGate {
 public:
  struct Options {
    // nullptr: no authentication, every route answers everyone (the loopback-only default);
    // the audit trail and rate limits still apply when given.
    const Authenticator* auth = nullptr;
    AuditLog* audit = nullptr;  // nullptr: no audit trail
    RateLimitSettings per_principal;  // per_minute 0: unlimited
    RateLimitSettings per_address;
  };

  explicit AccessGate(Options options);
  AccessGate(const AccessGate&) = delete;
  AccessGate& operator=(const AccessGate&) = delete;

  // Decides a request to a route of `access` (for kFirmData, `firm` is the firm it reads).
  // nullopt to go ahead, with the caller in *who; otherwise the refusal to send.
  std::optional<Response> Admit(const Request& req, Access access, absl::string_view firm, bool rate_limited,
                                Principal* who);
  // Records one request for a firm's data (answered or refused) in the audit trail.
  void Audit(const Request& req, const Principal& who, absl::string_view firm, int status);

  // The gate's counters in the Prometheus text format (appended to /metrics).
  void AppendMetrics(std::string* out) const;

  bool authenticating() const { return options_.auth != nullptr; }

 private:
  // The client's address: the peer, or from X-Forwarded-For when the peer is a trusted proxy.
  std::string ClientOf(const Request& req) const;

  Response Refuse(int status, const absl::Status& why, bool token_scheme);
  Response TooMany(int retry_after, absl::string_view kind);

  const Options options_;
  RateLimiter by_principal_, by_address_;
  // By API key index: the key's own bucket (rate_limit, per_staff_key, per_admin_key), or null.
  std::vector<std::unique_ptr<RateLimiter>> by_key_;
  static constexpr size_t kNumReasons = sizeof(kAuthFailureReasons) / sizeof(kAuthFailureReasons[0]);
  std::array<std::atomic<uint64_t>, kNumReasons> failures_{};
  std::atomic<uint64_t> limited_principal_{0}, limited_address_{0}, audited_{0}, audit_failures_{0};
};

}  // namespace polmatch::http

#endif  // POLMATCH_TOOLS_AUTH_GATE_H_
