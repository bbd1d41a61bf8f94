#include "tools/http_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <exception>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "tools/auth_gate.h"

#ifndef POLMATCH_VERSION
#define POLMATCH_VERSION "unknown"
#endif

namespace polmatch::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// After an error answer the client may still be sending (a body over the limit): read and drop
// up to this much for up to this long before closing, so that the answer is not lost to a reset.
constexpr size_t kLingerBytes = size_t{16} << 20;
constexpr std::chrono::milliseconds kLingerTime{2000};

constexpr double kLatencyBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                      0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
constexpr size_t kNumBuckets = sizeof(kLatencyBuckets) / sizeof(kLatencyBuckets[0]);

// A field of the access log: control bytes and spaces inside (none should reach it) shown as
// '?', "-" when empty (a request that could not be parsed).
std::string Printable(absl::string_view s) {
  if (s.empty()) return "-";
  std::string out(s.substr(0, 512));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

// Every value of a header field (names match case-insensitively), joined by `sep`.
template <class Fields, class Name>
std::string JoinedField(const Fields& fields, Name name, absl::string_view sep) {
  std::string out;
  auto range = fields.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) {
    if (!out.empty()) out.append(sep.data(), sep.size());
    out.append(it->value().data(), it->value().size());
  }
  return out;
}

// The request target as the access log shows it: the value of any query parameter whose name
// says it is a credential (token, key, secret, password, …) replaced, so that a client that puts
// one in the URL does not put it in the log.
std::string RedactedTarget(absl::string_view target) {
  const size_t q = target.find('?');
  if (q == absl::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q + 1));
  bool first = true;
  for (absl::string_view pair : absl::StrSplit(target.substr(q + 1), '&')) {
    if (!first) out.push_back('&');
    first = false;
    const size_t eq = pair.find('=');
    const std::string name = absl::AsciiStrToLower(pair.substr(0, eq));
    bool secret = false;
    for (absl::string_view word : {"token", "key", "secret", "passw", "auth", "jwt", "session"}) {
      secret = secret || absl::StrContains(name, word);
    }
    if (secret && eq != absl::string_view::npos) {
      absl::StrAppend(&out, pair.substr(0, eq), "=REDACTED");
    } else {
      absl::StrAppend(&out, pair);
    }
  }
  return out;
}

bool KnownMethod(absl::string_view m) {
  for (absl::string_view k : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (m == k) return true;
  }
  return false;
}

// A fixed pool of workers and a bounded queue: TryPost refuses when the queue is full.
class WorkerPool {
 public:
  WorkerPool(int threads, size_t capacity) : capacity_(std::max<size_t>(1, capacity)) {
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Run(); });
  }
  ~WorkerPool() { Stop(); }

  bool TryPost(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ || queue_.size() >= capacity_) return false;
      queue_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
  }
  // Runs what is queued, then joins.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }

  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

class HttpServer::Impl {
 public:
  class Connection;

  Impl(HttpService& service, HttpServerOptions options)
      : service_(service), options_(std::move(options)) {
    for (int i = 0; i < std::max(1, options_.io_threads); ++i) {
      iocs_.push_back(std::make_unique<net::io_context>(1));
    }
    acceptor_ = std::make_unique<tcp::acceptor>(*iocs_[0]);
  }

  // Counters by route (HttpService's index, the last one for "other") and status.
  void Count(int route, int status, Clock::duration took) {
    const size_t r = route >= 0 && static_cast<size_t>(route) < num_routes_ ? route : num_routes_;
    const int s = status >= 100 && status <= 599 ? status - 100 : 0;
    requests_[r * 500 + s].fetch_add(1, std::memory_order_relaxed);
    const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
    size_t b = 0;
    while (b < kNumBuckets && us > kLatencyBuckets[b] * 1e6) ++b;
    latency_[b].fetch_add(1, std::memory_order_relaxed);
    latency_sum_us_.fetch_add(us, std::memory_order_relaxed);
  }

