// A small blocking HTTP/1.1 client for the tests of the HTTP service: plain POSIX sockets with a
// deadline on every read, responses parsed by Boost.Beast. RawConnection sends arbitrary bytes
// (half a header, pipelined requests, a half-close) and reads what comes back; HttpClient sends
// one request at a time, keeping the connection when asked to.
#ifndef POLMATCH_TESTS_HTTP_TEST_CLIENT_H_
#define POLMATCH_TESTS_HTTP_TEST_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "boost/beast/http.hpp"

namespace polmatch::testing {

struct HttpReply {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  std::string get_header_value(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(k, name)) return v;
    }
    return "";
  }
  bool has_header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(k, name)) return true;
    }
    return false;
  }
};

// A reply or why there is none.
class HttpResult {
 public:
  HttpResult() = default;
  explicit HttpResult(HttpReply reply) : reply_(std::move(reply)) {}
  static HttpResult Failed(std::string why) {
    HttpResult r;
    r.error_ = std::move(why);
    return r;
  }
  explicit operator bool() const { return reply_.has_value(); }
  // Without a reply: an empty one (status 0), so that a failed request fails the test's
  // assertions on it instead of crashing the test binary.
  const HttpReply* operator->() const { return reply_ ? &*reply_ : &kNone; }
  const HttpReply& operator*() const { return *operator->(); }
  const std::string& error() const { return error_; }

 private:
  static inline const HttpReply kNone{};
  std::optional<HttpReply> reply_;
  std::string error_;
};

class RawConnection {
 public:
  using Clock = std::chrono::steady_clock;

  RawConnection() = default;
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  RawConnection(RawConnection&& o) noexcept : fd_(std::exchange(o.fd_, -1)), buf_(std::move(o.buf_)) {}
  RawConnection& operator=(RawConnection&& o) noexcept {
    Close();
    fd_ = std::exchange(o.fd_, -1);
    buf_ = std::move(o.buf_);
    return *this;
  }
  ~RawConnection() { Close(); }

  // Connects to 127.0.0.1:port. False when refused.
  bool Connect(int port) {
    Close();
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      Close();
      return false;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return true;
  }
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Sends all of `bytes`; false when the peer no longer takes them.
  bool Send(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        return false;
      }
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  // Reads one response (of a HEAD request when `head`) within `timeout`.
  HttpResult Read(std::chrono::milliseconds timeout = std::chrono::seconds(10), bool head = false) {
    namespace bhttp = boost::beast::http;
    const Clock::time_point deadline = Clock::now() + timeout;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser.header_limit(1 << 20);
    parser.skip(head);
    bool eof = false;
    for (;;) {
      boost::system::error_code ec;
      if (!buf_.empty()) {
        const size_t used = parser.put(boost::asio::buffer(buf_), ec);
        buf_.erase(0, used);
        if (ec && ec != bhttp::error::need_more) return HttpResult::Failed("bad response: " + ec.message());
        if (parser.is_done()) break;
        if (used > 0 && !buf_.empty()) continue;
      }
      if (eof) {
        parser.put_eof(ec);
        if (!ec && parser.is_done()) break;
        return HttpResult::Failed(buf_.empty() && !parser.got_some() ? "connection closed" : "truncated response");
      }
      const int got = Fill(deadline);
      if (got < 0) return HttpResult::Failed("timed out");
      if (got == 0) eof = true;
    }
    HttpReply reply;
    const auto& res = parser.get();
    reply.status = static_cast<int>(res.result_int());
    reply.body = res.body();
    for (const auto& field : res) reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    return HttpResult(std::move(reply));
  }

  // Whether the server closes the connection within `timeout` (what it sends before is dropped).
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const Clock::time_point deadline = Clock::now() + timeout;
    for (;;) {
      buf_.clear();
      const int got = Fill(deadline);
      if (got < 0) return false;
      if (got == 0) return true;
    }
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }

 private:
  // Appends what arrives by `deadline`: bytes read (> 0), 0 at EOF or reset, -1 on timeout.
  int Fill(Clock::time_point deadline) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return -1;
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return -1;
      char chunk[64 << 10];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0;
      buf_.append(chunk, static_cast<size_t>(n));
      return static_cast<int>(n);
    }
  }

  int fd_ = -1;
  std::string buf_;  // read, not yet parsed
};

