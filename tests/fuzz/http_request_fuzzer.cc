// libFuzzer target for the HTTP request path of `polmatch serve`: the input is the byte stream of
// one connection, parsed by Boost.Beast's request parser with the server's limits (pipelined
// requests one after another) and answered by the HttpService route table over a real engine
// (the source tree's rules, a one-firm snapshot). Checks that every answer has a valid status,
// that every JSON answer is valid JSON (UTF-8 included), and that every error is {"error": "…"}.
// The same request also goes to the service behind a gate (serve --auth): its credential header
// fields taken as the server takes them; a refusal is {"error", "reason"} with a known reason;
// a route that is not public answers 2xx only to the staff key (no token can be forged without
// the signing key), and then with the very bytes the open service answers.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "boost/beast/http.hpp"
#include "engine/index/firm_store.h"
#include "engine/index/snapshot.h"
#include "engine/ingest/firm_reader.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/fuzz/fuzz_taxonomy.h"
#include "tools/auth.h"
#include "tools/auth_gate.h"
#include "tools/http_server.h"
#include "tools/http_service.h"

namespace {

namespace bhttp = boost::beast::http;

constexpr size_t kMaxInput = 64 << 10;

void Check(bool ok, const char* what, const std::string& detail) {
  if (!ok) {
    std::cerr << "http_request_fuzzer: " << what << ": " << detail.substr(0, 500) << "\n";
    std::abort();
  }
}

polmatch::http::HttpService& Service() {
  static polmatch::http::HttpService* service = [] {
    polmatch::FirmProfile p;
    p.set_credit_code("91441502MA4W0PA9X8");
    p.set_name("测试企业");
    p.set_region("441502");
    p.set_industry("C13");
    p.set_founded("2015-01-01");
    p.add_tags()->set_id("qual.hitech");
    (*p.mutable_facts())["revenue"] = "12000000";
    absl::StatusOr<polmatch::Firm> firm = polmatch::FirmFromProfile(p, polmatch::FuzzTaxonomy());
    Check(firm.ok(), "the seed firm does not load", std::string(firm.status().message()));
    absl::StatusOr<polmatch::FirmStore> store = polmatch::FirmStore::Build({*firm}, polmatch::FuzzTaxonomy());
    Check(store.ok(), "the store does not build", std::string(store.status().message()));
    const std::string snapshot = "/tmp/http_request_fuzzer." + std::to_string(::getpid()) + ".snap";
    Check(polmatch::WriteSnapshotFile(snapshot, *store, polmatch::FuzzTaxonomy()).ok(), "snapshot", snapshot);
    polmatch::EngineOptions options;
    options.rules_dir = std::string(POLMATCH_SOURCE_DIR) + "/rules";
    options.snapshot_path = snapshot;
    absl::StatusOr<std::unique_ptr<polmatch::Engine>> engine = polmatch::Engine::Create(options);
    ::unlink(snapshot.c_str());
    Check(engine.ok(), "the engine does not load", std::string(engine.status().message()));
    return new polmatch::http::HttpService(*engine->release());
  }();
  return *service;
}

constexpr char kStaffKey[] = "staff-key";

// The same engine behind a gate: firm tokens (a key the fuzzer never sees), one staff key, no
// rate limits (they would make answers depend on earlier inputs).
polmatch::http::HttpService& GatedService() {
  static polmatch::http::HttpService* service = [] {
    polmatch::AuthConfig c;
    c.mutable_firm_tokens()->set_issuer("i");
    c.mutable_firm_tokens()->set_audience("polmatch");
    c.mutable_firm_tokens()->set_hs256_key_base64("c2VjcmV0LWtleS10aGUtZnV6emVyLW5ldmVyLXNlZXMtMDE=");
    polmatch::AuthConfig::ApiKey* k = c.add_api_key();
    k->set_id("staff");
    k->set_sha256_hex(polmatch::http::internal::Sha256Hex(kStaffKey));
    k->set_role(polmatch::AuthConfig::STAFF);
    c.mutable_per_principal()->set_per_minute(0);
    c.mutable_per_address()->set_per_minute(0);
    auto auth = polmatch::http::Authenticator::FromConfig(c, ".");
    Check(auth.ok(), "the auth config", std::string(auth.status().message()));
    polmatch::http::AccessGate::Options o;
    o.auth = new polmatch::http::Authenticator(*std::move(auth));
    auto* s = new polmatch::http::HttpService(Service().engine());
    s->SetGate(new polmatch::http::AccessGate(o));
    return s;
  }();
  return *service;
}

bool KnownReason(const std::string& r) {
  if (r == "rate_limited") return true;
  for (absl::string_view k : polmatch::http::kAuthFailureReasons) {
    if (k == r) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput) return 0;
  polmatch::http::HttpService& service = Service();
  std::string in(reinterpret_cast<const char*>(data), size);
  for (int n = 0; n < 8 && !in.empty(); ++n) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(polmatch::http::kMaxHeaderBytes);
    parser.body_limit(service.options().max_body_bytes);
    parser.eager(true);
    boost::system::error_code ec;
    size_t used = 0;
    while (!parser.is_done()) {
      const size_t n_used = parser.put(boost::asio::buffer(in.data() + used, in.size() - used), ec);
      used += n_used;
      if (ec || n_used == 0) break;
    }
    if (!parser.is_done()) return 0;  // the server answers 400/408/413/431 and closes
    in.erase(0, used);
    const auto& msg = parser.get();
    polmatch::http::Request req{std::string(msg.method_string()), std::string(msg.target()), msg.body()};
    polmatch::http::TakeCredentials(msg.base(), &req);
    const polmatch::http::Response res = service.Handle(req);
    polmatch::http::HttpService& gated = GatedService();
    const int route = gated.Find(req);
    const polmatch::http::Response g = gated.Handle(req, route);
    if (g.status == 401 || g.status == 403 || g.status == 429) {
      google::protobuf::Value v;
      Check(google::protobuf::util::JsonStringToMessage(g.body, &v).ok(), "invalid JSON refusal", g.body);
      Check(v.has_struct_value() && v.struct_value().fields().size() == 2 &&
                v.struct_value().fields().count("error") == 1 && v.struct_value().fields().count("reason") == 1 &&
                KnownReason(v.struct_value().fields().at("reason").string_value()),
            "a refusal that is not {\"error\", \"reason\"}", g.body);
    } else {
      // Not refused: the same answer as the open service gives (the metrics route exists only on
      // a server, so it is absent from both).
      Check(g.status == res.status, "the gate changed the status", req.target);
      Check(g.body == res.body, "the gate changed the answer", req.target);
    }
    if (route >= 0 && gated.RouteAccess(route) != polmatch::http::Access::kPublic && g.status < 300) {
      Check(req.authorization.find(kStaffKey) != std::string::npos || req.api_key.find(kStaffKey) != std::string::npos,
            "registry data without the staff key", req.target);
    }
    Check(res.status >= 200 && res.status <= 599, "status out of range", std::to_string(res.status));
    if (res.content_type != polmatch::http::kJsonType) {
      Check(res.status == 200, "a non-JSON error", res.body);
      continue;
    }
    google::protobuf::Value v;
    Check(google::protobuf::util::JsonStringToMessage(res.body, &v).ok(), "invalid JSON", res.body);
    if (res.status >= 400) {
      Check(v.has_struct_value() && v.struct_value().fields().size() == 1 &&
                v.struct_value().fields().count("error") == 1,
            "an error that is not {\"error\": …}", res.body);
    }
  }
  return 0;
}
