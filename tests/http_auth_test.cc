// Who may see a firm's data (serve --auth, tools/auth_gate.h): every kind of caller and every
// refusal over a real loopback server; the access audit trail; rate limits; /metrics counters;
// and `polmatch serve` as a process: the loopback-only default, --insecure-open, the audit file
// that `polmatch audit` filters.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/http_test_client.h"
#include "tests/http_test_fixture.h"
#include "tests/test_util.h"
#include "tools/auth.h"
#include "tools/auth_gate.h"
#include "tools/http_server.h"
#include "tools/http_service.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::HttpResult;
using testing::RawConnection;
using testing::ReadFile;
using testing::SpawnPolmatch;
using testing::WaitExit;
using testing::WaitForText;

constexpr char kKeyBase64[] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";  // 32 bytes
constexpr char kStaffKey[] = "staff-key-3f9a1c0e7b";
constexpr char kAdminKey[] = "admin-key-77d0e1b2a4";
constexpr char kRevokedKey[] = "revoked-key-0a0b0c0d";

AuthConfig Config() {
  AuthConfig c;
  c.mutable_firm_tokens()->set_issuer("https://login.example.gov.cn");
  c.mutable_firm_tokens()->set_audience("polmatch");
  c.mutable_firm_tokens()->set_hs256_key_base64(kKeyBase64);
  const auto key = [&c](const char* id, const char* key, AuthConfig::Role role, bool revoked) {
    AuthConfig::ApiKey* k = c.add_api_key();
    k->set_id(id);
    k->set_sha256_hex(http::internal::Sha256Hex(key));
    k->set_role(role);
    k->set_revoked(revoked);
  };
  key("bureau-staff", kStaffKey, AuthConfig::STAFF, false);
  key("ops", kAdminKey, AuthConfig::ADMIN, false);
  key("old-backend", kRevokedKey, AuthConfig::STAFF, true);
  return c;
}

// A field of a JSON object body ("" if absent or the body is not JSON).
std::string Field(const std::string& body, const std::string& name) {
  google::protobuf::Struct s;
  if (!google::protobuf::util::JsonStringToMessage(body, &s).ok()) return "";
  auto it = s.fields().find(name);
  return it == s.fields().end() ? "" : it->second.string_value();
}

// A small registry: three firms, one policy.
constexpr char kPolicies[] =
    "policy { id: \"grant\" title: \"高企奖励\" issuer: \"某市科技局\" source { document: \"某市办法\" } "
    "mode: AUTO_GRANT eligibility: \"qual.hitech\" benefit: \"10万\" }\n";
class Registry : public testing::TestRegistry {
 public:
  Registry() : TestRegistry("http_auth", kPolicies, 10000000) {}
};

class HttpAuthTest : public ::testing::Test {
 protected:
  // Serves the registry behind a gate with `config` (and an audit trail) on a loopback port.
  void Start(const AuthConfig& config, bool with_auth = true) {
    absl::StatusOr<http::Authenticator> auth = http::Authenticator::FromConfig(config, registry_.root());
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = std::make_unique<http::Authenticator>(*std::move(auth));
    audit_path_ = registry_.root() / "audit.jsonl";
    absl::StatusOr<std::unique_ptr<http::AuditLog>> audit = http::AuditLog::Open(audit_path_, 1 << 20, 3);
    ASSERT_TRUE(audit.ok()) << audit.status();
    audit_ = *std::move(audit);
    http::AccessGate::Options g;
    g.auth = with_auth ? auth_.get() : nullptr;
    g.audit = audit_.get();
    g.per_principal = http::RateLimitSettings::Of(config, false);
    g.per_address = http::RateLimitSettings::Of(config, true);
    gate_ = std::make_unique<http::AccessGate>(g);
    EngineOptions o;
    o.rules_dir = registry_.rules;
    o.snapshot_path = registry_.snapshot;
    const absl::Status started =
        served_.Start(o, {}, [this](http::HttpService& service) { service.SetGate(gate_.get()); });
    ASSERT_TRUE(started.ok()) << started;
  }
  void TearDown() override { served_.server.reset(); }

