// Credentials, decisions, rate limits and the audit trail of the HTTP service (tools/auth.h).
#include "tools/auth.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch::http {
namespace {

constexpr char kKey[] = "0123456789abcdef0123456789abcdef";  // 32 bytes
constexpr char kFirm[] = "91441502MA4W0PA9X8";
const std::string kOtherFirm = testing::MakeCreditCode("440800", 7);
constexpr char kStaffKey[] = "staff-key-not-secret-in-tests";
constexpr char kAdminKey[] = "admin-key-not-secret-in-tests";
constexpr char kRevokedKey[] = "revoked-key";

AuthConfig Config() {
  AuthConfig c;
  c.mutable_firm_tokens()->set_issuer("https://login.example.gov.cn");
  c.mutable_firm_tokens()->set_audience("polmatch");
  c.mutable_firm_tokens()->set_hs256_key_base64(
      "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");  // kKey
  auto add = [&](const char* id, const char* key, AuthConfig::Role role, bool revoked) {
    AuthConfig::ApiKey* k = c.add_api_key();
    k->set_id(id);
    k->set_sha256_hex(internal::Sha256Hex(key));
    k->set_role(role);
    k->set_revoked(revoked);
  };
  add("bureau-staff", kStaffKey, AuthConfig::STAFF, false);
  add("ops", kAdminKey, AuthConfig::ADMIN, false);
  add("old-backend", kRevokedKey, AuthConfig::STAFF, true);
  return c;
}

Authenticator Auth() {
  absl::StatusOr<Authenticator> a = Authenticator::FromConfig(Config(), ".");
  EXPECT_TRUE(a.ok()) << a.status();
  return *std::move(a);
}

const absl::Time kNow = absl::FromUnixSeconds(1780000000);

// A token with the given header and claims JSON, signed with `key`.
std::string Sign(const std::string& header, const std::string& claims, const std::string& key = kKey) {
  const std::string signed_part =
      absl::StrCat(internal::Base64UrlEncode(header), ".", internal::Base64UrlEncode(claims));
  return absl::StrCat(signed_part, ".", internal::Base64UrlEncode(internal::HmacSha256(key, signed_part)));
}

std::string Claims(const std::string& sub = kFirm, int64_t iat = 1780000000 - 60,
                   int64_t exp = 1780000000 + 3600, const std::string& aud = "\"polmatch\"",
                   const std::string& iss = "https://login.example.gov.cn") {
  return absl::StrCat("{\"iss\":\"", iss, "\",\"aud\":", aud, ",\"sub\":\"", sub, "\",\"iat\":", iat,
                      ",\"exp\":", exp, "}");
}

const std::string kHs256 = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

absl::StatusOr<Principal> Bearer(const Authenticator& a, const std::string& token) {
  const std::string header = "Bearer " + token;
  Credentials c;
  c.authorization = header;
  return a.Authenticate(c, kNow);
}

void ExpectRefused(const absl::StatusOr<Principal>& p, const std::string& reason) {
  ASSERT_FALSE(p.ok()) << "accepted; expected refusal: " << reason;
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(p.status().message(), reason)) << p.status().message();
}

TEST(AuthTest, NoCredentialIsPublic) {
  absl::StatusOr<Principal> p = Auth().Authenticate({}, kNow);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, CallerKind::kPublic);
  EXPECT_EQ(p->role(), "public");
}

TEST(AuthTest, GoodFirmTokenFromHeaderAndCookie) {
  const Authenticator a = Auth();
  const std::string token = Sign(kHs256, Claims());
  absl::StatusOr<Principal> p = Bearer(a, token);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->kind, CallerKind::kFirm);
  EXPECT_EQ(p->id, kFirm);
  const std::string cookie = "lang=zh; polmatch_token=" + token + "; other=1";
  Credentials c;
  c.cookie = cookie;
  p = a.Authenticate(c, kNow);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->id, kFirm);
  // The token IssueFirmToken writes verifies too.
  absl::StatusOr<std::string> issued = a.IssueFirmToken(kOtherFirm, kNow, absl::Minutes(5));
  ASSERT_TRUE(issued.ok());
  p = Bearer(a, *issued);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->id, kOtherFirm);
  // An audience array that contains ours.
  EXPECT_TRUE(Bearer(a, Sign(kHs256, Claims(kFirm, 1780000000 - 60, 1780003600, "[\"x\",\"polmatch\"]"))).ok());
}

