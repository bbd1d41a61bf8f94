// File: auth.cc
#include "tools/auth.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/hash/hash.h"
#include "absl/strings/cord.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/ingest/credit_code.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "tools/matches_json.h"

namespace polmatch::http {
namespace {

constexpr size_t kMaxTokenBytes = 8192;  // a firm token is a few hundred bytes
constexpr size_t kMinKeyBytes = 32;      // RFC 7518 §3.2: an HS256 key of at least 256 bits

constexpr char kReasonPayload[] = "polmatch.auth.reason";

// 401 with a message in Chinese (for the firm), the reason in English (for the logs), and the
// reason's code (one of kAuthFailureReasons) as a payload, for the JSON answer and /metrics.
absl::Status Unauthenticated(absl::string_view zh, absl::string_view en, absl::string_view reason) {
  absl::Status s = absl::UnauthenticatedError(absl::StrCat(zh, " (", en, ")"));
  s.SetPayload(kReasonPayload, absl::Cord(reason));
  return s;
}

// base64 in either alphabet (standard or URL-safe), padding optional; strict otherwise.
absl::StatusOr<std::string> DecodeBase64(absl::string_view text, bool url) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return absl::InvalidArgumentError("bad base64 length");
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : text) {
    int v;
    if (ch >= 'A' && ch <= 'Z') {
      v = ch - 'A';
    } else if (ch >= 'a' && ch <= 'z') {
      v = ch - 'a' + 26;
    } else if (ch >= '0' && ch <= '9') {
      v = ch - '0' + 52;
    } else if (ch == (url ? '-' : '+')) {
      v = 62;
    } else if (ch == (url ? '_' : '/')) {
      v = 63;
    } else {
      return absl::InvalidArgumentError("bad base64 character");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero (a canonical encoding): otherwise two texts decode alike.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return absl::InvalidArgumentError("non-canonical base64");
  return out;
}

bool ConstantTimeEqual(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

absl::StatusOr<google::protobuf::Struct> ParseJsonObject(absl::string_view json) {
  google::protobuf::Struct s;
  google::protobuf::util::JsonParseOptions opts;
  const auto status = google::protobuf::util::JsonStringToMessage(std::string(json), &s, opts);
  if (!status.ok()) return absl::InvalidArgumentError("not a JSON object");
  return s;
}

const google::protobuf::Value* Field(const google::protobuf::Struct& s, const char* name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? nullptr : &it->second;
}

// A NumericDate claim (seconds since the epoch) as whole seconds; nullopt if absent or not a
// finite number in a sane range.
std::optional<int64_t> NumericDate(const google::protobuf::Struct& s, const char* name) {
  const google::protobuf::Value* v = Field(s, name);
  if (v == nullptr || v->kind_case() != google::protobuf::Value::kNumberValue) return std::nullopt;
  const double d = v->number_value();
  if (!std::isfinite(d) || d < 0 || d > 32503680000.0) return std::nullopt;  // year 3000
  return static_cast<int64_t>(std::floor(d));
}

// The first error of a text-format parse, as "line:col: message" (1-based).
class TextFormatErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (first.empty()) first = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  std::string first;
};

std::string AuthFileError(const std::filesystem::path& path, absl::string_view message) {
  return absl::StrCat(path.string(), ": ", message);
}

}  // namespace

absl::string_view Principal::role() const {
  switch (kind) {
    case CallerKind::kPublic: return "public";
    case CallerKind::kFirm: return "firm";
    case CallerKind::kStaff: return "staff";
    case CallerKind::kAdmin: return "admin";
  }
  return "public";
}

namespace internal {

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string Sha256Hex(absl::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string Base64UrlEncode(absl::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

absl::StatusOr<std::string> Base64UrlDecode(absl::string_view text) {
  return DecodeBase64(text, /*url=*/true);
}

}  // namespace internal

absl::StatusOr<Authenticator> Authenticator::LoadFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::InvalidArgumentError(AuthFileError(path, "not a readable regular file"));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return absl::InvalidArgumentError(AuthFileError(path, "cannot be read"));
  if (text.str().size() > (size_t{1} << 20)) {
    return absl::InvalidArgumentError(AuthFileError(path, "larger than 1 MiB"));
  }
  AuthConfig config;
  // JSON when it starts with '{', else the protobuf text format (auth.textproto).
  const std::string& body = text.str();
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && body[first] == '{') {
    google::protobuf::util::JsonParseOptions opts;
    const auto parsed = google::protobuf::util::JsonStringToMessage(body, &config, opts);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(AuthFileError(path, std::string(parsed.message())));
    }
  } else {
    TextFormatErrors errors;
    google::protobuf::TextFormat::Parser parser;
    parser.RecordErrorsTo(&errors);
    if (!parser.ParseFromString(body, &config)) {
      return absl::InvalidArgumentError(absl::StrCat(path.string(), ":", errors.first));
    }
  }
  auto auth = FromConfig(config, path.parent_path());
  if (!auth.ok()) return absl::InvalidArgumentError(AuthFileError(path, auth.status().message()));
  return auth;
}