  // One request with the given extra header lines ("Name: value\r\n" each).
  HttpResult Get(const std::string& path, const std::string& headers = "") const {
    RawConnection c;
    if (!c.Connect(served_.port)) return HttpResult::Failed("cannot connect");
    c.Send("GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + headers + "\r\n");
    return c.Read();
  }
  std::string Token(const std::string& code, absl::Time issued = absl::Now(),
                    absl::Duration life = absl::Hours(1)) const {
    absl::StatusOr<std::string> t = auth_->IssueFirmToken(code, issued, life);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : "";
  }
  static std::string Bearer(const std::string& token) { return "Authorization: Bearer " + token + "\r\n"; }
  std::string Matches(const std::string& code) const {
    return "/api/v1/firms/" + code + "/matches?as_of=2023-06-30";
  }
  // A 401 whose JSON error names `reason`.
  void Expect401(const HttpResult& r, const std::string& reason) const {
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, 401) << r->body;
    EXPECT_EQ(Field(r->body, "reason"), reason) << r->body;
    EXPECT_FALSE(Field(r->body, "error").empty()) << r->body;
    EXPECT_THAT(r->get_header_value("WWW-Authenticate"), HasSubstr("Bearer realm=\"polmatch\""));
  }
  std::vector<std::string> AuditLines() const {
    std::ifstream in(audit_path_);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  }

  Registry registry_;
  std::unique_ptr<http::Authenticator> auth_;
  std::unique_ptr<http::AuditLog> audit_;
  fs::path audit_path_;
  std::unique_ptr<http::AccessGate> gate_;
  testing::LoopbackServer served_;  // declared after the gate it uses: stopped first
};

// Public endpoints answer without any credential, and do not even look at a bad one.
TEST_F(HttpAuthTest, PublicEndpointsNeedNoCredentials) {
  Start(Config());
  for (const char* path : {"/", "/healthz", "/api/v1/policies?as_of=2023-06-30", "/api/v1/policies/grant"}) {
    for (const std::string& headers : {std::string(), Bearer("garbage"), std::string("Cookie: polmatch_token=x\r\n")}) {
      HttpResult r = Get(path, headers);
      ASSERT_TRUE(r) << r.error();
      EXPECT_EQ(r->status, 200) << path << " " << headers << r->body;
    }
  }
  RawConnection c;
  ASSERT_TRUE(c.Connect(served_.port));
  const std::string body = R"({"region": "441502", "tags": [{"id": "qual.hitech"}]})";
  c.Send("POST /api/v1/evaluate?as_of=2023-06-30 HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  HttpResult r = c.Read();
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_THAT(r->body, HasSubstr("\"grant\""));
  EXPECT_TRUE(AuditLines().empty()) << "public routes are not firm data";
}

TEST_F(HttpAuthTest, FirmTokenSeesItsOwnFirmOnly) {
  Start(Config());
  const std::string own = registry_.codes[0], other = registry_.codes[1];
  const std::string token = Token(own);
  HttpResult r = Get(Matches(own), Bearer(token));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_THAT(r->body, HasSubstr(own));
  // The same answer as without a gate: the authorised caller's bytes are unchanged.
  http::HttpService open(*served_.engine);
  EXPECT_EQ(r->body, open.Handle({"GET", Matches(own), ""}).body);
  // The explanation too, and the token as the portal's cookie, and a lower-case header name.
  r = Get("/api/v1/firms/" + own + "/policies/grant/explain?as_of=2023-06-30", "authorization: bearer " + token + "\r\n");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200) << r->body;
  r = Get(Matches(own), "Cookie: theme=dark; polmatch_token=" + token + "\r\n");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200) << r->body;
  // Another firm: 403, whichever route; the other firm's data is not in the answer.
  for (const std::string& path : {Matches(other), "/api/v1/firms/" + other + "/policies/grant/explain",
                                  "/api/v1/firms/" + other + "/grants"}) {
    r = Get(path, Bearer(token));
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, 403) << path << r->body;
    EXPECT_EQ(Field(r->body, "reason"), "forbidden");
    EXPECT_THAT(r->body, Not(HasSubstr("10000001")));
  }
  // A firm token is not a staff key: /metrics is refused.
  r = Get("/metrics", Bearer(token));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 403) << r->body;
}