TEST(AuthTest, EveryBadTokenSaysWhy) {
  const Authenticator a = Auth();
  const std::string good = Sign(kHs256, Claims());
  ExpectRefused(Bearer(a, ""), "empty token");
  ExpectRefused(Bearer(a, "abc"), "not three parts");
  ExpectRefused(Bearer(a, "a.b.c.d"), "not three parts");
  ExpectRefused(Bearer(a, "!!.??.**"), "bad base64url");
  ExpectRefused(Bearer(a, std::string(9000, 'a')), "too long");
  ExpectRefused(Bearer(a, Sign("not json", Claims())), "header is not JSON");
  ExpectRefused(Bearer(a, Sign("{\"alg\":\"none\"}", Claims())), "unsupported alg");
  ExpectRefused(Bearer(a, Sign("{\"alg\":\"HS512\"}", Claims())), "unsupported alg");
  // Tampered: the claims changed after signing (another firm), or the signature cut.
  const std::vector<std::string> parts = absl::StrSplit(good, '.');
  const std::string tampered = absl::StrCat(parts[0], ".", internal::Base64UrlEncode(Claims(kOtherFirm)), ".", parts[2]);
  ExpectRefused(Bearer(a, tampered), "bad signature");
  ExpectRefused(Bearer(a, absl::StrCat(parts[0], ".", parts[1], ".")), "bad signature");
  ExpectRefused(Bearer(a, Sign(kHs256, Claims(), "another-key-of-32-bytes-........")), "bad signature");
  ExpectRefused(Bearer(a, Sign(kHs256, "[1,2]")), "claims are not JSON");
  ExpectRefused(Bearer(a, Sign(kHs256, Claims(kFirm, 1780000000 - 7200, 1780000000 - 3600))), "token expired");
  // Within the 60 s leeway an expired token still passes; beyond it, not.
  EXPECT_TRUE(Bearer(a, Sign(kHs256, Claims(kFirm, 1780000000 - 600, 1780000000 - 30))).ok());
  ExpectRefused(Bearer(a, Sign(kHs256, Claims(kFirm, 1780000000 + 600, 1780000000 + 1200))), "issued in the future");
  ExpectRefused(Bearer(a, Sign(kHs256, Claims(kFirm, 1780000000 - 60, 1780000000 + 2 * 86400))), "lifetime too long");
  ExpectRefused(Bearer(a, Sign(kHs256, Claims(kFirm, 1780000000 - 60, 1780003600, "\"another-service\""))), "wrong audience");
  ExpectRefused(Bearer(a, Sign(kHs256, Claims(kFirm, 1780000000 - 60, 1780003600, "\"polmatch\"", "evil"))), "wrong issuer");
  ExpectRefused(Bearer(a, Sign(kHs256, Claims("91441502MA4W0PA9X9"))), "not a valid credit code");
  ExpectRefused(Bearer(a, Sign(kHs256, "{\"iss\":\"https://login.example.gov.cn\",\"aud\":\"polmatch\",\"sub\":\"91441502MA4W0PA9X8\"}")),
                "exp and iat are required");
  Credentials c;
  c.authorization = "Basic dXNlcjpwYXNz";
  ExpectRefused(Auth().Authenticate(c, kNow), "unsupported authorization scheme");
  // Messages never echo the credential.
  absl::StatusOr<Principal> p = Bearer(a, tampered);
  EXPECT_FALSE(absl::StrContains(p.status().message(), parts[2]));
}