absl::StatusOr<Authenticator> Authenticator::FromConfig(const AuthConfig& config,
                                                        const std::filesystem::path& base_dir) {
  Authenticator a;
  a.config_ = config;
  a.token_cache_ = std::make_shared<TokenCache>();
  const AuthConfig::FirmTokens& ft = config.firm_tokens();
  if (!ft.hs256_key_base64().empty() && !ft.hs256_key_file().empty()) {
    return absl::InvalidArgumentError("firm_tokens: give hs256_key_base64 or hs256_key_file, not both");
  }
  if (!ft.hs256_key_base64().empty()) {
    auto key = DecodeBase64(ft.hs256_key_base64(), /*url=*/false);
    if (!key.ok()) key = DecodeBase64(ft.hs256_key_base64(), /*url=*/true);
    if (!key.ok()) return absl::InvalidArgumentError("firm_tokens.hs256_key_base64 is not base64");
    a.hs256_key_ = *std::move(key);
  } else if (!ft.hs256_key_file().empty()) {
    std::filesystem::path p = ft.hs256_key_file();
    if (p.is_relative()) p = base_dir / p;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec)) {
      return absl::InvalidArgumentError(absl::StrCat("firm_tokens.hs256_key_file ", p.string(), " is not a regular file"));
    }
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    a.hs256_key_ = s.str();
  }
  const bool tokens_on = !a.hs256_key_.empty();
  if (tokens_on) {
    if (a.hs256_key_.size() < kMinKeyBytes) {
      return absl::InvalidArgumentError("firm_tokens: the HS256 key must be at least 32 bytes");
    }
    if (ft.issuer().empty() || ft.audience().empty()) {
      return absl::InvalidArgumentError("firm_tokens: issuer and audience are required");
    }
    if (ft.leeway_seconds() < 0 || ft.leeway_seconds() > 3600 || ft.max_lifetime_seconds() < 0) {
      return absl::InvalidArgumentError("firm_tokens: leeway_seconds must be 0..3600, max_lifetime_seconds ≥ 0");
    }
  }
  for (int i = 0; i < config.api_key_size(); ++i) {
    const AuthConfig::ApiKey& k = config.api_key(i);
    const std::string where = absl::StrCat("api_key[", i, "]");
    if (k.id().empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": id is required"));
    std::string hex = absl::AsciiStrToLower(k.sha256_hex());
    if (hex.size() != 64 || !std::all_of(hex.begin(), hex.end(), [](char c) { return absl::ascii_isxdigit(c); })) {
      return absl::InvalidArgumentError(absl::StrCat(where, " (", k.id(), "): sha256_hex must be 64 hex digits"));
    }
    if (k.role() == AuthConfig::ROLE_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat(where, " (", k.id(), "): role is required (STAFF or ADMIN)"));
    }
    if (!a.key_by_hash_.emplace(hex, i).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, " (", k.id(), "): the same key hash appears twice"));
    }
  }
  for (const AuthConfig::RateLimit* r : {&config.per_principal(), &config.per_address(),
                                         &config.per_staff_key(), &config.per_admin_key()}) {
    if (r->per_minute() < 0 || r->burst() < 0) {
      return absl::InvalidArgumentError("rate limits must not be negative");
    }
  }
  for (const AuthConfig::ApiKey& k : config.api_key()) {
    if (k.rate_limit().per_minute() < 0 || k.rate_limit().burst() < 0) {
      return absl::InvalidArgumentError(absl::StrCat("api_key (", k.id(), "): rate limits must not be negative"));
    }
  }
  absl::StatusOr<TrustedProxies> proxies = TrustedProxies::Parse(config.trusted_proxies());
  if (!proxies.ok()) return proxies.status();
  a.trusted_proxies_ = *std::move(proxies);
  return a;
}