TEST_F(HttpAuthTest, EachBadCredentialIs401WithItsReason) {
  Start(Config());
  const std::string code = registry_.codes[0];
  // No credential.
  Expect401(Get(Matches(code)), "missing");
  // A tampered token: the claims of another firm under the first firm's signature.
  const std::string good = Token(code);
  const std::vector<std::string> parts = absl::StrSplit(good, '.');
  const std::string forged_claims = http::internal::Base64UrlEncode(absl::StrCat(
      "{\"iss\":\"https://login.example.gov.cn\",\"aud\":\"polmatch\",\"sub\":\"", registry_.codes[1],
      "\",\"iat\":", absl::ToUnixSeconds(absl::Now()), ",\"exp\":", absl::ToUnixSeconds(absl::Now()) + 600, "}"));
  Expect401(Get(Matches(registry_.codes[1]), Bearer(parts[0] + "." + forged_claims + "." + parts[2])), "bad_signature");
  // Signed with another key.
  AuthConfig other_key = Config();
  other_key.mutable_firm_tokens()->set_hs256_key_base64("YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY=");
  absl::StatusOr<http::Authenticator> other = http::Authenticator::FromConfig(other_key, ".");
  ASSERT_TRUE(other.ok());
  Expect401(Get(Matches(code), Bearer(*other->IssueFirmToken(code, absl::Now(), absl::Hours(1)))), "bad_signature");
  // Expired: issued two hours ago for one hour (past the leeway).
  Expect401(Get(Matches(code), Bearer(Token(code, absl::Now() - absl::Hours(2), absl::Hours(1)))), "expired");
  // Wrong audience: a token another service's login issued with the same key.
  AuthConfig aud = Config();
  aud.mutable_firm_tokens()->set_audience("another-service");
  absl::StatusOr<http::Authenticator> aud_auth = http::Authenticator::FromConfig(aud, ".");
  ASSERT_TRUE(aud_auth.ok());
  Expect401(Get(Matches(code), Bearer(*aud_auth->IssueFirmToken(code, absl::Now(), absl::Hours(1)))),
            "wrong_audience");
  // Malformed: not three parts; "alg": "none".
  Expect401(Get(Matches(code), Bearer("abc.def")), "malformed_token");
  const std::string none = http::internal::Base64UrlEncode("{\"alg\":\"none\"}") + "." + parts[1] + ".";
  Expect401(Get(Matches(code), Bearer(none)), "unsupported_alg");
  // Keys: unknown, revoked; and an unknown scheme.
  Expect401(Get(Matches(code), "X-API-Key: not-a-key\r\n"), "unknown_key");
  Expect401(Get(Matches(code), "Authorization: ApiKey " + std::string(kRevokedKey) + "\r\n"), "revoked_key");
  Expect401(Get(Matches(code), "Authorization: Basic dXNlcjpwYXNz\r\n"), "unsupported_scheme");
  // Two Authorization fields: the second cannot ride on the first.
  Expect401(Get(Matches(code), Bearer(good) + Bearer(good)), "malformed_token");
  // No answer carried firm data, and none echoed a credential.
  const std::vector<std::string> lines = AuditLines();
  EXPECT_EQ(lines.size(), 11u);
  for (const std::string& l : lines) {
    EXPECT_THAT(l, HasSubstr("\"status\":401"));
    EXPECT_THAT(l, Not(HasSubstr(kRevokedKey)));
    EXPECT_THAT(l, Not(HasSubstr(parts[2])));
  }
  // /metrics (with the admin key) counts the refusals by reason.
  HttpResult m = Get("/metrics", "X-API-Key: " + std::string(kAdminKey) + "\r\n");
  ASSERT_TRUE(m) << m.error();
  ASSERT_EQ(m->status, 200) << m->body;
  EXPECT_THAT(m->body, HasSubstr("polmatch_http_auth_failures_total{reason=\"bad_signature\"} 2\n"));
  EXPECT_THAT(m->body, HasSubstr("polmatch_http_auth_failures_total{reason=\"expired\"} 1\n"));
  EXPECT_THAT(m->body, HasSubstr("polmatch_http_auth_failures_total{reason=\"revoked_key\"} 1\n"));
  EXPECT_THAT(m->body, HasSubstr("polmatch_http_auth_failures_total{reason=\"missing\"} 1\n"));
  EXPECT_THAT(m->body, HasSubstr("polmatch_http_audit_entries_total 11\n"));
}