  void Log(absl::string_view client, absl::string_view method, absl::string_view target, int status,
           Clock::duration took, size_t bytes) {
    if (options_.access_log == nullptr) return;
    const std::string line = absl::StrCat(
        absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", absl::Now(), absl::LocalTimeZone()), " ",
        Printable(client), " ", Printable(method), " ", Printable(RedactedTarget(target)), " ", status, " ",
        std::chrono::duration_cast<std::chrono::microseconds>(took).count(), "us ", bytes, "B\n");
    std::lock_guard<std::mutex> lock(log_mu_);
    options_.access_log->write(line.data(), static_cast<std::streamsize>(line.size()));
    options_.access_log->flush();
  }

  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void Take(tcp::socket socket);  // a new connection: served, or refused past max_connections
  void Register(const std::shared_ptr<Connection>& c);
  void Unregister(std::list<std::weak_ptr<Connection>>::iterator it);

  HttpService& service_;
  const HttpServerOptions options_;
  std::atomic<bool> draining_{false};
  bool started_ = false;

  std::mutex conns_mu_;
  std::condition_variable conns_cv_;
  std::list<std::weak_ptr<Connection>> conns_;
  std::atomic<size_t> open_{0};

  std::mutex log_mu_;

  // Metrics.
  size_t num_routes_ = 0;
  std::unique_ptr<std::atomic<uint64_t>[]> requests_;  // (num_routes_ + 1) × 500 statuses
  std::array<std::atomic<uint64_t>, kNumBuckets + 1> latency_{};
  std::atomic<int64_t> latency_sum_us_{0};
  std::atomic<uint64_t> accepted_{0}, refused_connections_{0}, busy_{0};
  std::array<std::atomic<uint64_t>, 4> timeouts_{};  // idle, header, body, write
  EngineCounters engine_;

  // Last, so that they go first: destroying an io_context destroys the connections its pending
  // handlers hold, which unregister themselves from conns_ above. One io_context per I/O thread
  // (a connection lives on one, so it needs no strand); the first also accepts, and deals the
  // new connections out in turn.
  std::vector<std::unique_ptr<net::io_context>> iocs_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  size_t next_ioc_ = 0;
  std::optional<net::steady_timer> accept_retry_;
  // Keep the I/O threads running while no operation is pending (every connection waiting for a
  // worker, say, while draining).
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::vector<std::thread> io_threads_;
  std::unique_ptr<WorkerPool> pool_;
};