absl::StatusOr<Principal> Authenticator::Authenticate(const Credentials& c, absl::Time now) const {
  if (!c.authorization.empty()) {
    absl::string_view v = absl::StripAsciiWhitespace(c.authorization);
    const size_t space = v.find(' ');
    const absl::string_view scheme = v.substr(0, space);
    const absl::string_view value =
        space == absl::string_view::npos ? absl::string_view() : absl::StripAsciiWhitespace(v.substr(space + 1));
    if (absl::EqualsIgnoreCase(scheme, "Bearer")) return VerifyToken(value, now);
    if (absl::EqualsIgnoreCase(scheme, "ApiKey")) return VerifyKey(value);
    return Unauthenticated("不支持的认证方式", "unsupported authorization scheme; use Bearer or ApiKey", "unsupported_scheme");
  }
  if (!c.api_key.empty()) return VerifyKey(absl::StripAsciiWhitespace(c.api_key));
  if (!c.cookie.empty()) {
    for (absl::string_view pair : absl::StrSplit(c.cookie, ';')) {
      pair = absl::StripAsciiWhitespace(pair);
      if (absl::ConsumePrefix(&pair, "polmatch_token=")) return VerifyToken(pair, now);
    }
  }
  return Principal{};
}

absl::StatusOr<Principal> Authenticator::VerifyKey(absl::string_view key) const {
  if (key.empty() || key.size() > 1024) return Unauthenticated("API密钥格式错误", "malformed key", "malformed_key");
  // Hashing first makes the lookup independent of the key's bytes; the final compare is
  // constant-time as well.
  const std::string hex = internal::Sha256Hex(key);
  auto it = key_by_hash_.find(hex);
  if (it == key_by_hash_.end()) return Unauthenticated("API密钥无效", "unknown key", "unknown_key");
  const AuthConfig::ApiKey& k = config_.api_key(it->second);
  if (!ConstantTimeEqual(absl::AsciiStrToLower(k.sha256_hex()), hex)) {
    return Unauthenticated("API密钥无效", "unknown key", "unknown_key");
  }
  if (k.revoked()) return Unauthenticated("API密钥已吊销", "revoked key", "revoked_key");
  Principal p;
  p.kind = k.role() == AuthConfig::ADMIN ? CallerKind::kAdmin : CallerKind::kStaff;
  p.id = k.id();
  p.key_index = it->second;
  return p;
}

struct Authenticator::TokenCache {
  struct Entry {
    std::string credit_code;
    int64_t iat, exp, nbf;
  };
  static constexpr int kShards = 16;
  static constexpr size_t kPerShard = 4096;  // 64Ki tokens: a few MiB at most
  struct Shard {
    std::mutex mu;
    absl::flat_hash_map<std::string, Entry> entries;
  };
  Shard shards[kShards];
};

