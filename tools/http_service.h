// File: http_service.h
//
// The HTTP face of polmatch::Engine (SPEC §6): the JSON endpoints a portal calls and the portal
// page itself, registered on a cpp-httplib server. `polmatch serve` runs it; tests run it on a
// loopback port in-process.
//
//   GET  /api/v1/firms/{credit_code}/matches?as_of=YYYY-MM-DD          the `query --json` object
//   GET  /api/v1/firms/{credit_code}/policies/{id}/explain?as_of=…     one policy explained
//                                                                      (the `check --json` object)
//   POST /api/v1/evaluate?as_of=…   (body: FirmProfile JSON)           政策计算器: an unregistered firm
//   GET  /api/v1/policies/{id}                                         the policy as written
//   GET  /healthz                                                      "ok"
//   GET  /                                                             the portal page
//
// `as_of` defaults to today. Errors are {"error": "…"} with 400 (malformed code, date, query
// parameter or body), 404 (unknown firm, policy or path), 405 (wrong method, with Allow), 413
// (body over the limit) or 500; no request can take the server down.
//
// Example:
//   polmatch::http::HttpService service(*engine, {});
//   httplib::Server server;
//   service.Register(server);
//   server.listen("127.0.0.1", 8080);
#ifndef POLMATCH_TOOLS_HTTP_SERVICE_H_
#define POLMATCH_TOOLS_HTTP_SERVICE_H_

#include <cstddef>
#include <functional>
#include <mutex>
#include <ostream>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "polmatch/engine.h"
#include "tools/matches_json.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace polmatch::http {

struct HttpServiceOptions {
  // Largest request body accepted; larger ones get 413 (SPEC §6: 1 MiB).
  size_t max_body_bytes = size_t{1} << 20;
  // Worker threads. cpp-httplib holds a thread per open connection (keep-alive included), so
  // this also bounds concurrent connections; keep_alive_seconds frees idle ones quickly.
  int threads = 8;
  int read_timeout_seconds = 5;
  int write_timeout_seconds = 5;
  int keep_alive_seconds = 2;
  size_t keep_alive_max_requests = 1000;
  // One line per request ("<time> <client> <METHOD> <target> <status> <µs>us"); nullptr: none.
  std::ostream* access_log = nullptr;
};

// Thread-safe: handlers run concurrently on the server's workers and only read the engine, whose
// Reload() may run at any time. Not copyable; must outlive the server it is registered on.
class HttpService {
 public:
  HttpService(const Engine& engine, HttpServiceOptions options);
  HttpService(const HttpService&) = delete;
  HttpService& operator=(const HttpService&) = delete;

  // Registers the routes, error and exception handlers, limits (body size, timeouts), the
  // worker pool and the access log on `server`.
  void Register(httplib::Server& server);

  // The portal page served at GET / (tools/portal/index.html, embedded at build time).
  static const std::string& PortalPage();

 private:
  struct Call;  // one request being answered
  using Handler = void (HttpService::*)(Call&) const;
  struct Route {
    std::string method;  // GET or POST
    std::regex pattern;  // the whole path; groups are the path parameters
    Handler handler;
  };

  void Dispatch(const httplib::Request& req, httplib::Response& res, const std::string& body) const;
  void LogRequest(const httplib::Request& req, const httplib::Response& res) const;

  void Health(Call& call) const;
  void Portal(Call& call) const;
  void Matches(Call& call) const;
  void Grants(Call& call) const;
  void Explain(Call& call) const;
  void Evaluate(Call& call) const;
  void GetPolicy(Call& call) const;

  const Engine& engine_;
  const HttpServiceOptions options_;
  std::vector<Route> routes_;
  mutable std::mutex log_mu_;
};

}  // namespace polmatch::http

#endif  // POLMATCH_TOOLS_HTTP_SERVICE_H_