// One client connection. Every handler runs on the connection's io_context (one thread); the
// work of a slow route runs on the pool and comes back to it to be written.
class HttpServer::Impl::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Impl* server, tcp::socket socket)
      : server_(server), stream_(std::move(socket)), deadline_(stream_.get_executor()) {
    beast::error_code ec;
    const tcp::endpoint remote = stream_.remote_endpoint(ec);
    if (!ec) client_ = remote.address().to_string();
    stream_.set_option(tcp::no_delay(true), ec);
    server_->open_.fetch_add(1);
  }
  ~Connection() {
    server_->Unregister(registration_);
  }

  void Start(std::list<std::weak_ptr<Connection>>::iterator registration) {
    registration_ = registration;
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->NextRequest(); });
  }

  // On drain: an idle connection closes now; one in the middle of a request finishes it.
  void Drain() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      if (self->phase_ == Phase::kIdle) self->stream_.close(ignored);
    });
  }

 private:
  enum class Phase { kIdle, kHeader, kBody, kWork, kWrite, kClosing };

  void NextRequest() {
    if (server_->draining_.load()) return Close();
    // A large body grew the buffer: do not keep a mebibyte per idle connection.
    if (buffer_.size() == 0 && buffer_.capacity() > (64 << 10)) buffer_.shrink_to_fit();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options_.max_header_bytes));
    parser_->body_limit(server_->service_.options().max_body_bytes);
    method_.clear();
    target_.clear();
    if (buffer_.size() > 0) return ReadHeader();  // pipelined: the next request is here
    phase_ = Phase::kIdle;
    Arm(requests_ == 0 ? server_->options_.header_timeout : server_->options_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->OnFirstBytes(ec, n);
                            });
  }

  void OnFirstBytes(beast::error_code ec, size_t n) {
    ec = Disarm(ec);
    if (ec) {
      if (ec == beast::error::timeout) server_->timeouts_[0].fetch_add(1);
      return Close();
    }
    buffer_.commit(n);
    ReadHeader();
  }

  void ReadHeader() {
    phase_ = Phase::kHeader;
    Arm(server_->options_.header_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               self->OnHeader(ec);
                             });
  }

  void TakeRequestLine() {
    const auto& req = parser_->get();
    method_ = std::string(req.method_string());
    target_ = std::string(req.target());
  }

  void OnHeader(beast::error_code ec) {
    ec = Disarm(ec);
    started_ = Clock::now();
    if (parser_->is_header_done()) TakeRequestLine();
    if (ec) return ReadFailed(ec, "header");
    if (!KnownMethod(method_)) {
      return Fail(405, absl::StrCat("method ", method_, " is not supported"));
    }
    if (target_.empty() || target_[0] != '/') {
      return Fail(400, "the request target must be a path beginning with /");
    }
    if (parser_->is_done()) return Dispatch();
    const size_t max_body = server_->service_.options().max_body_bytes;
    if (parser_->content_length() && *parser_->content_length() > max_body) {
      return Fail(413, absl::StrCat("request body is larger than ", max_body, " bytes"));
    }
    const auto& req = parser_->get();
    if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
      continue_.emplace(bhttp::status::continue_, req.version());
      Arm(server_->options_.write_timeout);
      bhttp::async_write(stream_, *continue_, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (self->Disarm(ec)) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    phase_ = Phase::kBody;
    Arm(server_->options_.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      ec = self->Disarm(ec);
      self->started_ = Clock::now();
      if (ec) return self->ReadFailed(ec, "body");
      self->Dispatch();
    });
  }

  // A request that could not be read whole: an answer where one helps, then close.
  void ReadFailed(beast::error_code ec, const char* phase) {
    if (ec == beast::error::timeout) {
      server_->timeouts_[phase[0] == 'h' ? 1 : 2].fetch_add(1);
      return Fail(408, absl::StrCat("the request ", phase, " did not arrive in time"));
    }
    if (ec == bhttp::error::body_limit) {
      return Fail(413, absl::StrCat("request body is larger than ",
                                    server_->service_.options().max_body_bytes, " bytes"));
    }
    if (ec == bhttp::error::header_limit) {
      return Fail(431, absl::StrCat("request header is larger than ",
                                    server_->options_.max_header_bytes, " bytes"));
    }
    // The client went away or half-closed mid-request: nobody to answer.
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
        ec == net::error::eof || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted) {
      return Close();
    }
    return Fail(400, absl::StrCat("malformed request: ", ec.message()));
  }

  // Answers an error the transport found, and closes the connection after it.
  void Fail(int status, absl::string_view message) {
    close_after_ = true;
    linger_ = true;
    Send(Response::Error(status, message), -1);
  }

  void Dispatch() {
    ++requests_;
    phase_ = Phase::kWork;
    auto& parsed = parser_->get();
    Request req{method_, target_, std::move(parsed.body())};
    TakeCredentials(parsed.base(), &req);
    req.client = client_;
    keep_alive_ = parsed.keep_alive();
    const int route = server_->service_.Find(req);
    if (!server_->service_.IsSlow(route)) return Send(server_->service_.Handle(req, route), route);
    auto self = shared_from_this();
    const bool queued = server_->pool_->TryPost([self, req = std::move(req), route]() mutable {
      if (self->server_->options_.before_slow_request) self->server_->options_.before_slow_request();
      Response res = self->server_->service_.Handle(req, route);
      net::post(self->stream_.get_executor(), [self, res = std::move(res), route]() mutable {
        self->Send(std::move(res), route);
      });
    });
    if (!queued) {
      server_->busy_.fetch_add(1);
      Response busy = Response::Error(503, "the server is busy: retry later");
      busy.headers.emplace_back("Retry-After", "1");
      Send(std::move(busy), route);
    }
  }

  void Send(Response res, int route) {
    phase_ = Phase::kWrite;
    route_ = route;
    status_ = res.status;
    const bool head = method_ == "HEAD";
    const bool keep = keep_alive_ && !close_after_ && !server_->draining_.load();
    response_.emplace(static_cast<bhttp::status>(res.status), parser_ ? parser_->get().version() : 11);
    auto& out = *response_;
    out.set(bhttp::field::content_type, res.content_type);
    out.set("X-Content-Type-Options", "nosniff");
    out.set(bhttp::field::cache_control, "no-store");
    for (auto& [name, value] : res.headers) out.set(name, value);
    body_bytes_ = res.body.size();
    if (head) {
      out.content_length(body_bytes_);
    } else {
      out.body() = std::move(res.body);
      out.prepare_payload();
    }
    out.keep_alive(keep);
    // Counted and logged as the answer goes out, so that the line exists before the client can
    // have read the answer (the time is the server's: from the request read to the answer ready).
    const Clock::duration took = Clock::now() - started_;
    server_->Count(route_, status_, took);
    server_->Log(client_, method_, target_, status_, took, body_bytes_);
    Arm(server_->options_.write_timeout);
    bhttp::async_write(stream_, out, [self = shared_from_this(), keep](beast::error_code ec, size_t) {
      self->OnWritten(ec, keep);
    });
  }

  void OnWritten(beast::error_code ec, bool keep) {
    ec = Disarm(ec);
    response_.reset();
    if (ec) {
      if (ec == beast::error::timeout) server_->timeouts_[3].fetch_add(1);
      return Close();
    }
    if (!keep) return linger_ ? Linger() : Close();
    NextRequest();
  }

  // Stops sending and reads what the client still sends (bounded in bytes and time) until it
  // closes, so that the kernel does not reset the connection before the answer is read.
  void Linger() {
    phase_ = Phase::kClosing;
    beast::error_code ignored;
    stream_.shutdown(tcp::socket::shutdown_send, ignored);
    if (lingered_ == 0) Arm(kLingerTime);  // one deadline for the whole linger
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(64 << 10), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->lingered_ += n + 1;
      if (ec || self->lingered_ > kLingerBytes) return self->Close();
      self->Linger();
    });
  }

  void Close() {
    phase_ = Phase::kClosing;
    beast::error_code ignored;
    deadline_.cancel();
    stream_.shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close(ignored);
  }

  // A deadline for the operation about to start: when it passes, the operation is cancelled and
  // its handler, through Disarm, sees beast::error::timeout. (Beast's tcp_stream closes the
  // socket at its deadlines, which would leave no way to answer 408.)
  void Arm(std::chrono::milliseconds timeout) {
    timed_out_ = false;
    deadline_.expires_after(timeout);
    deadline_.async_wait([self = shared_from_this(), armed = ++armed_](beast::error_code ec) {
      if (ec || armed != self->armed_) return;
      self->timed_out_ = true;
      beast::error_code ignored;
      self->stream_.cancel(ignored);
    });
  }
  // Ends the deadline of the operation that completed with `ec`; what it completed with.
  beast::error_code Disarm(beast::error_code ec) {
    ++armed_;
    deadline_.cancel();
    if (timed_out_) return beast::error::timeout;
    return ec;
  }

  Impl* const server_;  // outlives the connection (its io_context owns it)
  tcp::socket stream_;
  net::steady_timer deadline_;
  uint64_t armed_ = 0;  // which Arm() the pending deadline belongs to
  bool timed_out_ = false;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::empty_body>> continue_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  std::list<std::weak_ptr<Connection>>::iterator registration_;
  std::string client_, method_, target_;
  Phase phase_ = Phase::kIdle;
  Clock::time_point started_ = Clock::now();
  size_t requests_ = 0, body_bytes_ = 0, lingered_ = 0;
  int route_ = -1, status_ = 0;
  bool keep_alive_ = false, close_after_ = false, linger_ = false;
};