// Blocking requests in the manner of a simple client library: a new connection per request
// unless set_keep_alive(true), then one connection reused (and reopened once if the server
// closed it in between).
class HttpClient {
 public:
  // The next chunk of a streamed body, given the bytes sent so far; nullopt at the end.
  using ChunkSource = std::function<std::optional<std::string>(size_t offset)>;

  HttpClient(std::string host, int port) : port_(port) { (void)host; }
  void set_read_timeout(int seconds, int /*micros*/) { timeout_ = std::chrono::seconds(seconds); }
  void set_keep_alive(bool on) { keep_alive_ = on; }

  HttpResult Get(const std::string& path) { return Send("GET", path, "", ""); }
  HttpResult Head(const std::string& path) { return Send("HEAD", path, "", ""); }
  HttpResult Options(const std::string& path) { return Send("OPTIONS", path, "", ""); }
  HttpResult Delete(const std::string& path) { return Send("DELETE", path, "", ""); }
  HttpResult Post(const std::string& path, const std::string& body, const std::string& type) {
    return Send("POST", path, body, type);
  }
  // A body sent with Transfer-Encoding: chunked, as `source` produces it.
  HttpResult Post(const std::string& path, const ChunkSource& source, const std::string& type) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = Open();
      bool sent = conn_.Send(RequestHead("POST", path, type, std::nullopt));
      size_t offset = 0;
      while (sent) {
        std::optional<std::string> chunk = source(offset);
        if (!chunk) {
          sent = conn_.Send("0\r\n\r\n");
          break;
        }
        offset += chunk->size();
        sent = conn_.Send(absl::StrCat(absl::Hex(chunk->size()), "\r\n", *chunk, "\r\n"));
      }
      // Even when the server stopped taking the body, its answer may be there.
      HttpResult r = conn_.Read(timeout_);
      if (r || !reused) return Done(std::move(r));
      conn_.Close();
    }
    return HttpResult::Failed("unreachable");
  }

  HttpResult Send(const std::string& method, const std::string& path, const std::string& body,
                  const std::string& type) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = Open();
      const bool with_body = !body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
      std::string request = RequestHead(method, path, type, with_body ? std::optional<size_t>(body.size()) : std::nullopt);
      request += body;
      const bool sent = conn_.Send(request);
      HttpResult r = conn_.Read(timeout_, method == "HEAD");
      if (r || !reused) {
        if (!r && !sent) return HttpResult::Failed("could not send the request");
        return Done(std::move(r));
      }
      conn_.Close();  // the server had closed the kept connection: once more on a new one
    }
    return HttpResult::Failed("unreachable");
  }

 private:
  // Connects unless a kept connection is open; true when reusing one.
  bool Open() {
    if (conn_.connected()) return true;
    conn_.Connect(port_);
    return false;
  }
  std::string RequestHead(const std::string& method, const std::string& path, const std::string& type,
                          std::optional<size_t> length) const {
    std::string h = absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: 127.0.0.1:", port_, "\r\n");
    if (!keep_alive_) h += "Connection: close\r\n";
    if (!type.empty()) absl::StrAppend(&h, "Content-Type: ", type, "\r\n");
    if (length) {
      absl::StrAppend(&h, "Content-Length: ", *length, "\r\n");
    } else if (method == "POST" && type.size() > 0) {
      h += "Transfer-Encoding: chunked\r\n";
    }
    return h + "\r\n";
  }
  HttpResult Done(HttpResult r) {
    if (!r || !keep_alive_ || absl::EqualsIgnoreCase(r->get_header_value("Connection"), "close")) conn_.Close();
    return r;
  }

  int port_;
  std::chrono::milliseconds timeout_{std::chrono::seconds(10)};
  bool keep_alive_ = false;
  RawConnection conn_;
};

}  // namespace polmatch::testing

#endif  // POLMATCH_TESTS_HTTP_TEST_CLIENT_H_