absl::StatusOr<Principal> Authenticator::VerifyToken(absl::string_view token, absl::Time now) const {
  if (hs256_key_.empty() || token.empty() || token.size() > kMaxTokenBytes || token_cache_ == nullptr) {
    return VerifyTokenUncached(token, now);
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  const std::string key(reinterpret_cast<const char*>(digest), sizeof(digest));
  TokenCache::Shard& shard = token_cache_->shards[digest[0] % TokenCache::kShards];
  const int64_t t = absl::ToUnixSeconds(now);
  const AuthConfig::FirmTokens& ft = config_.firm_tokens();
  const int64_t leeway = ft.leeway_seconds() > 0 ? ft.leeway_seconds() : 60;
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.entries.find(key);
    if (it != shard.entries.end()) {
      const TokenCache::Entry& e = it->second;
      // The same checks, in the same order, as the first verification made.
      if (t > e.exp + leeway) return Unauthenticated("登录已过期,请重新登录", "token expired", "expired");
      if (e.iat > t + leeway) return Unauthenticated("登录令牌尚未生效", "token issued in the future", "not_yet_valid");
      if (e.nbf > t + leeway) return Unauthenticated("登录令牌尚未生效", "token not yet valid", "not_yet_valid");
      Principal p;
      p.kind = CallerKind::kFirm;
      p.id = e.credit_code;
      return p;
    }
  }
  TokenCache::Entry e{};
  absl::StatusOr<Principal> p = VerifyTokenUncached(token, now, &e.iat, &e.exp, &e.nbf);
  if (!p.ok()) return p;
  e.credit_code = p->id;
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.entries.size() >= TokenCache::kPerShard) shard.entries.clear();  // bounded; refills as used
  shard.entries.emplace(key, std::move(e));
  return p;
}

absl::StatusOr<Principal> Authenticator::VerifyTokenUncached(absl::string_view token, absl::Time now,
                                                              int64_t* iat_out, int64_t* exp_out,
                                                              int64_t* nbf_out) const {
  if (hs256_key_.empty()) {
    return Unauthenticated("本服务未启用企业登录令牌", "firm tokens are not configured", "tokens_not_configured");
  }
  if (token.empty()) return Unauthenticated("缺少登录令牌", "empty token", "missing");
  if (token.size() > kMaxTokenBytes) return Unauthenticated("登录令牌格式错误", "malformed token: too long", "malformed_token");
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return Unauthenticated("登录令牌格式错误", "malformed token: not three parts", "malformed_token");
  auto header_json = internal::Base64UrlDecode(parts[0]);
  auto claims_json = internal::Base64UrlDecode(parts[1]);
  auto signature = internal::Base64UrlDecode(parts[2]);
  if (!header_json.ok() || !claims_json.ok() || !signature.ok()) {
    return Unauthenticated("登录令牌格式错误", "malformed token: bad base64url", "malformed_token");
  }
  auto header = ParseJsonObject(*header_json);
  if (!header.ok()) return Unauthenticated("登录令牌格式错误", "malformed token: header is not JSON", "malformed_token");
  const google::protobuf::Value* alg = Field(*header, "alg");
  // Only HS256: "none" and algorithm confusion are refused before the signature is looked at.
  if (alg == nullptr || alg->kind_case() != google::protobuf::Value::kStringValue ||
      alg->string_value() != "HS256") {
    return Unauthenticated("登录令牌签名算法不受支持", "unsupported alg: only HS256", "unsupported_alg");
  }
  const std::string signed_part = absl::StrCat(parts[0], ".", parts[1]);
  if (!ConstantTimeEqual(internal::HmacSha256(hs256_key_, signed_part), *signature)) {
    return Unauthenticated("登录令牌签名无效", "bad signature", "bad_signature");
  }
  auto claims = ParseJsonObject(*claims_json);
  if (!claims.ok()) return Unauthenticated("登录令牌格式错误", "malformed token: claims are not JSON", "malformed_token");
  const AuthConfig::FirmTokens& ft = config_.firm_tokens();
  const google::protobuf::Value* iss = Field(*claims, "iss");
  if (iss == nullptr || iss->kind_case() != google::protobuf::Value::kStringValue ||
      iss->string_value() != ft.issuer()) {
    return Unauthenticated("登录令牌签发方不符", "wrong issuer", "wrong_issuer");
  }
  const google::protobuf::Value* aud = Field(*claims, "aud");
  bool aud_ok = false;
  if (aud != nullptr && aud->kind_case() == google::protobuf::Value::kStringValue) {
    aud_ok = aud->string_value() == ft.audience();
  } else if (aud != nullptr && aud->kind_case() == google::protobuf::Value::kListValue) {
    for (const auto& v : aud->list_value().values()) {
      aud_ok = aud_ok || (v.kind_case() == google::protobuf::Value::kStringValue && v.string_value() == ft.audience());
    }
  }
  if (!aud_ok) return Unauthenticated("登录令牌不是签发给本服务的", "wrong audience", "wrong_audience");
  const int64_t t = absl::ToUnixSeconds(now);
  const int64_t leeway = ft.leeway_seconds() > 0 ? ft.leeway_seconds() : 60;
  const std::optional<int64_t> exp = NumericDate(*claims, "exp");
  const std::optional<int64_t> iat = NumericDate(*claims, "iat");
  if (!exp || !iat) return Unauthenticated("登录令牌格式错误", "malformed token: exp and iat are required", "malformed_token");
  if (t > *exp + leeway) return Unauthenticated("登录已过期,请重新登录", "token expired", "expired");
  if (*iat > t + leeway) return Unauthenticated("登录令牌尚未生效", "token issued in the future", "not_yet_valid");
  const std::optional<int64_t> nbf = NumericDate(*claims, "nbf");
  if (nbf && *nbf > t + leeway) return Unauthenticated("登录令牌尚未生效", "token not yet valid", "not_yet_valid");
  const int64_t max_life = ft.max_lifetime_seconds() > 0 ? ft.max_lifetime_seconds() : 86400;
  if (*exp - *iat > max_life) return Unauthenticated("登录令牌有效期过长", "token lifetime too long", "lifetime_too_long");
  const google::protobuf::Value* sub = Field(*claims, "sub");
  if (sub == nullptr || sub->kind_case() != google::protobuf::Value::kStringValue ||
      !ValidateCreditCode(sub->string_value()).ok()) {
    return Unauthenticated("登录令牌未载明有效的统一社会信用代码", "sub is not a valid credit code", "bad_subject");
  }
  Principal p;
  p.kind = CallerKind::kFirm;
  p.id = sub->string_value();
  if (iat_out != nullptr) *iat_out = *iat;
  if (exp_out != nullptr) *exp_out = *exp;
  if (nbf_out != nullptr) *nbf_out = nbf.value_or(0);
  return p;
}