void HttpServer::Impl::Accept() {
  net::io_context& ioc = *iocs_[next_ioc_++ % iocs_.size()];
  acceptor_->async_accept(ioc, [this](beast::error_code ec, tcp::socket s) {
    OnAccept(ec, std::move(s));
  });
}

void HttpServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (draining_.load() || !acceptor_->is_open()) return;
  if (ec) {
    // Out of descriptors (or another transient failure): try again shortly, never spin.
    accept_retry_->expires_after(std::chrono::milliseconds(50));
    accept_retry_->async_wait([this](beast::error_code ec) {
      if (!ec) Accept();
    });
    return;
  }
  Take(std::move(socket));
  // Take what else waits in the backlog now: one accept per trip through the event loop would
  // leave a burst of new connections waiting behind every other connection's work.
  for (int i = 0; i < 256; ++i) {
    beast::error_code again;
    tcp::socket next = acceptor_->accept(*iocs_[next_ioc_++ % iocs_.size()], again);
    if (again) break;  // would_block: the backlog is empty
    Take(std::move(next));
  }
  Accept();
}

void HttpServer::Impl::Take(tcp::socket socket) {
  accepted_.fetch_add(1, std::memory_order_relaxed);
  if (open_.load() >= options_.max_connections) {
    // Over the limit: a short answer and close, without ever waiting on this socket.
    refused_connections_.fetch_add(1, std::memory_order_relaxed);
    static const std::string kBusy = [] {
      const std::string body = "{\"error\":\"too many connections: retry later\"}";
      return absl::StrCat("HTTP/1.1 503 Service Unavailable\r\nContent-Type: ", kJsonType,
                          "\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: ", body.size(),
                          "\r\n\r\n", body);
    }();
    beast::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(net::buffer(kBusy), ignored);
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
    Log("-", "-", "-", 503, Clock::duration::zero(), 0);
    Count(-1, 503, Clock::duration::zero());
  } else {
    auto c = std::make_shared<Connection>(this, std::move(socket));
    Register(c);
  }
}

