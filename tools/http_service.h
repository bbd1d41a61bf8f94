// File: http_service.h
//
// The HTTP face of polmatch::Engine (SPEC §6), apart from the transport: a route table and the
// handlers that turn one parsed request into one response. tools/http_server.h carries it over
// sockets (connections, deadlines, limits); the HTTP fuzzer and the tests call it directly.
//
//   GET  /api/v1/firms/{credit_code}/matches?as_of=YYYY-MM-DD          the `query --json` object
//   GET  /api/v1/firms/{credit_code}/policies/{id}/explain?as_of=…     one policy explained
//                                                                      (the `check --json` object)
//   POST /api/v1/evaluate?as_of=…   (body: FirmProfile JSON)           政策计算器: an unregistered firm
//   GET  /api/v1/policies?as_of=…                                      the policies in force
//   GET  /api/v1/policies/{id}                                         the policy as written
//   GET  /healthz                                                      "ok"
//   GET  /                                                             the portal page
//
// `as_of` defaults to today. Errors are {"error": "…"} with 400 (malformed code, date, query
// parameter or body), 404 (unknown firm, policy or path), 405 (wrong method, with Allow), 413
// (body over the limit) or 500; no request can take the server down.
//
// Adding an endpoint is one line in the route table (HttpService::HttpService) or one AddRoute
// call: a method, a path pattern whose `{name}` segments are parameters, a short route name (the
// `route` label of /metrics) and a handler.
//
// Example:
//   polmatch::http::HttpService service(*engine);
//   polmatch::http::Request req{"GET", "/api/v1/firms/91441502MA4W0PA9X8/matches", {}};
//   polmatch::http::Response res = service.Handle(req);   // res.status, res.body
#ifndef POLMATCH_TOOLS_HTTP_SERVICE_H_
#define POLMATCH_TOOLS_HTTP_SERVICE_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "polmatch/engine.h"
#include "tools/auth.h"
#include "tools/matches_json.h"

namespace polmatch::http {

class AccessGate;  // tools/auth_gate.h

inline constexpr char kJsonType[] = "application/json; charset=utf-8";

// One request as the transport parsed it.
struct Request {
  std::string method;  // as sent: "GET", "POST", …
  std::string target;  // the request target: path and query, still percent-encoded
  std::string body;
  // The credential-bearing header fields (names matched case-insensitively), "" when absent.
  // A field sent more than once is kept joined by ", " (Cookie: by "; "), which no valid
  // credential contains, so that a request cannot smuggle a second one past the first.
  std::string authorization;  // Authorization
  std::string api_key;        // X-API-Key
  std::string cookie;         // Cookie
  std::string forwarded_for;  // X-Forwarded-For (joined by ","; believed only from trusted_proxies)
  std::string client;         // the peer's IP address ("" when unknown: the fuzzer, direct calls)
};

struct Response {
  int status = 200;
  std::string content_type = kJsonType;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type/-Length

  // {"error": message} with `status`.
  static Response Error(int status, absl::string_view message);
};

// What a handler sees of a request: the decoded path parameters and query, and the body.
class Call {
 public:
  Call(const Request& req, std::vector<std::string> params,
       std::vector<std::pair<std::string, std::string>> query)
      : req_(req), params_(std::move(params)), query_(std::move(query)) {}

  const Request& request() const { return req_; }
  const std::string& body() const { return req_.body; }
  // The i-th `{…}` segment of the route's pattern, percent-decoded.
  const std::string& Param(size_t i) const { return params_[i]; }

  // The evaluation date: ?as_of=YYYY-MM-DD, today when absent or empty. Any other query
  // parameter is an error (a misspelt `asof` must not silently mean today). nullopt after
  // setting the 400 answer in *error.
  std::optional<absl::CivilDay> AsOf(Response* error) const;
  // Endpoints without query parameters reject any (they would be ignored otherwise).
  bool NoQuery(Response* error) const;