absl::StatusOr<std::string> Authenticator::IssueFirmToken(absl::string_view credit_code,
                                                          absl::Time issued,
                                                          absl::Duration lifetime) const {
  if (hs256_key_.empty()) return absl::FailedPreconditionError("the auth file configures no firm token key");
  if (absl::Status s = ValidateCreditCode(credit_code); !s.ok()) return s;
  std::string claims = "{\"iss\":";
  internal::AppendJsonString(config_.firm_tokens().issuer(), &claims);
  absl::StrAppend(&claims, ",\"aud\":");
  internal::AppendJsonString(config_.firm_tokens().audience(), &claims);
  absl::StrAppend(&claims, ",\"sub\":");
  internal::AppendJsonString(credit_code, &claims);
  const int64_t iat = absl::ToUnixSeconds(issued);
  absl::StrAppend(&claims, ",\"iat\":", iat, ",\"exp\":", iat + absl::ToInt64Seconds(lifetime), "}");
  const std::string signed_part = absl::StrCat(internal::Base64UrlEncode("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"),
                                               ".", internal::Base64UrlEncode(claims));
  return absl::StrCat(signed_part, ".", internal::Base64UrlEncode(internal::HmacSha256(hs256_key_, signed_part)));
}

absl::Status Authorize(const Principal& who, Access access, absl::string_view firm_code) {
  if (access == Access::kPublic) return absl::OkStatus();
  if (who.kind == CallerKind::kPublic) {
    return Unauthenticated(access == Access::kFirmData ? "查看企业数据需要登录" : "需要工作人员的API密钥",
                           "credentials required", "missing");
  }
  absl::Status denied;
  switch (access) {
    case Access::kPublic:
      break;
    case Access::kFirmData:
      if (who.kind == CallerKind::kFirm && who.id != firm_code) {
        denied = absl::PermissionDeniedError("只能查看本企业的数据 (a firm token sees only its own firm)");
      }
      break;
    case Access::kStaff:
      if (who.kind == CallerKind::kFirm) {
        denied = absl::PermissionDeniedError("需要工作人员权限 (an API key with the STAFF or ADMIN role is required)");
      }
      break;
    case Access::kAdmin:
      if (who.kind != CallerKind::kAdmin) {
        denied = absl::PermissionDeniedError("需要管理员权限 (the ADMIN role is required)");
      }
      break;
  }
  if (!denied.ok()) denied.SetPayload(kReasonPayload, absl::Cord("forbidden"));
  return denied;
}

