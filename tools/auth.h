// File: auth.h
//
// Who may see a firm's data through the HTTP service (`polmatch serve --auth FILE`): three kinds
// of caller, a decision per request, per-caller rate limits and an access audit trail. The
// embedded library knows nothing of this: authorization is the service's (a portal that embeds
// `polmatch::Engine` decides for itself whom it answers).
//
//   public   no credential: the portal page, /healthz, the policies, the 政策计算器 (POST
//            /api/v1/evaluate shows only what the caller typed) — never registry data;
//   firm     `Authorization: Bearer <JWT>` (or the `polmatch_token` cookie) signed HS256 by the
//            portal's login, `sub` = the firm's credit code: its own matches, explanations and
//            grants; 403 for any other firm;
//   staff    `Authorization: ApiKey <key>` (or `X-API-Key: <key>`), a key whose SHA-256 is in the
//   admin    auth file with its role: any firm; ADMIN also /metrics and reloads.
//
// A credential that is present but bad (malformed, tampered, expired, not yet valid, wrong issuer
// or audience, unknown or revoked key) is an error saying which — never silently public. Keys and
// tokens never appear in messages or logs.
//
// Example:
//   ASSIGN_OR_RETURN(Authenticator auth, Authenticator::LoadFile("auth.json"));
//   absl::StatusOr<Principal> who = auth.Authenticate({.authorization = header}, absl::Now());
//   if (!who.ok()) → 401 with who.status().message()
//   absl::Status may = Authorize(*who, Access::kFirmData, code);   // 401 / 403 / OK
#ifndef POLMATCH_TOOLS_AUTH_H_
#define POLMATCH_TOOLS_AUTH_H_

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/auth.pb.h"

namespace polmatch::http {

enum class CallerKind { kPublic, kFirm, kStaff, kAdmin };

struct Principal {
  CallerKind kind = CallerKind::kPublic;
  std::string id;  // firm: its credit code; staff/admin: the key's id; public: ""
  int key_index = -1;  // staff/admin: the key's index in AuthConfig.api_key
  // "public", "firm", "staff" or "admin".
  absl::string_view role() const;
};

// The credential-bearing parts of a request, as received (any may be empty).
struct Credentials {
  absl::string_view authorization;  // the Authorization header
  absl::string_view api_key;        // the X-API-Key header
  absl::string_view cookie;         // the Cookie header (a `polmatch_token=` pair is a firm token)
};

// The reverse proxies whose X-Forwarded-For is believed (AuthConfig.trusted_proxies).
class TrustedProxies {
 public:
  // Each entry an address or CIDR ("10.0.0.0/8", "2001:db8::/32"); an error names the bad one.
  static absl::StatusOr<TrustedProxies> Parse(const google::protobuf::RepeatedPtrField<std::string>& cidrs);
  bool empty() const { return nets_.empty(); }
  // Whether `address` (textual IPv4 or IPv6; IPv4-mapped IPv6 counts as IPv4) is in a listed net.
  bool Contains(absl::string_view address) const;
  // The client's address of a request from TCP peer `peer` carrying `forwarded_for` (the
  // X-Forwarded-For field, repeated fields joined by ","): `peer` unless it is a trusted proxy;
  // then, walking the header from the right, the first address that is not a trusted proxy. A
  // malformed entry (or more than 32 hops, or an entry over 64 bytes) ends the walk and is never
  // used: the last trusted hop is the client then. The result is canonical (inet_ntop).
  std::string ClientAddress(absl::string_view peer, absl::string_view forwarded_for) const;

 private:
  struct Net {
    unsigned char bytes[16];  // IPv4 as IPv4-mapped IPv6
    int prefix;               // of 128
  };
  std::vector<Net> nets_;
};

// Immutable after construction; safe to share between threads.
class Authenticator {
 public:
  // Reads the auth file: JSON (protobuf's mapping of AuthConfig) when it starts with '{', else
  // the protobuf text format. Errors name the file.
  static absl::StatusOr<Authenticator> LoadFile(const std::filesystem::path& path);
  // `base_dir` resolves a relative hs256_key_file.
  static absl::StatusOr<Authenticator> FromConfig(const AuthConfig& config,
                                                  const std::filesystem::path& base_dir);

  // The caller behind `c`: public when no credential is presented; Unauthenticated with the
  // reason ("malformed token", "bad signature", "token expired", "wrong audience", "unknown key",
  // "revoked key", …) when one is presented and is not good at `now`.
  absl::StatusOr<Principal> Authenticate(const Credentials& c, absl::Time now) const;

  // A firm token signed with the configured key (for tests, demos and `polmatch auth token`; a
  // real portal signs with its own JWT library).
  absl::StatusOr<std::string> IssueFirmToken(absl::string_view credit_code, absl::Time issued,
                                             absl::Duration lifetime) const;

  const AuthConfig& config() const { return config_; }
  const TrustedProxies& trusted_proxies() const { return trusted_proxies_; }

 private:
  absl::StatusOr<Principal> VerifyToken(absl::string_view token, absl::Time now) const;
  // The times of a good token into the out-parameters (any may be null; nbf 0 when absent).
  absl::StatusOr<Principal> VerifyTokenUncached(absl::string_view token, absl::Time now,
                                                int64_t* iat = nullptr, int64_t* exp = nullptr,
                                                int64_t* nbf = nullptr) const;
  absl::StatusOr<Principal> VerifyKey(absl::string_view key) const;