void HttpServer::Impl::Register(const std::shared_ptr<Connection>& c) {
  std::list<std::weak_ptr<Connection>>::iterator it;
  {
    std::lock_guard<std::mutex> lock(conns_mu_);
    it = conns_.insert(conns_.end(), c);
  }
  c->Start(it);
}

void HttpServer::Impl::Unregister(std::list<std::weak_ptr<Connection>>::iterator it) {
  {
    std::lock_guard<std::mutex> lock(conns_mu_);
    conns_.erase(it);
    open_.fetch_sub(1);
  }
  conns_cv_.notify_all();
}

HttpServer::HttpServer(HttpService& service, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {
  service.AddRoute(
      "GET", "/metrics", "metrics",
      [this](const Call& call) {
        Response res;
        if (!call.NoQuery(&res)) return res;
        res.content_type = "text/plain; version=0.0.4; charset=utf-8";
        res.body = MetricsText();
        return res;
      },
      /*slow=*/false, Access::kAdmin);
  impl_->num_routes_ = service.num_routes();
  impl_->requests_.reset(new std::atomic<uint64_t>[(impl_->num_routes_ + 1) * 500]());
}

HttpServer::~HttpServer() {
  if (impl_->started_) Drain(std::chrono::milliseconds(0));
}

void TakeCredentials(const boost::beast::http::fields& fields, Request* req) {
  req->authorization = JoinedField(fields, bhttp::field::authorization, ", ");
  req->api_key = JoinedField(fields, boost::beast::string_view("X-API-Key"), ", ");
  req->cookie = JoinedField(fields, bhttp::field::cookie, "; ");
  req->forwarded_for = JoinedField(fields, boost::beast::string_view("X-Forwarded-For"), ",");
}

absl::StatusOr<bool> IsLoopbackAddress(const std::string& host) {
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--bind ", host, ": not an IP address"));
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return address.to_v6().to_v4().is_loopback();
  }
  return address.is_loopback();
}

