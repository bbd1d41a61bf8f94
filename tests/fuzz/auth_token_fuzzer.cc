// libFuzzer target for the credentials the HTTP service reads from a request: the Authorization
// header (Bearer JWT or ApiKey), X-API-Key and the Cookie header. Whatever the bytes, the answer
// is a principal or an Unauthenticated error; and a token the fuzzer forges without the key is
// never accepted as a firm. The bytes are also parsed as a request's header block (Boost.Beast,
// as the server parses it) and its credential fields taken as the server takes them; and as an
// X-Forwarded-For field behind a trusted proxy: the client address is the peer or a canonical
// address, never the fuzzer's text.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "boost/beast/http.hpp"
#include "tools/auth.h"
#include "tools/http_server.h"

namespace {

const polmatch::http::Authenticator& Auth() {
  static const polmatch::http::Authenticator* auth = [] {
    polmatch::AuthConfig c;
    c.mutable_firm_tokens()->set_issuer("i");
    c.mutable_firm_tokens()->set_audience("polmatch");
    c.mutable_firm_tokens()->set_hs256_key_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
    polmatch::AuthConfig::ApiKey* k = c.add_api_key();
    k->set_id("staff");
    k->set_sha256_hex(polmatch::http::internal::Sha256Hex("staff-key"));
    k->set_role(polmatch::AuthConfig::STAFF);
    auto a = polmatch::http::Authenticator::FromConfig(c, ".");
    if (!a.ok()) std::abort();
    return new polmatch::http::Authenticator(*std::move(a));
  }();
  return *auth;
}

const polmatch::http::TrustedProxies& Proxies() {
  static const polmatch::http::TrustedProxies* proxies = [] {
    google::protobuf::RepeatedPtrField<std::string> list;
    *list.Add() = "127.0.0.0/8";
    *list.Add() = "10.0.0.0/8";
    *list.Add() = "fd00::/8";
    auto t = polmatch::http::TrustedProxies::Parse(list);
    if (!t.ok()) std::abort();
    return new polmatch::http::TrustedProxies(*std::move(t));
  }();
  return *proxies;
}

// The client address from `forwarded_for` behind a trusted peer: the peer, or an address that
// inet_pton reads back (no spaces, quotes or control bytes reach the audit trail or a bucket key).
void CheckClient(const std::string& forwarded_for) {
  for (const char* peer : {"127.0.0.1", "::ffff:10.1.2.3", "203.0.113.5"}) {
    const std::string client = Proxies().ClientAddress(peer, forwarded_for);
    if (client == peer) continue;
    if (std::string(peer) == "203.0.113.5") std::abort();  // an untrusted peer's header is ignored
    unsigned char buf[16];
    if (inet_pton(AF_INET, client.c_str(), buf) != 1 && inet_pton(AF_INET6, client.c_str(), buf) != 1) std::abort();
    if (client.size() > 45 || client.find_first_not_of("0123456789abcdef.:") != std::string::npos) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const absl::Time now = absl::FromUnixSeconds(1780000000);
  using polmatch::http::CallerKind;
  using polmatch::http::Credentials;
  // As each header in turn, and as the parts of a token the fuzzer assembles.
  const std::string bearer = "Bearer " + bytes;
  const std::string apikey = "ApiKey " + bytes;
  const std::string cookie = "a=b; polmatch_token=" + bytes;
  for (Credentials c : {Credentials{bytes, "", ""}, Credentials{bearer, "", ""}, Credentials{apikey, "", ""},
                        Credentials{"", bytes, ""}, Credentials{"", "", bytes}, Credentials{"", "", cookie}}) {
    auto p = Auth().Authenticate(c, now);
    // Without the key, no input may become a firm (the only way is a valid HMAC).
    if (p.ok() && p->kind == CallerKind::kFirm) std::abort();
    if (p.ok() && p->kind == CallerKind::kStaff && bytes.find("staff-key") == std::string::npos) std::abort();
  }
  CheckClient(bytes);
  // As a header block.
  namespace bhttp = boost::beast::http;
  bhttp::request_parser<bhttp::empty_body> parser;
  parser.header_limit(polmatch::http::kMaxHeaderBytes);
  boost::system::error_code ec;
  const std::string head = "GET /api/v1/firms/91441502MA4W0PA9X8/matches HTTP/1.1\r\n" + bytes;
  parser.put(boost::asio::buffer(head), ec);
  if (parser.is_header_done()) {
    polmatch::http::Request req;
    polmatch::http::TakeCredentials(parser.get().base(), &req);
    CheckClient(req.forwarded_for);
    auto p = Auth().Authenticate(Credentials{req.authorization, req.api_key, req.cookie}, now);
    if (p.ok() && p->kind == CallerKind::kFirm) std::abort();
    if (p.ok() && p->kind == CallerKind::kStaff && bytes.find("staff-key") == std::string::npos) std::abort();
    if (p.ok()) {
      const absl::Status may = polmatch::http::Authorize(*p, polmatch::http::Access::kFirmData, "91441502MA4W0PA9X8");
      if (!may.ok() && p->kind != CallerKind::kPublic) std::abort();  // staff may read any firm
      if (may.ok() && p->kind == CallerKind::kPublic) std::abort();
    }
  }
  return 0;
}