TEST(AuthTest, ApiKeys) {
  const Authenticator a = Auth();
  Credentials c;
  const std::string staff = std::string("ApiKey ") + kStaffKey;
  c.authorization = staff;
  absl::StatusOr<Principal> p = a.Authenticate(c, kNow);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->kind, CallerKind::kStaff);
  EXPECT_EQ(p->id, "bureau-staff");
  Credentials header;
  header.api_key = kAdminKey;
  p = a.Authenticate(header, kNow);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, CallerKind::kAdmin);
  header.api_key = kRevokedKey;
  ExpectRefused(a.Authenticate(header, kNow), "revoked key");
  header.api_key = "guess";
  ExpectRefused(a.Authenticate(header, kNow), "unknown key");
  // A firm token where a key is expected, and the reverse, are refused.
  const std::string key_as_token = std::string("Bearer ") + kStaffKey;
  c.authorization = key_as_token;
  ExpectRefused(a.Authenticate(c, kNow), "not three parts");
}

TEST(AuthTest, Decisions) {
  const Principal pub;
  const Principal firm{CallerKind::kFirm, kFirm};
  const Principal staff{CallerKind::kStaff, "bureau-staff"};
  const Principal admin{CallerKind::kAdmin, "ops"};
  for (const Principal* p : {&pub, &firm, &staff, &admin}) EXPECT_TRUE(Authorize(*p, Access::kPublic, "").ok());
  EXPECT_EQ(Authorize(pub, Access::kFirmData, kFirm).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(Authorize(firm, Access::kFirmData, kFirm).ok());
  EXPECT_EQ(Authorize(firm, Access::kFirmData, kOtherFirm).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Authorize(staff, Access::kFirmData, kOtherFirm).ok());
  EXPECT_TRUE(Authorize(admin, Access::kFirmData, kOtherFirm).ok());
  EXPECT_EQ(Authorize(pub, Access::kAdmin, "").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Authorize(firm, Access::kAdmin, "").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Authorize(staff, Access::kAdmin, "").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(Authorize(admin, Access::kAdmin, "").ok());
}

TEST(AuthTest, ConfigErrors) {
  auto expect_error = [](const std::function<void(AuthConfig&)>& edit, const std::string& what) {
    AuthConfig c = Config();
    edit(c);
    absl::StatusOr<Authenticator> a = Authenticator::FromConfig(c, ".");
    ASSERT_FALSE(a.ok()) << what;
    EXPECT_TRUE(absl::StrContains(a.status().message(), what)) << a.status().message();
  };
  expect_error([](AuthConfig& c) { c.mutable_firm_tokens()->set_hs256_key_base64("c2hvcnQ="); }, "at least 32 bytes");
  expect_error([](AuthConfig& c) { c.mutable_firm_tokens()->set_issuer(""); }, "issuer and audience are required");
  expect_error([](AuthConfig& c) { c.mutable_firm_tokens()->set_hs256_key_base64("%%%"); }, "not base64");
  expect_error([](AuthConfig& c) { c.mutable_firm_tokens()->set_hs256_key_file("k"); }, "not both");
  expect_error([](AuthConfig& c) { c.mutable_api_key(0)->set_sha256_hex("abc"); }, "64 hex digits");
  expect_error([](AuthConfig& c) { c.mutable_api_key(0)->set_role(AuthConfig::ROLE_UNSPECIFIED); }, "role is required");
  expect_error([](AuthConfig& c) { c.mutable_api_key(0)->set_id(""); }, "id is required");
  expect_error([](AuthConfig& c) { *c.add_api_key() = c.api_key(0); c.mutable_api_key(3)->set_id("copy"); }, "appears twice");
  expect_error([](AuthConfig& c) { c.mutable_per_address()->set_per_minute(-1); }, "must not be negative");
}

TEST(AuthTest, LoadFileRefusesWhatIsNotAnAuthFile) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "polmatch_auth_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "bad.json") << "{\"firm_tokens\": {\"issuer\": 1,";
  absl::StatusOr<Authenticator> a = Authenticator::LoadFile(dir / "bad.json");
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(absl::StrContains(a.status().message(), "bad.json")) << a.status().message();
  EXPECT_FALSE(Authenticator::LoadFile(dir).ok());  // a directory
  EXPECT_FALSE(Authenticator::LoadFile(dir / "missing.json").ok());
  std::ofstream(dir / "key.bin") << kKey;
  std::ofstream(dir / "good.json")
      << "{\"firmTokens\": {\"issuer\": \"i\", \"audience\": \"a\", \"hs256KeyFile\": \"key.bin\"},"
         " \"apiKey\": [{\"id\": \"x\", \"sha256Hex\": \"" << internal::Sha256Hex("k") << "\", \"role\": \"ADMIN\"}]}";
  a = Authenticator::LoadFile(dir / "good.json");
  ASSERT_TRUE(a.ok()) << a.status();
  std::filesystem::remove_all(dir);
}

TEST(AuthTest, Base64Url) {
  for (const std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    absl::StatusOr<std::string> back = internal::Base64UrlDecode(internal::Base64UrlEncode(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  EXPECT_FALSE(internal::Base64UrlDecode("a").ok());     // impossible length
  EXPECT_FALSE(internal::Base64UrlDecode("Zm9=v").ok());  // padding inside
  EXPECT_FALSE(internal::Base64UrlDecode("Zh").ok());     // non-canonical trailing bits
  EXPECT_EQ(internal::Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(RateLimiterTest, BurstThenRefillThenRetryAfter) {
  RateLimiter limiter(/*per_minute=*/60, /*burst=*/3);
  int retry = 0;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow("firm-a", 100.0, &retry)) << i;
  EXPECT_FALSE(limiter.Allow("firm-a", 100.0, &retry));
  EXPECT_EQ(retry, 1);                                  // one token a second
  EXPECT_TRUE(limiter.Allow("firm-b", 100.0, &retry));  // buckets are per key
  EXPECT_TRUE(limiter.Allow("firm-a", 101.0, &retry));  // refilled one
  EXPECT_FALSE(limiter.Allow("firm-a", 101.0, &retry));
  EXPECT_TRUE(limiter.Allow("firm-a", 1000.0, &retry));  // refilled to the burst, not beyond
  EXPECT_TRUE(limiter.Allow("firm-a", 1000.0, &retry));
  EXPECT_TRUE(limiter.Allow("firm-a", 1000.0, &retry));
  EXPECT_FALSE(limiter.Allow("firm-a", 1000.0, &retry));
  RateLimiter slow(/*per_minute=*/6, /*burst=*/1);
  EXPECT_TRUE(slow.Allow("x", 0.0, &retry));
  EXPECT_FALSE(slow.Allow("x", 0.0, &retry));
  EXPECT_EQ(retry, 10);
  RateLimiter off(0, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(off.Allow("x", 0.0, &retry));
}

TEST(RateLimiterTest, WalkingEveryCodeIsBoundedInMemoryAndRefused) {
  // A script walking many codes from one address: per-address buckets stay bounded; the keys
  // of callers that are quiet again are dropped, active ones are kept.
  RateLimiter limiter(/*per_minute=*/60, /*burst=*/1, /*max_keys=*/16 * 4);
  int retry = 0;
  int refused = 0;
  for (int i = 0; i < 10000; ++i) refused += !limiter.Allow(absl::StrCat("addr-", i), 0.0, &retry);
  EXPECT_GT(refused, 9000);  // the shards are full of fresh, active buckets
  // Later, when everything has refilled, newcomers get room again.
  EXPECT_TRUE(limiter.Allow("late-comer", 100.0, &retry));
}

TEST(AuditLogTest, AppendsFiltersAndRotates) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "polmatch_audit_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::filesystem::path path = dir / "audit.jsonl";
  absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(path, /*max_bytes=*/600, /*keep=*/2);
  ASSERT_TRUE(log.ok()) << log.status();
  for (int i = 0; i < 12; ++i) {
    AuditEntry e;
    e.time = kNow + absl::Seconds(i);
    e.principal = i % 3 == 0 ? "bureau-staff" : kFirm;
    e.role = i % 3 == 0 ? "staff" : "firm";
    e.client = "127.0.0.1";
    e.firm = i % 2 == 0 ? kFirm : kOtherFirm;
    e.method = "GET";
    e.endpoint = "/api/v1/firms/{code}/matches";
    e.status = i % 2 == 0 ? 200 : 403;
    ASSERT_TRUE((*log)->Record(e).ok());
  }
  EXPECT_TRUE(std::filesystem::exists(path.string() + ".1"));
  EXPECT_TRUE(std::filesystem::exists(path.string() + ".2"));
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".3"));  // keep = 2
  EXPECT_LE(std::filesystem::file_size(path), 600u);
  std::vector<std::string> lines;
  int malformed = 0;
  ASSERT_TRUE(FilterAuditFile(path, {kOtherFirm, ""}, &lines, &malformed).ok());
  for (const std::string& l : lines) EXPECT_TRUE(absl::StrContains(l, kOtherFirm)) << l;
  std::ofstream(path, std::ios::app) << "not json\n";
  lines.clear();
  ASSERT_TRUE(FilterAuditFile(path, {"", "bureau-staff"}, &lines, &malformed).ok());
  EXPECT_EQ(malformed, 1);
  for (const std::string& l : lines) EXPECT_TRUE(absl::StrContains(l, "\"principal\":\"bureau-staff\"")) << l;
  std::filesystem::remove_all(dir);
}

TEST(AuthCliTest, KeysTokensAndAudit) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "polmatch_auth_cli_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  testing::CmdResult r = testing::Polmatch("auth new-key --id portal-backend --role STAFF");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "\"sha256_hex\": \"")) << r.out;
  std::ofstream(dir / "auth.json")
      << "{\"firm_tokens\": {\"issuer\": \"i\", \"audience\": \"polmatch\", "
         "\"hs256_key_base64\": \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\"}}";
  r = testing::Polmatch(absl::StrCat("auth token --auth ", (dir / "auth.json").string(), " --firm ", kFirm));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '.'), 2) << r.out;
  r = testing::Polmatch(absl::StrCat("auth token --auth ", (dir / "auth.json").string(), " --firm 91441502MA4W0PA9X9"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  r = testing::Polmatch(absl::StrCat("auth token --auth ", (dir / "auth.json").string(), " --firm ", kFirm, " --ttl 0"));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  r = testing::Polmatch("auth frobnicate");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  std::ofstream(dir / "audit.jsonl") << AuditLine({kNow, "ops", "admin", "10.0.0.1", kFirm, "GET", "/x", 200}) << "\n"
                                     << AuditLine({kNow, kOtherFirm, "firm", "10.0.0.2", kOtherFirm, "GET", "/x", 200}) << "\n";
  r = testing::Polmatch(absl::StrCat("audit --log ", (dir / "audit.jsonl").string(), " --firm ", kFirm));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "\"principal\":\"ops\"")) << r.out;
  EXPECT_FALSE(absl::StrContains(r.out, "10.0.0.2")) << r.out;
  r = testing::Polmatch(absl::StrCat("audit --log ", dir.string()));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace polmatch::http

