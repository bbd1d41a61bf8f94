// libFuzzer target for the HTTP request path of `polmatch serve`: the input is the byte stream of
// one connection, parsed by Boost.Beast's request parser with the server's limits (pipelined
// requests one after another) and answered by the HttpService route table over a real engine
// (the source tree's rules, a one-firm snapshot). Checks that every answer has a valid status,
// that every JSON answer is valid JSON (UTF-8 included), and that every error is {"error": "…"}.
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
    const polmatch::http::Response res = service.Handle(req);
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