TEST_F(HttpAuthTest, StaffAndAdminKeys) {
  Start(Config());
  for (const std::string& code : registry_.codes) {
    HttpResult r = Get(Matches(code), "Authorization: ApiKey " + std::string(kStaffKey) + "\r\n");
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, 200) << r->body;
  }
  HttpResult r = Get("/metrics", "x-api-key: " + std::string(kStaffKey) + "\r\n");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 403) << "STAFF is not ADMIN";
  Expect401(Get("/metrics"), "missing");
  r = Get("/metrics", "Authorization: ApiKey " + std::string(kAdminKey) + "\r\n");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(r->body, HasSubstr("polmatch_http_rate_limited_total{kind=\"address\"} 0\n"));
  // A malformed code from staff is the handler's 400, not an authorization matter.
  r = Get("/api/v1/firms/bad/matches", "X-API-Key: " + std::string(kStaffKey) + "\r\n");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 400) << r->body;
}

TEST_F(HttpAuthTest, AuditTrailRecordsEveryFirmRead) {
  Start(Config());
  const std::string a = registry_.codes[0], b = registry_.codes[1];
  ASSERT_EQ(Get(Matches(a), Bearer(Token(a)))->status, 200);
  ASSERT_EQ(Get(Matches(b), Bearer(Token(a)))->status, 403);
  ASSERT_EQ(Get(Matches(b), "X-API-Key: " + std::string(kStaffKey) + "\r\n")->status, 200);
  ASSERT_EQ(Get("/healthz")->status, 200);
  const std::vector<std::string> lines = AuditLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr(absl::StrCat("\"principal\":\"", a, "\",\"role\":\"firm\",\"client\":\"127.0.0.1\",\"firm\":\"",
                                               a, "\",\"method\":\"GET\",\"endpoint\":\"/api/v1/firms/", a,
                                               "/matches\",\"status\":200}")));
  EXPECT_THAT(lines[1], HasSubstr(absl::StrCat("\"principal\":\"", a, "\",\"role\":\"firm\"")));
  EXPECT_THAT(lines[1], HasSubstr(absl::StrCat("\"firm\":\"", b, "\"")));
  EXPECT_THAT(lines[1], HasSubstr("\"status\":403"));
  EXPECT_THAT(lines[2], HasSubstr("\"principal\":\"bureau-staff\",\"role\":\"staff\""));
  // Filtered by firm and by principal, as `polmatch audit` does.
  std::vector<std::string> got;
  int malformed = 0;
  ASSERT_TRUE(http::FilterAuditFile(audit_path_, {b, ""}, &got, &malformed).ok());
  EXPECT_EQ(got.size(), 2u);
  got.clear();
  ASSERT_TRUE(http::FilterAuditFile(audit_path_, {"", "bureau-staff"}, &got, &malformed).ok());
  EXPECT_EQ(got, std::vector<std::string>{lines[2]});
  EXPECT_EQ(malformed, 0);
}

// Without an authenticator (serve without --auth) every route answers everyone; the audit trail
// still records the firm reads, as public.
TEST_F(HttpAuthTest, WithoutAuthEverythingIsOpenButAudited) {
  Start(Config(), /*with_auth=*/false);
  HttpResult r = Get(Matches(registry_.codes[2]));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  r = Get("/metrics");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  const std::vector<std::string> lines = AuditLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("\"principal\":\"\",\"role\":\"public\""));
}

TEST_F(HttpAuthTest, RateLimitPerPrincipalAndPerAddress) {
  AuthConfig c = Config();
  c.mutable_per_principal()->set_per_minute(1);  // one a minute, two at once
  c.mutable_per_principal()->set_burst(2);
  c.mutable_per_address()->set_per_minute(0);    // unlimited
  Start(c);
  const std::string code = registry_.codes[0];
  const std::string token = Token(code);
  EXPECT_EQ(Get(Matches(code), Bearer(token))->status, 200);
  EXPECT_EQ(Get(Matches(code), Bearer(token))->status, 200);
  HttpResult r = Get(Matches(code), Bearer(token));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 429) << r->body;
  EXPECT_EQ(Field(r->body, "reason"), "rate_limited");
  const int retry = std::stoi(r->get_header_value("Retry-After"));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 60);
  // Another principal has its own bucket; public routes have none per principal.
  EXPECT_EQ(Get(Matches(code), "X-API-Key: " + std::string(kStaffKey) + "\r\n")->status, 200);
  EXPECT_EQ(Get("/api/v1/policies/grant")->status, 200);
  HttpResult m = Get("/metrics", "X-API-Key: " + std::string(kAdminKey) + "\r\n");
  ASSERT_TRUE(m) << m.error();
  EXPECT_THAT(m->body, HasSubstr("polmatch_http_rate_limited_total{kind=\"principal\"} 1\n"));
  EXPECT_THAT(AuditLines().at(2), HasSubstr("\"status\":429"));
}