absl::string_view AuthFailureReason(const absl::Status& status) {
  if (status.ok()) return "";
  const auto reason = status.GetPayload(kReasonPayload);
  if (reason) {
    for (absl::string_view known : kAuthFailureReasons) {
      if (*reason == known) return known;
    }
  }
  return status.code() == absl::StatusCode::kPermissionDenied ? "forbidden" : "malformed_token";
}

RateLimitSettings RateLimitSettings::Of(const AuthConfig& config, bool per_address) {
  const bool set = per_address ? config.has_per_address() : config.has_per_principal();
  const AuthConfig::RateLimit& r = per_address ? config.per_address() : config.per_principal();
  if (!set) return per_address ? RateLimitSettings{1200, 200} : RateLimitSettings{600, 100};
  return RateLimitSettings{r.per_minute(), r.burst()};
}

std::optional<RateLimitSettings> RateLimitSettings::ForKey(const AuthConfig& config, int index) {
  if (index < 0 || index >= config.api_key_size()) return std::nullopt;
  const AuthConfig::ApiKey& k = config.api_key(index);
  if (k.has_rate_limit()) return RateLimitSettings{k.rate_limit().per_minute(), k.rate_limit().burst()};
  const bool admin = k.role() == AuthConfig::ADMIN;
  if (admin ? config.has_per_admin_key() : config.has_per_staff_key()) {
    const AuthConfig::RateLimit& r = admin ? config.per_admin_key() : config.per_staff_key();
    return RateLimitSettings{r.per_minute(), r.burst()};
  }
  return std::nullopt;
}

namespace {

// `text` as 16 bytes (IPv4 as IPv4-mapped IPv6); false if it is not an address.
bool ParseAddress(absl::string_view text, unsigned char out[16]) {
  if (text.empty() || text.size() > 45) return false;
  // Only the characters of an address (inet_pton would stop at a NUL and accept what precedes it).
  if (!std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isxdigit(c) || c == '.' || c == ':'; })) {
    return false;
  }
  const std::string z(text);
  unsigned char v4[4];
  if (inet_pton(AF_INET, z.c_str(), v4) == 1) {
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    std::memcpy(out, kMapped, 12);
    std::memcpy(out + 12, v4, 4);
    return true;
  }
  return inet_pton(AF_INET6, z.c_str(), out) == 1;
}

bool IsMapped(const unsigned char a[16]) {
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a, kMapped, 12) == 0;
}

std::string FormatAddress(const unsigned char a[16]) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (IsMapped(a)) {
    inet_ntop(AF_INET, a + 12, buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, a, buf, sizeof(buf));
  }
  return buf;
}