namespace polmatch::http {
namespace {

// A token verified once is remembered; a later request with it is still checked against the
// clock (expiry, not-before) and gives the same principal; a token one byte away is not a hit.
TEST(AuthTest, VerifiedTokensAreCachedButTheirTimesRechecked) {
  const Authenticator a = Auth();
  const std::string token = Sign(kHs256, absl::StrCat("{\"iss\":\"https://login.example.gov.cn\",\"aud\":\"polmatch\",\"sub\":\"",
                                                      kFirm, "\",\"iat\":1780000000,\"nbf\":1780000500,\"exp\":1780003600}"));
  Credentials c;
  const std::string header = "Bearer " + token;
  c.authorization = header;
  // Before nbf (past the 60 s leeway): refused, and nothing remembered.
  ExpectRefused(a.Authenticate(c, kNow), "not yet valid");
  for (int i = 0; i < 2; ++i) {  // the miss, then the hit
    absl::StatusOr<Principal> p = a.Authenticate(c, kNow + absl::Seconds(600));
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->id, kFirm);
  }
  ExpectRefused(a.Authenticate(c, kNow + absl::Seconds(3600 + 61)), "token expired");
  std::string tampered = header;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  c.authorization = tampered;
  ExpectRefused(a.Authenticate(c, kNow + absl::Seconds(600)), "bad signature");
}

// Auth files in the protobuf text format load as the JSON ones do; errors carry line:column.
TEST(AuthTest, TextFormatAuthFile) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / ("auth_text_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "auth.textproto") << "# comment\nfirm_tokens { issuer: \"i\" audience: \"a\" hs256_key_base64: "
                                           "\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\" }\n"
                                           "per_address { per_minute: 0 }\n";
  absl::StatusOr<Authenticator> a = Authenticator::LoadFile(dir / "auth.textproto");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(RateLimitSettings::Of(a->config(), true).per_minute, 0);
  EXPECT_EQ(RateLimitSettings::Of(a->config(), false).per_minute, 600);
  std::ofstream(dir / "bad.textproto") << "firm_tokens {\n  isuer: \"i\"\n}\n";
  absl::StatusOr<Authenticator> bad = Authenticator::LoadFile(dir / "bad.textproto");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "bad.textproto:2:")) << bad.status();
  std::filesystem::remove_all(dir);
}

