// File: http_server.h
//
// The transport of the HTTP service (SPEC §6): an event-driven HTTP/1.1 server on Boost.Asio and
// Boost.Beast that carries an HttpService. A few I/O threads multiplex every connection; the
// routes that answer in microseconds run inline on them, the slow ones (a body to parse, a long
// list) on a bounded worker pool. No connection can hold a thread: every phase of a request has
// a deadline, so idle, slow or half-sent connections (slowloris) delay nobody else.
//
// Limits and what a client sees past them:
//   header not complete within header_timeout of its first byte     408, connection closed
//   body not complete within body_timeout                            408, connection closed
//   no new request within idle_timeout on a keep-alive connection    connection closed
//   header over max_header_bytes                                     431, connection closed
//   body over max_body_bytes (1 MiB)                                 413, connection closed
//   more than max_connections open                                  503 + Retry-After, closed
//   worker queue full (max_queue slow requests waiting)              503 + Retry-After
// Each request and each rejection gets one access-log line:
//   <time> <client> <METHOD> <target> <status> <µs>us <body bytes>B
// and GET /metrics answers the counters in the Prometheus text format.
//
// Example:
//   polmatch::http::HttpService service(*engine);
//   polmatch::http::HttpServer server(service, {});
//   absl::StatusOr<int> port = server.Listen("127.0.0.1", 8080);
//   server.Start();
//   …                                  // until SIGTERM
//   server.Drain(std::chrono::seconds(10));
#ifndef POLMATCH_TOOLS_HTTP_SERVER_H_
#define POLMATCH_TOOLS_HTTP_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "boost/beast/http/fields.hpp"
#include "tools/http_service.h"

namespace polmatch::http {

// The largest request header (request line and fields) the server reads; beyond it, 431.
inline constexpr size_t kMaxHeaderBytes = 16 << 10;

struct HttpServerOptions {
  int io_threads = 2;      // threads multiplexing the connections (inline routes run here)
  int worker_threads = 2;  // the pool for slow routes (HttpService::IsSlow)
  size_t max_queue = 256;  // slow requests waiting for a worker; beyond it, 503 + Retry-After
  size_t max_connections = 10000;
  size_t max_header_bytes = kMaxHeaderBytes;
  // From a request's first byte to the end of its header; from there to the end of its body;
  // between requests on a keep-alive connection (and before a new connection's first byte);
  // for one response to be written.
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds idle_timeout{15000};
  std::chrono::milliseconds write_timeout{30000};
  std::ostream* access_log = nullptr;  // nullptr: no access log
  // For tests: runs on a worker before each slow request is answered.
  std::function<void()> before_slow_request;
};

// The counters behind GET /metrics that the server does not see itself (serve.cc sets them).
struct EngineCounters {
  std::atomic<int64_t> generation{1};  // 1 at start, +1 per successful reload
  std::atomic<int64_t> reloads{0};
  std::atomic<int64_t> reload_failures{0};
};

// The credential-bearing header fields of a parsed request into `req` (Authorization, X-API-Key,
// Cookie; names case-insensitive; a field sent twice joined, see Request). The server and the
// fuzzers share it.
void TakeCredentials(const boost::beast::http::fields& fields, Request* req);

// Whether `host` (an IP address) is a loopback address (127.0.0.0/8, ::1); an error when it is
// not an IP address.
absl::StatusOr<bool> IsLoopbackAddress(const std::string& host);

class HttpServer {
 public:
  // Adds GET /metrics to `service` (so: construct after adding routes, before any request).
  // `service` must outlive the server.
  HttpServer(HttpService& service, HttpServerOptions options);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();  // drains with no grace (Drain(0)) if still running

  // Binds and listens; returns the port (the one the system chose for port 0).
  absl::StatusOr<int> Listen(const std::string& host, int port);
  // Starts the I/O threads and the worker pool. Call once, after Listen.
  void Start();
  // Stops accepting (new connections are refused), closes idle keep-alive connections, lets the
  // requests in flight finish (each answered with Connection: close), then stops the threads.
  // Connections still open after `grace` are cut. Returns how many were cut.
  size_t Drain(std::chrono::milliseconds grace);

  EngineCounters& engine_counters();
  size_t open_connections() const;
  // The /metrics body.
  std::string MetricsText() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace polmatch::http

#endif  // POLMATCH_TOOLS_HTTP_SERVER_H_