// One X-Forwarded-For entry: "1.2.3.4", "1.2.3.4:80", "2001:db8::1", "[2001:db8::1]" or
// "[2001:db8::1]:80".
bool ParseForwardedEntry(absl::string_view e, unsigned char out[16]) {
  e = absl::StripAsciiWhitespace(e);
  if (e.empty() || e.size() > 64) return false;
  if (e.front() == '[') {
    const size_t close = e.find(']');
    if (close == absl::string_view::npos) return false;
    const absl::string_view rest = e.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || rest.size() < 2 || rest.size() > 6 ||
                          !std::all_of(rest.begin() + 1, rest.end(), absl::ascii_isdigit))) {
      return false;
    }
    return ParseAddress(e.substr(1, close - 1), out);
  }
  const size_t colon = e.find(':');
  if (colon != absl::string_view::npos && e.find(':', colon + 1) == absl::string_view::npos) {
    const absl::string_view port = e.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), absl::ascii_isdigit)) return false;
    e = e.substr(0, colon);
  }
  return ParseAddress(e, out);
}

}  // namespace

absl::StatusOr<TrustedProxies> TrustedProxies::Parse(const google::protobuf::RepeatedPtrField<std::string>& cidrs) {
  TrustedProxies t;
  for (const std::string& entry : cidrs) {
    absl::string_view addr = absl::StripAsciiWhitespace(entry);
    const size_t slash = addr.find('/');
    int prefix = -1;
    if (slash != absl::string_view::npos) {
      const absl::string_view len = addr.substr(slash + 1);
      if (len.empty() || len.size() > 3 || !std::all_of(len.begin(), len.end(), absl::ascii_isdigit)) prefix = 999;
      else prefix = std::stoi(std::string(len));
      addr = addr.substr(0, slash);
    }
    Net n{};
    if (!ParseAddress(addr, n.bytes)) {
      return absl::InvalidArgumentError(absl::StrCat("trusted_proxies: \"", entry, "\" is not an address or CIDR"));
    }
    const bool v4 = IsMapped(n.bytes) && addr.find(':') == absl::string_view::npos;
    const int max = v4 ? 32 : 128;
    if (prefix == -1) prefix = max;
    if (prefix < 0 || prefix > max) {
      return absl::InvalidArgumentError(absl::StrCat("trusted_proxies: \"", entry, "\": prefix length must be 0..", max));
    }
    n.prefix = v4 ? prefix + 96 : prefix;
    t.nets_.push_back(n);
  }
  return t;
}

bool TrustedProxies::Contains(absl::string_view address) const {
  unsigned char a[16];
  if (nets_.empty() || !ParseAddress(address, a)) return false;
  for (const Net& n : nets_) {
    int bits = n.prefix, i = 0;
    for (; bits >= 8; bits -= 8, ++i) {
      if (a[i] != n.bytes[i]) break;
    }
    if (bits >= 8) continue;  // a whole byte differed
    const unsigned mask = bits == 0 ? 0u : (0xffu << (8 - bits)) & 0xffu;
    if (bits == 0 || ((a[i] ^ n.bytes[i]) & mask) == 0) return true;
  }
  return false;
}

std::string TrustedProxies::ClientAddress(absl::string_view peer, absl::string_view forwarded_for) const {
  if (!Contains(peer)) return std::string(peer);
  std::string client(peer);
  unsigned char a[16];
  absl::string_view rest = forwarded_for;
  for (int hops = 0; hops < 32 && !rest.empty(); ++hops) {
    const size_t comma = rest.rfind(',');
    const absl::string_view entry = comma == absl::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == absl::string_view::npos ? absl::string_view() : rest.substr(0, comma);
    if (!ParseForwardedEntry(entry, a)) break;
    client = FormatAddress(a);
    if (!Contains(client)) break;
  }
  return client;
}

RateLimiter::RateLimiter(int per_minute, int burst, size_t max_keys)
    : per_second_(per_minute / 60.0),
      burst_(burst > 0 ? burst : std::max(1, per_minute / 6)),
      max_keys_per_shard_(std::max<size_t>(1, max_keys / kShards)) {}