TrustedProxies Proxies(std::initializer_list<const char*> cidrs) {
  google::protobuf::RepeatedPtrField<std::string> list;
  for (const char* c : cidrs) *list.Add() = c;
  absl::StatusOr<TrustedProxies> t = TrustedProxies::Parse(list);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : TrustedProxies();
}

// trusted_proxies: CIDR matching for IPv4, IPv6 and IPv4-mapped peers; bad entries refused.
TEST(TrustedProxiesTest, ParseAndContains) {
  const TrustedProxies t = Proxies({"10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "172.16.0.0/12"});
  EXPECT_TRUE(t.Contains("10.255.0.1"));
  EXPECT_TRUE(t.Contains("::ffff:10.1.2.3"));
  EXPECT_TRUE(t.Contains("192.168.1.7"));
  EXPECT_FALSE(t.Contains("192.168.1.8"));
  EXPECT_TRUE(t.Contains("172.31.255.255"));
  EXPECT_FALSE(t.Contains("172.32.0.0"));
  EXPECT_TRUE(t.Contains("2001:db8:ffff::1"));
  EXPECT_FALSE(t.Contains("2001:db9::1"));
  EXPECT_FALSE(t.Contains("11.0.0.1"));
  EXPECT_FALSE(t.Contains("not an address"));
  EXPECT_FALSE(t.Contains(""));
  EXPECT_TRUE(Proxies({"0.0.0.0/0"}).Contains("8.8.8.8"));
  EXPECT_FALSE(Proxies({"0.0.0.0/0"}).Contains("2001:db8::1"));
  EXPECT_TRUE(Proxies({"::/0"}).Contains("2001:db8::1"));
  for (const char* bad : {"10.0.0.0/33", "10.0.0/8", "::1/129", "10.0.0.0/", "10.0.0.0/-1", "example.com", ""}) {
    google::protobuf::RepeatedPtrField<std::string> list;
    *list.Add() = bad;
    EXPECT_FALSE(TrustedProxies::Parse(list).ok()) << bad;
  }
  AuthConfig c = Config();
  c.add_trusted_proxies("10.0.0.0/99");
  absl::StatusOr<Authenticator> a = Authenticator::FromConfig(c, ".");
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(absl::StrContains(a.status().message(), "trusted_proxies")) << a.status();
}

// X-Forwarded-For: believed only from a trusted peer; the right-most untrusted hop is the client;
// a spoofed left part, malformed entries and long chains cannot pick the address.
TEST(TrustedProxiesTest, ClientAddressFromForwardedFor) {
  const TrustedProxies t = Proxies({"10.0.0.0/8", "127.0.0.1"});
  // An untrusted peer: the header is ignored, whatever it says.
  EXPECT_EQ(t.ClientAddress("203.0.113.9", "198.51.100.1"), "203.0.113.9");
  EXPECT_EQ(t.ClientAddress("203.0.113.9", "10.0.0.1"), "203.0.113.9");
  // A trusted peer without the header (or with an empty one) is the client itself.
  EXPECT_EQ(t.ClientAddress("127.0.0.1", ""), "127.0.0.1");
  EXPECT_EQ(t.ClientAddress("127.0.0.1", "198.51.100.1"), "198.51.100.1");
  // The client wrote "1.1.1.1" itself; the proxy appended the address it saw.
  EXPECT_EQ(t.ClientAddress("127.0.0.1", "1.1.1.1, 198.51.100.1"), "198.51.100.1");
  // Through two trusted proxies.
  EXPECT_EQ(t.ClientAddress("127.0.0.1", "1.1.1.1,198.51.100.1, 10.2.3.4"), "198.51.100.1");
  // Ports and brackets; IPv6 canonicalised.
  EXPECT_EQ(t.ClientAddress("127.0.0.1", "198.51.100.1:5555"), "198.51.100.1");
  EXPECT_EQ(t.ClientAddress("127.0.0.1", "[2001:DB8:0::1]:443"), "2001:db8::1");
  EXPECT_EQ(t.ClientAddress("127.0.0.1", "2001:db8::0:1"), "2001:db8::1");
  EXPECT_EQ(t.ClientAddress("::ffff:127.0.0.1", "198.51.100.1"), "198.51.100.1");
  // Malformed entries end the walk and are never the client: the last trusted hop is.
  for (const char* bad : {"evil\"},\"x", "unknown", "1.2.3.4:port", "[::1", "300.1.1.1", " , ", "1.2.3.4 5.6.7.8",
                          "1.2.3.4:123456"}) {
    EXPECT_EQ(t.ClientAddress("127.0.0.1", bad), "127.0.0.1") << bad;
    EXPECT_EQ(t.ClientAddress("127.0.0.1", absl::StrCat("198.51.100.1, ", bad, ", 10.0.0.2")), "10.0.0.2") << bad;
  }
  EXPECT_EQ(t.ClientAddress("127.0.0.1", "198.51.100.1, 10.0.0.2, garbage"), "127.0.0.1");
  EXPECT_EQ(t.ClientAddress("127.0.0.1", std::string("198.51.100.1\0junk", 17)), "127.0.0.1");
  EXPECT_FALSE(t.Contains(std::string("10.0.0.1\0", 9)));
  // An over-long entry, and a chain of more than 32 trusted hops.
  EXPECT_EQ(t.ClientAddress("127.0.0.1", std::string(100, '1')), "127.0.0.1");
  std::string chain = "198.51.100.1";
  for (int i = 0; i < 40; ++i) absl::StrAppend(&chain, ", 10.0.0.", i);
  EXPECT_EQ(t.ClientAddress("127.0.0.1", chain), "10.0.0.8");
  // No trusted proxies: the peer, always.
  EXPECT_EQ(TrustedProxies().ClientAddress("127.0.0.1", "198.51.100.1"), "127.0.0.1");
}

// Per-key limits: the key's own, else its role's default, else none (per_principal applies).
TEST(AuthTest, KeyRateLimits) {
  AuthConfig c;
  for (auto role : {AuthConfig::STAFF, AuthConfig::ADMIN, AuthConfig::STAFF}) c.add_api_key()->set_role(role);
  EXPECT_FALSE(RateLimitSettings::ForKey(c, 0).has_value());
  c.mutable_per_staff_key()->set_per_minute(6000);
  c.mutable_api_key(2)->mutable_rate_limit()->set_per_minute(0);
  EXPECT_EQ(RateLimitSettings::ForKey(c, 0)->per_minute, 6000);
  EXPECT_FALSE(RateLimitSettings::ForKey(c, 1).has_value());
  EXPECT_EQ(RateLimitSettings::ForKey(c, 2)->per_minute, 0);
  EXPECT_FALSE(RateLimitSettings::ForKey(c, 3).has_value());
  AuthConfig bad = Config();
  bad.add_api_key()->CopyFrom(bad.api_key(0));
  bad.mutable_api_key(bad.api_key_size() - 1)->set_sha256_hex(std::string(64, 'e'));
  bad.mutable_api_key(bad.api_key_size() - 1)->mutable_rate_limit()->set_burst(-1);
  EXPECT_FALSE(Authenticator::FromConfig(bad, ".").ok());
}

}  // namespace
}  // namespace polmatch::http