 private:
  const Request& req_;
  std::vector<std::string> params_;
  std::vector<std::pair<std::string, std::string>> query_;
};

struct HttpServiceOptions {
  // Largest request body accepted; the transport answers 413 beyond it (SPEC §6: 1 MiB).
  size_t max_body_bytes = size_t{1} << 20;
};

// Thread-safe: Handle() runs concurrently on any number of threads and only reads the engine,
// whose Reload() may run at any time. Routes are added before the first Handle().
class HttpService {
 public:
  using Handler = std::function<Response(const Call&)>;

  using Options = HttpServiceOptions;

  explicit HttpService(const Engine& engine, Options options = {});
  HttpService(const HttpService&) = delete;
  HttpService& operator=(const HttpService&) = delete;

  // Adds a route. `pattern` is a path of literal segments and `{name}` segments (one non-empty
  // segment each, passed to the handler decoded, in order). `slow` routes (a large body to parse,
  // a long list) run on the server's worker pool; the others answer inline on the I/O threads.
  // `access` is who may call it once a gate is set (SetGate): kFirmData routes name the firm in
  // their `{code}` segment; a route that does not say is kStaff (registry data is never public
  // by accident).
  void AddRoute(std::string method, std::string pattern, std::string name, Handler handler,
                bool slow = false, Access access = Access::kStaff);

  // Authentication, authorization per route, rate limits and the access audit (serve --auth,
  // --audit-log). Without a gate every route answers everyone (serve's loopback-only default).
  // Set before the first Handle(); `gate` must outlive the service.
  void SetGate(AccessGate* gate) { gate_ = gate; }
  AccessGate* gate() const { return gate_; }
  Access RouteAccess(int route) const { return route >= 0 ? routes_[route].access : Access::kPublic; }

  // Where a request goes: the index of its route (for RouteName / IsSlow), or -1 when none
  // matches path and method (Handle answers 404 or 405).
  int Find(const Request& req) const;
  const std::string& RouteName(int route) const;
  bool IsSlow(int route) const { return route >= 0 && routes_[route].slow; }
  size_t num_routes() const { return routes_.size(); }

  // The answer to `req`, route found by Find (pass it when known, else it is looked up).
  // HEAD is answered as GET, with the body (the transport sends only its length).
  Response Handle(const Request& req, std::optional<int> route = std::nullopt) const;

  const Options& options() const { return options_; }
  const Engine& engine() const { return engine_; }

  // The portal page served at GET / (tools/portal/index.html, embedded at build time).
  static const std::string& PortalPage();

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{…}" for a parameter
    std::string name;
    Handler handler;
    bool slow = false;
    Access access = Access::kStaff;
    int firm_param = -1;        // which parameter is `{code}` (kFirmData)
    bool rate_limited = true;   // /healthz is not: a load balancer's probe must not get 429
  };

  Response Dispatch(const Route& route, const Request& req, std::vector<std::string> params) const;

  Response Health(const Call& call) const;
  Response Portal(const Call& call) const;
  Response Matches(const Call& call) const;
  Response Explain(const Call& call) const;
  Response Evaluate(const Call& call) const;
  Response ListPolicies(const Call& call) const;
  Response GetPolicy(const Call& call) const;
  Response Grants(const Call& call) const;

  const Engine& engine_;
  const Options options_;
  std::vector<Route> routes_;
  AccessGate* gate_ = nullptr;
};

namespace internal {
// The path of a request target (before '?'), split at '/' into its raw (still encoded) segments;
// "/" gives one empty segment.
std::vector<absl::string_view> PathSegments(absl::string_view target);
// Percent-decoding; `plus_is_space` for query strings. Malformed escapes are kept as written.
std::string PercentDecode(absl::string_view s, bool plus_is_space);
}  // namespace internal

}  // namespace polmatch::http

#endif  // POLMATCH_TOOLS_HTTP_SERVICE_H_