absl::StatusOr<int> HttpServer::Listen(const std::string& host, int port) {
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(host, ": not an IP address"));
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  tcp::acceptor& a = *impl_->acceptor_;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (!ec) a.non_blocking(true, ec);  // OnAccept drains the backlog without blocking
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", host, ":", port, ": ", ec.message()));
  }
  return static_cast<int>(a.local_endpoint().port());
}

void HttpServer::Start() {
  Impl& impl = *impl_;
  impl.started_ = true;
  impl.pool_ = std::make_unique<WorkerPool>(impl.options_.worker_threads, impl.options_.max_queue);
  impl.accept_retry_.emplace(*impl.iocs_[0]);
  for (auto& ioc : impl.iocs_) impl.work_.push_back(net::make_work_guard(*ioc));
  impl.Accept();
  for (auto& ioc : impl.iocs_) {
    impl.io_threads_.emplace_back([ioc = ioc.get()] {
      for (;;) {
        try {
          ioc->run();
          return;
        } catch (const std::exception&) {
          // A handler threw (none should): the connection it served is lost, the server is not.
        }
      }
    });
  }
}

size_t HttpServer::Drain(std::chrono::milliseconds grace) {
  Impl& impl = *impl_;
  if (!impl.started_) return 0;
  impl.started_ = false;
  impl.draining_ = true;
  const auto deadline = Clock::now() + grace;
  net::post(*impl.iocs_[0], [&impl] {
    beast::error_code ignored;
    impl.acceptor_->close(ignored);
    impl.accept_retry_->cancel();
  });
  std::vector<std::shared_ptr<Impl::Connection>> live;
  {
    std::lock_guard<std::mutex> lock(impl.conns_mu_);
    for (const auto& weak : impl.conns_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (const auto& c : live) c->Drain();
  live.clear();
  size_t cut = 0;
  {
    std::unique_lock<std::mutex> lock(impl.conns_mu_);
    impl.conns_cv_.wait_until(lock, deadline, [&impl] { return impl.conns_.empty(); });
    cut = impl.conns_.size();
  }
  impl.work_.clear();
  for (auto& ioc : impl.iocs_) ioc->stop();
  for (std::thread& t : impl.io_threads_) t.join();
  impl.io_threads_.clear();
  impl.pool_->Stop();
  return cut;
}

EngineCounters& HttpServer::engine_counters() { return impl_->engine_; }

size_t HttpServer::open_connections() const { return impl_->open_.load(); }

std::string HttpServer::MetricsText() const {
  const Impl& impl = *impl_;
  std::string out;
  const auto family = [&out](absl::string_view name, absl::string_view type, absl::string_view help) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  };
  family("polmatch_build_info", "gauge", "The polmatch version serving.");
  absl::StrAppend(&out, "polmatch_build_info{version=\"", POLMATCH_VERSION, "\"} 1\n");

  family("polmatch_http_requests_total", "counter", "Requests answered, by route and status.");
  // Routes sharing a name (/ and /index.html) are summed; "other" is no route.
  std::vector<std::string> names;
  for (size_t r = 0; r <= impl.num_routes_; ++r) {
    const std::string& name = impl.service_.RouteName(r < impl.num_routes_ ? static_cast<int>(r) : -1);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  for (const std::string& name : names) {
    for (int s = 0; s < 500; ++s) {
      uint64_t n = 0;
      for (size_t r = 0; r <= impl.num_routes_; ++r) {
        if (impl.service_.RouteName(r < impl.num_routes_ ? static_cast<int>(r) : -1) == name) {
          n += impl.requests_[r * 500 + s].load(std::memory_order_relaxed);
        }
      }
      if (n > 0) absl::StrAppend(&out, "polmatch_http_requests_total{route=\"", name, "\",status=\"", s + 100, "\"} ", n, "\n");
    }
  }
  family("polmatch_http_request_duration_seconds", "histogram",
         "From a request read whole to its answer ready to send.");
  uint64_t cumulative = 0;
  for (size_t b = 0; b <= kNumBuckets; ++b) {
    cumulative += impl.latency_[b].load(std::memory_order_relaxed);
    absl::StrAppend(&out, "polmatch_http_request_duration_seconds_bucket{le=\"",
                    b < kNumBuckets ? absl::StrCat(kLatencyBuckets[b]) : std::string("+Inf"), "\"} ",
                    cumulative, "\n");
  }
  absl::StrAppend(&out, "polmatch_http_request_duration_seconds_sum ",
                  absl::StrFormat("%.6f", impl.latency_sum_us_.load() / 1e6), "\n",
                  "polmatch_http_request_duration_seconds_count ", cumulative, "\n");
  family("polmatch_http_open_connections", "gauge", "Client connections open now.");
  absl::StrAppend(&out, "polmatch_http_open_connections ", impl.open_.load(), "\n");
  family("polmatch_http_connections_total", "counter", "Connections accepted.");
  absl::StrAppend(&out, "polmatch_http_connections_total ", impl.accepted_.load(), "\n");
  family("polmatch_http_refused_connections_total", "counter",
         "Connections answered 503 and closed: --max-connections were open.");
  absl::StrAppend(&out, "polmatch_http_refused_connections_total ", impl.refused_connections_.load(), "\n");
  family("polmatch_http_busy_total", "counter", "Requests answered 503: the worker queue was full.");
  absl::StrAppend(&out, "polmatch_http_busy_total ", impl.busy_.load(), "\n");
  family("polmatch_http_timeouts_total", "counter", "Connections closed at a deadline, by phase.");
  const char* const phases[] = {"idle", "header", "body", "write"};
  for (int i = 0; i < 4; ++i) {
    absl::StrAppend(&out, "polmatch_http_timeouts_total{phase=\"", phases[i], "\"} ", impl.timeouts_[i].load(), "\n");
  }
  family("polmatch_engine_generation", "gauge", "The engine state serving: 1 at start, +1 per reload.");
  absl::StrAppend(&out, "polmatch_engine_generation ", impl.engine_.generation.load(), "\n");
  family("polmatch_snapshot_firms", "gauge", "Firms in the snapshot serving.");
  absl::StrAppend(&out, "polmatch_snapshot_firms ", impl.service_.engine().num_firms(), "\n");
  family("polmatch_catalog_policies", "gauge", "Policies in the catalog serving.");
  absl::StrAppend(&out, "polmatch_catalog_policies ", impl.service_.engine().num_policies(), "\n");
  family("polmatch_reloads_total", "counter", "Reloads (SIGHUP) that succeeded.");
  absl::StrAppend(&out, "polmatch_reloads_total ", impl.engine_.reloads.load(), "\n");
  family("polmatch_reload_failures_total", "counter", "Reloads that failed (the previous state kept serving).");
  absl::StrAppend(&out, "polmatch_reload_failures_total ", impl.engine_.reload_failures.load(), "\n");
  if (impl.service_.gate() != nullptr) impl.service_.gate()->AppendMetrics(&out);
  return out;
}

}  // namespace polmatch::http