bool RateLimiter::Allow(absl::string_view key, double now, int* retry_after) {
  if (per_second_ <= 0) return true;
  Shard& shard = shards_[absl::Hash<absl::string_view>()(key) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_keys_per_shard_) {
      // Drop the buckets that have refilled completely: they remember nothing a new one would not.
      for (auto b = shard.buckets.begin(); b != shard.buckets.end();) {
        auto cur = b++;
        if (cur->second.tokens + (now - cur->second.at) * per_second_ >= burst_) shard.buckets.erase(cur);
      }
      // Still full of active callers: refuse the newcomer rather than grow without bound.
      if (shard.buckets.size() >= max_keys_per_shard_) {
        *retry_after = 1;
        return false;
      }
    }
    it = shard.buckets.emplace(std::string(key), Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + std::max(0.0, now - b.at) * per_second_);
  b.at = std::max(b.at, now);
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  *retry_after = std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / per_second_)));
  return false;
}

std::string AuditLine(const AuditEntry& e) {
  std::string out = "{\"time\":";
  internal::AppendJsonString(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", e.time, absl::UTCTimeZone()), &out);
  const std::pair<const char*, const std::string*> fields[] = {
      {"principal", &e.principal}, {"role", &e.role}, {"client", &e.client},
      {"firm", &e.firm}, {"method", &e.method}, {"endpoint", &e.endpoint}};
  for (const auto& [name, value] : fields) {
    absl::StrAppend(&out, ",\"", name, "\":");
    internal::AppendJsonString(*value, &out);
  }
  absl::StrAppend(&out, ",\"status\":", e.status, "}");
  return out;
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::filesystem::path& path,
                                                         uint64_t max_bytes, int keep) {
  if (max_bytes == 0 || keep < 1) return absl::InvalidArgumentError("audit log: size and count must be positive");
  std::unique_ptr<AuditLog> log(new AuditLog(path, max_bytes, keep));
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": the audit log is not a regular file"));
  }
  log->out_.open(path, std::ios::app | std::ios::binary);
  if (!log->out_) return absl::InvalidArgumentError(absl::StrCat(path.string(), ": cannot open the audit log"));
  log->size_ = std::filesystem::exists(path, ec) ? std::filesystem::file_size(path, ec) : 0;
  return log;
}

absl::Status AuditLog::Rotate() {
  out_.close();
  std::error_code ec;
  for (int i = keep_ - 1; i >= 1; --i) {
    const std::filesystem::path from = absl::StrCat(path_.string(), ".", i);
    if (std::filesystem::exists(from, ec)) {
      std::filesystem::rename(from, absl::StrCat(path_.string(), ".", i + 1), ec);
    }
  }
  std::filesystem::rename(path_, absl::StrCat(path_.string(), ".1"), ec);
  out_.open(path_, std::ios::app | std::ios::binary);
  size_ = 0;
  if (!out_) return absl::InternalError(absl::StrCat(path_.string(), ": cannot reopen the audit log"));
  return absl::OkStatus();
}

absl::Status AuditLog::Record(const AuditEntry& entry) {
  const std::string line = AuditLine(entry) + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  if (size_ > 0 && size_ + line.size() > max_bytes_) {
    if (absl::Status s = Rotate(); !s.ok()) return s;
  }
  out_ << line;
  out_.flush();
  if (!out_) return absl::InternalError(absl::StrCat(path_.string(), ": audit write failed"));
  size_ += line.size();
  return absl::OkStatus();
}

absl::Status FilterAuditFile(const std::filesystem::path& path, const AuditFilter& filter,
                             std::vector<std::string>* lines, int* malformed) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": not a readable regular file"));
  }
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto entry = ParseJsonObject(line);
    if (!entry.ok()) {
      ++*malformed;
      continue;
    }
    const auto str = [&](const char* name) -> std::string {
      const google::protobuf::Value* v = Field(*entry, name);
      return v != nullptr && v->kind_case() == google::protobuf::Value::kStringValue ? v->string_value() : "";
    };
    if (!filter.firm.empty() && str("firm") != filter.firm) continue;
    if (!filter.principal.empty() && str("principal") != filter.principal) continue;
    lines->push_back(line);
  }
  return absl::OkStatus();
}

}  // namespace polmatch::http