  // Tokens verified already, by the SHA-256 of the token (a lookup reveals nothing about a token
  // by its timing): a firm's browser sends the same token with every request, and parsing its
  // JSON again each time would cost more than the match. Each hit rechecks the times.
  struct TokenCache;
  std::shared_ptr<TokenCache> token_cache_;

  AuthConfig config_;
  TrustedProxies trusted_proxies_;
  std::string hs256_key_;
  absl::flat_hash_map<std::string, int> key_by_hash_;  // sha256 hex → index in config_.api_key()
};

// What a request touches (each route of the HTTP service declares one).
enum class Access {
  kPublic,    // no registry data: anyone
  kFirmData,  // one firm's data (`firm_code`): that firm's token, or any staff/admin key
  kStaff,     // registry data across firms: a STAFF or ADMIN key
  kAdmin,     // /metrics, reloads: an ADMIN key
};

// OK, Unauthenticated (no credential: reason "missing") or PermissionDenied (a firm asking for
// another firm or a staff endpoint, staff asking for an admin one: reason "forbidden").
absl::Status Authorize(const Principal& who, Access access, absl::string_view firm_code);

// The machine-readable reason of a refusal by Authenticate or Authorize: one of
// kAuthFailureReasons ("" for OK). The JSON error's "reason" and the /metrics label.
inline constexpr absl::string_view kAuthFailureReasons[] = {
    "missing",        "malformed_token",   "bad_signature", "unsupported_alg",
    "expired",        "not_yet_valid",     "wrong_issuer",  "wrong_audience",
    "lifetime_too_long", "bad_subject",    "unknown_key",   "revoked_key",
    "malformed_key",  "unsupported_scheme", "tokens_not_configured", "forbidden"};
absl::string_view AuthFailureReason(const absl::Status& status);

// A rate limit of the auth file, defaults applied: per_principal absent → 600/min burst 100,
// per_address absent → 1200/min burst 200; present with per_minute 0 → unlimited.
struct RateLimitSettings {
  int per_minute = 0;
  int burst = 0;
  static RateLimitSettings Of(const AuthConfig& config, bool per_address);
  // API key `index`: its own rate_limit, else per_staff_key/per_admin_key by its role, else
  // nullopt (the per_principal bucket applies).
  static std::optional<RateLimitSettings> ForKey(const AuthConfig& config, int index);
};

// Token buckets keyed by principal or client address. Thread-safe. Memory is bounded: beyond
// `max_keys`, buckets that have refilled completely are dropped (they hold no information).
class RateLimiter {
 public:
  // per_minute 0 = unlimited.
  RateLimiter(int per_minute, int burst, size_t max_keys = 100000);
  // True if `key` may make one more request at `now_seconds` (any monotonic clock); otherwise
  // false, with the whole seconds until it may in `*retry_after`.
  bool Allow(absl::string_view key, double now_seconds, int* retry_after);
  bool unlimited() const { return per_second_ <= 0; }

 private:
  struct Bucket {
    double tokens;
    double at;
  };
  static constexpr int kShards = 16;
  struct Shard {
    std::mutex mu;
    absl::flat_hash_map<std::string, Bucket> buckets;
  };
  double per_second_, burst_;
  size_t max_keys_per_shard_;
  Shard shards_[kShards];
};

// One read of a firm's data (or a refused attempt), as the audit trail keeps it.
struct AuditEntry {
  absl::Time time;
  std::string principal;  // key id, firm code, or "" for public
  std::string role;       // Principal::role()
  std::string client;     // the client's address
  std::string firm;       // the firm whose data was asked for
  std::string method, endpoint;
  int status = 0;
};

// The access audit trail: JSON Lines (`{"time","principal","role","client","firm","method",
// "endpoint","status"}`), appended and flushed per entry; when the file passes `max_bytes` it is
// renamed to FILE.1 (FILE.1 to FILE.2, …, up to `keep` files) and a new one started. Thread-safe.
class AuditLog {
 public:
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(const std::filesystem::path& path,
                                                        uint64_t max_bytes, int keep);
  absl::Status Record(const AuditEntry& entry);

 private:
  AuditLog(std::filesystem::path path, uint64_t max_bytes, int keep)
      : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep) {}
  absl::Status Rotate();

  std::mutex mu_;
  std::filesystem::path path_;
  uint64_t max_bytes_;
  int keep_;
  std::ofstream out_;
  uint64_t size_ = 0;
};

std::string AuditLine(const AuditEntry& entry);

// The entries of one audit file that match (empty filter = any), in file order, as lines.
// Malformed lines are skipped and counted in `*malformed`.
struct AuditFilter {
  std::string firm, principal;
};
absl::Status FilterAuditFile(const std::filesystem::path& path, const AuditFilter& filter,
                             std::vector<std::string>* lines, int* malformed);

namespace internal {
// Exposed for tests.
std::string Sha256Hex(absl::string_view bytes);
std::string HmacSha256(absl::string_view key, absl::string_view data);
std::string Base64UrlEncode(absl::string_view bytes);
absl::StatusOr<std::string> Base64UrlDecode(absl::string_view text);
}  // namespace internal

}  // namespace polmatch::http

#endif  // POLMATCH_TOOLS_AUTH_H_