TEST_F(HttpAuthTest, RateLimitPerAddressCoversEveryCallerButHealthz) {
  AuthConfig c = Config();
  c.mutable_per_address()->set_per_minute(1);
  c.mutable_per_address()->set_burst(3);
  Start(c);
  EXPECT_EQ(Get("/api/v1/policies/grant")->status, 200);
  EXPECT_EQ(Get(Matches(registry_.codes[0]))->status, 401);  // a refused attempt costs too
  EXPECT_EQ(Get("/no/such/path")->status, 404);
  for (const char* path : {"/api/v1/policies/grant", "/", "/no/such/path"}) {
    HttpResult r = Get(path);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, 429) << path;
    EXPECT_FALSE(r->get_header_value("Retry-After").empty());
  }
  HttpResult h = Get("/healthz");
  ASSERT_TRUE(h) << h.error();
  EXPECT_EQ(h->status, 200) << "a load balancer's probe is never limited";
}

// An API key's own limit (or its role's default) replaces per_principal: a portal's backend
// calling for many firms is not throttled where a firm is; a key with a low limit gets 429.
TEST_F(HttpAuthTest, PerKeyRateLimits) {
  AuthConfig c = Config();
  c.mutable_per_principal()->set_per_minute(1);
  c.mutable_per_principal()->set_burst(2);
  c.mutable_per_address()->set_per_minute(0);
  c.mutable_api_key(0)->mutable_rate_limit()->set_per_minute(0);  // bureau-staff: unlimited
  c.mutable_per_admin_key()->set_per_minute(1);                    // ops: one at once
  c.mutable_per_admin_key()->set_burst(1);
  Start(c);
  const std::string code = registry_.codes[0];
  const std::string token = Token(code);
  const std::string staff = "X-API-Key: " + std::string(kStaffKey) + "\r\n";
  for (int i = 0; i < 2; ++i) EXPECT_EQ(Get(Matches(code), Bearer(token))->status, 200);
  EXPECT_EQ(Get(Matches(code), Bearer(token))->status, 429);
  for (int i = 0; i < 8; ++i) {
    HttpResult r = Get(Matches(registry_.codes[i % registry_.codes.size()]), staff);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, 200) << i << r->body;
  }
  const std::string admin = "Authorization: ApiKey " + std::string(kAdminKey) + "\r\n";
  EXPECT_EQ(Get(Matches(code), admin)->status, 200);
  HttpResult r = Get(Matches(code), admin);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 429) << r->body;
  EXPECT_EQ(Field(r->body, "reason"), "rate_limited");
  EXPECT_GE(std::stoi(r->get_header_value("Retry-After")), 1);
}

// Behind a trusted proxy, the right-most untrusted X-Forwarded-For address is the client for the
// per-address bucket and the audit trail; what a client writes to the left of it changes nothing.
TEST_F(HttpAuthTest, ForwardedForFromTrustedProxy) {
  AuthConfig c = Config();
  c.add_trusted_proxies("127.0.0.0/8");
  c.mutable_per_address()->set_per_minute(1);
  c.mutable_per_address()->set_burst(1);
  Start(c);
  const auto xff = [](const std::string& v) { return "X-Forwarded-For: " + v + "\r\n"; };
  const std::string staff = "X-API-Key: " + std::string(kStaffKey) + "\r\n";
  EXPECT_EQ(Get(Matches(registry_.codes[0]), staff + xff("198.51.100.1"))->status, 200);
  EXPECT_EQ(Get("/api/v1/policies/grant", xff("198.51.100.2:4711"))->status, 200);
  // Spoofing: the client adds an address; the proxy appends the one it saw.
  EXPECT_EQ(Get("/api/v1/policies/grant", xff("198.51.100.3, 198.51.100.1"))->status, 429);
  EXPECT_EQ(Get("/api/v1/policies/grant", xff("198.51.100.3") + xff("198.51.100.2, 127.0.0.1"))->status, 429);
  // Malformed: the walk stops and the proxy itself is the client (its own bucket).
  EXPECT_EQ(Get("/api/v1/policies/grant", xff("\"}evil"))->status, 200);
  EXPECT_EQ(Get("/api/v1/policies/grant", xff("198.51.100.9, junk"))->status, 429);
  const std::vector<std::string> lines = AuditLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("\"client\":\"198.51.100.1\""));
}

TEST_F(HttpAuthTest, ForwardedForIgnoredFromUntrustedPeer) {
  AuthConfig c = Config();
  c.add_trusted_proxies("10.0.0.0/8");  // not the loopback peer of this test
  c.mutable_per_address()->set_per_minute(1);
  c.mutable_per_address()->set_burst(1);
  Start(c);
  const std::string staff = "X-API-Key: " + std::string(kStaffKey) + "\r\n";
  EXPECT_EQ(Get(Matches(registry_.codes[0]), staff + "X-Forwarded-For: 198.51.100.1\r\n")->status, 200);
  EXPECT_EQ(Get("/api/v1/policies/grant", "X-Forwarded-For: 198.51.100.2\r\n")->status, 429);
  const std::vector<std::string> lines = AuditLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("\"client\":\"127.0.0.1\""));
}

// serve's default rate limits (no per_* in the auth file) apply.
TEST(RateLimitSettingsTest, DefaultsAndUnlimited) {
  AuthConfig c;
  EXPECT_EQ(http::RateLimitSettings::Of(c, false).per_minute, 600);
  EXPECT_EQ(http::RateLimitSettings::Of(c, true).per_minute, 1200);
  c.mutable_per_address()->set_per_minute(0);
  EXPECT_EQ(http::RateLimitSettings::Of(c, true).per_minute, 0);
  EXPECT_TRUE(http::RateLimiter(0, 0).unlimited());
}

// `polmatch serve` and `polmatch audit` as processes.
TEST(ServeAuthProcessTest, NonLoopbackWithoutAuthIsRefused) {
  Registry reg;
  const std::string out = (reg.root() / "out").string(), err = (reg.root() / "err").string();
  for (const char* bind : {"0.0.0.0", "::", "192.0.2.1"}) {
    pid_t pid = SpawnPolmatch({"serve", "--rules", reg.rules, "--snapshot", reg.snapshot, "--bind", bind, "--port", "0"},
                              out, err);
    EXPECT_EQ(WaitExit(pid), 2) << bind;
    const std::string text = ReadFile(err);
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
    EXPECT_THAT(text, HasSubstr("without --auth"));
  }
}

TEST(ServeAuthProcessTest, LoopbackDefaultSaysFirmDataIsOpen) {
  Registry reg;
  const std::string out = (reg.root() / "out").string(), err = (reg.root() / "err").string();
  pid_t pid = SpawnPolmatch({"serve", "--rules", reg.rules, "--snapshot", reg.snapshot, "--port", "0", "--quiet"}, out, err);
  EXPECT_TRUE(WaitForText(err, "firm data is open")) << ReadFile(err);
  EXPECT_THAT(ReadFile(err), HasSubstr("listening on http://127.0.0.1:"));
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0);
}

TEST(ServeAuthProcessTest, InsecureOpenBindsAnyAddressWithAWarning) {
  Registry reg;
  const std::string out = (reg.root() / "out").string(), err = (reg.root() / "err").string();
  pid_t pid = SpawnPolmatch({"serve", "--rules", reg.rules, "--snapshot", reg.snapshot, "--bind", "0.0.0.0", "--port",
                             "0", "--quiet", "--insecure-open"},
                            out, err);
  EXPECT_TRUE(WaitForText(err, "WARNING --insecure-open")) << ReadFile(err);
  const std::string log = ReadFile(err);
  ASSERT_THAT(log, HasSubstr("listening on http://0.0.0.0:"));
  const int port = testing::ListeningPort(log, "0.0.0.0");
  testing::HttpClient c("127.0.0.1", port);
  HttpResult r = c.Get("/api/v1/firms/" + reg.codes[0] + "/matches");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200) << "open, as asked";
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0);
}

// serve --auth (a text-format auth file) --audit-log on any address; `polmatch audit` filters
// what it wrote; no credential reaches the access log.
TEST(ServeAuthProcessTest, AuthFileAuditLogAndAuditCommand) {
  Registry reg;
  const fs::path dir = reg.root();
  std::ofstream(dir / "auth.textproto")
      << "firm_tokens { issuer: \"https://login.example.gov.cn\" audience: \"polmatch\" hs256_key_base64: \""
      << kKeyBase64 << "\" }\n"
      << "api_key { id: \"bureau-staff\" sha256_hex: \"" << http::internal::Sha256Hex(kStaffKey)
      << "\" role: STAFF }\n";
  const std::string out = (dir / "out").string(), err = (dir / "err").string();
  const std::string audit = (dir / "audit.jsonl").string(), access = (dir / "access.log").string();
  pid_t pid = SpawnPolmatch({"serve", "--rules", reg.rules, "--snapshot", reg.snapshot, "--bind", "0.0.0.0", "--port",
                             "0", "--auth", (dir / "auth.textproto").string(), "--audit-log", audit, "--access-log",
                             access},
                            out, err);
  ASSERT_TRUE(WaitForText(err, "listening on")) << ReadFile(err);
  const std::string log = ReadFile(err);
  EXPECT_THAT(log, HasSubstr("--auth"));
  const int port = testing::ListeningPort(log, "0.0.0.0");
  // The token as `polmatch auth token` prints it.
  const std::string tok_out = (dir / "token").string();
  ASSERT_EQ(WaitExit(SpawnPolmatch({"auth", "token", "--auth", (dir / "auth.textproto").string(), "--firm",
                                    reg.codes[0], "--ttl", "600"},
                                   tok_out, err)),
            0);
  std::string token = ReadFile(tok_out);
  token = token.substr(0, token.find('\n'));
  const auto get = [port](const std::string& path, const std::string& headers) {
    RawConnection c;
    EXPECT_TRUE(c.Connect(port));
    c.Send("GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + headers + "\r\n");
    return c.Read();
  };
  const std::string m0 = "/api/v1/firms/" + reg.codes[0] + "/matches", m1 = "/api/v1/firms/" + reg.codes[1] + "/matches";
  EXPECT_EQ(get(m0, "Authorization: Bearer " + token + "\r\n")->status, 200);
  EXPECT_EQ(get(m1, "Authorization: Bearer " + token + "\r\n")->status, 403);
  EXPECT_EQ(get(m1 + "?token=" + token, "X-API-Key: " + std::string(kStaffKey) + "\r\n")->status, 400);
  EXPECT_EQ(get(m1, "X-API-Key: " + std::string(kStaffKey) + "\r\n")->status, 200);
  EXPECT_EQ(get(m1, "")->status, 401);
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0);
  // `polmatch audit --firm`: the four reads of the second firm, in order.
  const std::string filtered = (dir / "filtered").string();
  EXPECT_EQ(WaitExit(SpawnPolmatch({"audit", "--log", audit, "--firm", reg.codes[1]}, filtered, err)), 0);
  std::vector<std::string> lines = absl::StrSplit(ReadFile(filtered), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << ReadFile(filtered);
  EXPECT_THAT(lines[0], HasSubstr("\"role\":\"firm\""));
  EXPECT_THAT(lines[0], HasSubstr("\"status\":403"));
  EXPECT_THAT(lines[1], HasSubstr("\"status\":400"));
  EXPECT_THAT(lines[2], HasSubstr("\"principal\":\"bureau-staff\",\"role\":\"staff\""));
  EXPECT_THAT(lines[3], HasSubstr("\"status\":401"));
  EXPECT_THAT(ReadFile(err), HasSubstr("audit: 4 entries"));
  // `--principal`: the firm's own two.
  EXPECT_EQ(WaitExit(SpawnPolmatch({"audit", "--log", audit, "--principal", reg.codes[0]}, filtered, err)), 0);
  lines = absl::StrSplit(ReadFile(filtered), '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 2u);
  // Neither the key nor the token is in any log (the token put in a URL is redacted).
  for (const std::string& file : {access, audit, err}) {
    const std::string text = ReadFile(file);
    EXPECT_THAT(text, Not(HasSubstr(kStaffKey))) << file;
    EXPECT_THAT(text, Not(HasSubstr(token.substr(token.rfind('.') + 1)))) << file;
  }
  EXPECT_THAT(ReadFile(access), HasSubstr("token=REDACTED"));
}

}  // namespace
}  // namespace polmatch
