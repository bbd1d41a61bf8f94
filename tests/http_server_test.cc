// The transport of the HTTP service (tools/http_server.h): every limit and deadline (slow
// headers, slow bodies, idle keep-alive, oversized headers and bodies, --max-connections, a full
// worker queue), pipelining, half-closed sockets, draining; and `polmatch serve` as a process
// under load: 1,000 keep-alive connections, 200 slowloris connections beside a normal client, a
// reload storm and SIGTERM, with its thread count and memory checked before and after.
// Loopback only; every wait is bounded; nothing asserts how long anything took.
#include "tools/http_server.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/http_test_client.h"
#include "tests/http_test_fixture.h"
#include "tests/test_util.h"
#include "tools/http_service.h"

extern char** environ;

namespace polmatch {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using testing::HttpClient;
using testing::HttpResult;
using testing::RawConnection;
using std::chrono::milliseconds;

constexpr char kHealth[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

// A gate the worker pool's test hook waits at: tests hold slow requests in flight with it.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Until `n` requests wait at the gate (bounded).
  bool AwaitWaiting(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return waiting_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  bool open_ = false;
};

// A small registry and catalog on disk: three firms; one policy in force only in 2023.
constexpr char kPolicies[] =
    "policy { id: \"grant\" title: \"高企奖励\" issuer: \"某市科技局\" source { document: \"某市办法\" } "
    "mode: AUTO_GRANT eligibility: \"qual.hitech\" benefit: \"10万\" }\n"
    "policy { id: \"y2023\" title: \"当年政策\" valid_from: \"2023-01-01\" valid_to: \"2023-12-31\" "
    "eligibility: \"revenue >= 1000万\" }\n";
class Registry : public testing::TestRegistry {
 public:
  Registry() : TestRegistry("http_server", kPolicies, 100) {}
};

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(http::HttpServerOptions options = {}) {
    EngineOptions o;
    o.rules_dir = registry_.rules;
    o.snapshot_path = registry_.snapshot;
    const absl::Status started = served_.Start(o, options);
    ASSERT_TRUE(started.ok()) << started;
  }
  void TearDown() override {
    if (gate_) gate_->Open();
    served_.server.reset();
  }

  RawConnection Connect() const {
    RawConnection c;
    EXPECT_TRUE(c.Connect(served_.port));
    return c;
  }
  HttpClient Client() const { return HttpClient("127.0.0.1", served_.port); }
  std::string Evaluate() const {
    const std::string body = R"({"region": "441502"})";
    return "POST /api/v1/evaluate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  // Options whose worker waits at gate_ before each slow request.
  http::HttpServerOptions Gated(int workers, size_t queue) {
    gate_ = std::make_shared<Gate>();
    http::HttpServerOptions o;
    o.worker_threads = workers;
    o.max_queue = queue;
    o.before_slow_request = [gate = gate_] { gate->Wait(); };
    return o;
  }
  // Until the server counts `n` open connections (bounded).
  bool AwaitOpen(size_t n) const {
    for (int i = 0; i < 1000; ++i) {
      if (served_.server->open_connections() == n) return true;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return false;
  }

  Registry registry_;
  testing::LoopbackServer served_;
  std::shared_ptr<Gate> gate_;
};

void ExpectJsonError(const HttpResult& r, int status, const std::string& message) {
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, status) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), http::kJsonType);
  EXPECT_THAT(r->body, HasSubstr("{\"error\":\""));
  EXPECT_THAT(r->body, HasSubstr(message));
}

TEST_F(HttpServerTest, HeaderDeadline) {
  http::HttpServerOptions o;
  o.header_timeout = milliseconds(300);
  Start(o);
  // Half a header, then nothing: 408 at the deadline, and the connection closed.
  RawConnection slow = Connect();
  ASSERT_TRUE(slow.Send("GET /healthz HTTP/1.1\r\nHost: t\r\n"));
  ExpectJsonError(slow.Read(), 408, "header did not arrive in time");
  EXPECT_TRUE(slow.WaitClosed());
  // A header dribbled a byte at a time past the deadline is cut off too (the deadline is for
  // the whole header, not per byte).
  RawConnection dribble = Connect();
  bool cut = false;
  for (char c : std::string("GET /healthz HTTP/1.1\r\nX-Slow: ") + std::string(200, 'a')) {
    if (!dribble.Send(std::string(1, c))) {
      cut = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_TRUE(cut || dribble.WaitClosed());
  // A connection that never sends a byte is closed as well.
  RawConnection silent = Connect();
  EXPECT_TRUE(silent.WaitClosed());
  EXPECT_EQ(Client().Get("/healthz")->status, 200);
  EXPECT_THAT(served_.server->MetricsText(),
              ContainsRegex("polmatch_http_timeouts_total\\{phase=\"header\"\\} [2-9]"));
}

TEST_F(HttpServerTest, BodyDeadline) {
  http::HttpServerOptions o;
  o.body_timeout = milliseconds(300);
  Start(o);
  RawConnection slow = Connect();
  ASSERT_TRUE(slow.Send("POST /api/v1/evaluate HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"region\""));
  ExpectJsonError(slow.Read(), 408, "body did not arrive in time");
  EXPECT_TRUE(slow.WaitClosed());
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionsClose) {
  http::HttpServerOptions o;
  o.idle_timeout = milliseconds(300);
  Start(o);
  RawConnection c = Connect();
  ASSERT_TRUE(c.Send(kHealth));
  HttpResult r = c.Read();
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Connection"), "close");
  EXPECT_TRUE(c.WaitClosed());  // nothing more sent: closed after the idle timeout
  EXPECT_TRUE(AwaitOpen(0));
}

TEST_F(HttpServerTest, OversizedHeader) {
  Start();
  RawConnection c = Connect();
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(http::kMaxHeaderBytes, 'a') + "\r\n\r\n"));
  ExpectJsonError(c.Read(), 431, "request header is larger than 16384 bytes");
  EXPECT_TRUE(c.WaitClosed());
  // A long target is part of the header.
  RawConnection t = Connect();
  ASSERT_TRUE(t.Send("GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: t\r\n\r\n"));
  ExpectJsonError(t.Read(), 431, "larger than");
  EXPECT_EQ(Client().Get("/healthz")->status, 200);
}

TEST_F(HttpServerTest, BodyOverOneMebibyte) {
  Start();
  const std::string body((1 << 20) + 1, ' ');
  RawConnection c = Connect();
  c.Send("POST /api/v1/evaluate HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body);
  ExpectJsonError(c.Read(), 413, "request body is larger than 1048576 bytes");
  EXPECT_TRUE(c.WaitClosed());
  // With Expect: 100-continue the answer comes before the body is sent.
  RawConnection e = Connect();
  ASSERT_TRUE(e.Send("POST /api/v1/evaluate HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n"));
  ExpectJsonError(e.Read(), 413, "larger than 1048576 bytes");
  // Within the limit, the server asks for the body (100 Continue) and answers it.
  const std::string small = R"({"region": "441502"})";
  RawConnection ok = Connect();
  ASSERT_TRUE(ok.Send("POST /api/v1/evaluate HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: " +
                      std::to_string(small.size()) + "\r\n\r\n"));
  HttpResult go = ok.Read();
  ASSERT_TRUE(go) << go.error();
  EXPECT_EQ(go->status, 100);
  ASSERT_TRUE(ok.Send(small));
  HttpResult answer = ok.Read();
  ASSERT_TRUE(answer) << answer.error();
  EXPECT_EQ(answer->status, 200) << answer->body;
}

TEST_F(HttpServerTest, PipelinedRequestsAnsweredInOrder) {
  Start();
  RawConnection c = Connect();
  ASSERT_TRUE(c.Send(std::string(kHealth) + "GET /api/v1/policies/nope HTTP/1.1\r\nHost: t\r\n\r\n" +
                     "HEAD /api/v1/policies/grant HTTP/1.1\r\nHost: t\r\n\r\n" + Evaluate() + kHealth));
  const int want[] = {200, 404, 200, 200, 200};
  for (int i = 0; i < 5; ++i) {
    HttpResult r = c.Read(std::chrono::seconds(10), /*head=*/i == 2);
    ASSERT_TRUE(r) << i << ": " << r.error();
    EXPECT_EQ(r->status, want[i]) << i << ": " << r->body;
    if (i == 0 || i == 4) {
      EXPECT_EQ(r->body, "ok");
    } else if (i == 2) {
      EXPECT_TRUE(r->body.empty());
    } else if (i == 3) {
      EXPECT_THAT(r->body, HasSubstr("\"results\""));
    }
  }
}

TEST_F(HttpServerTest, HalfClosedSocketStillAnswered) {
  Start();
  RawConnection c = Connect();
  ASSERT_TRUE(c.Send(kHealth));
  c.ShutdownWrite();  // the client sends no more; the answer still comes, then the close
  HttpResult r = c.Read();
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(c.WaitClosed());
  // Half a request, then the half-close: nobody to answer, the connection is simply closed.
  RawConnection partial = Connect();
  ASSERT_TRUE(partial.Send("GET /healthz HTTP/1.1\r\nHo"));
  partial.ShutdownWrite();
  EXPECT_TRUE(partial.WaitClosed());
  EXPECT_TRUE(AwaitOpen(0));
}

TEST_F(HttpServerTest, MaxConnections) {
  http::HttpServerOptions o;
  o.max_connections = 2;
  Start(o);
  RawConnection a = Connect(), b = Connect();
  for (RawConnection* c : {&a, &b}) {
    ASSERT_TRUE(c->Send(kHealth));
    EXPECT_EQ(c->Read()->status, 200);
  }
  // The third is answered 503 at once and closed; the two keep working.
  RawConnection third = Connect();
  HttpResult busy = third.Read();
  ExpectJsonError(busy, 503, "too many connections");
  EXPECT_EQ(busy->get_header_value("Retry-After"), "1");
  EXPECT_TRUE(third.WaitClosed());
  ASSERT_TRUE(a.Send(kHealth));
  EXPECT_EQ(a.Read()->status, 200);
  // Once one closes, a new connection is served.
  b.Close();
  ASSERT_TRUE(AwaitOpen(1));
  RawConnection fourth = Connect();
  ASSERT_TRUE(fourth.Send(kHealth));
  HttpResult r = fourth.Read();
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_THAT(served_.server->MetricsText(), HasSubstr("polmatch_http_refused_connections_total 1\n"));
}

TEST_F(HttpServerTest, FullQueueAnswers503AndInlineRoutesKeepAnswering) {
  Start(Gated(/*workers=*/1, /*queue=*/1));
  RawConnection first = Connect();
  ASSERT_TRUE(first.Send(Evaluate()));
  ASSERT_TRUE(gate_->AwaitWaiting(1));  // the one worker holds it
  // More slow requests: the next one waits in the queue, the one after finds it full.
  std::vector<RawConnection> pending;
  HttpResult busy;
  for (int i = 0; i < 50 && !busy; ++i) {
    RawConnection probe = Connect();
    ASSERT_TRUE(probe.Send(Evaluate()));
    busy = probe.Read(milliseconds(200));
    if (!busy) pending.push_back(std::move(probe));
  }
  ASSERT_TRUE(busy) << "the queue never filled";
  ExpectJsonError(busy, 503, "busy");
  EXPECT_EQ(busy->get_header_value("Retry-After"), "1");
  EXPECT_GE(pending.size(), 1u);
  // The I/O threads are free: the inline routes answer while every worker is held.
  HttpResult health = Client().Get("/healthz");
  ASSERT_TRUE(health) << health.error();
  EXPECT_EQ(health->status, 200);
  gate_->Open();
  HttpResult r = first.Read();
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  // Each waiting one is answered (200 once queued; 503 if it lost the race for the one slot).
  int answered = 0;
  for (RawConnection& c : pending) {
    HttpResult p = c.Read();
    ASSERT_TRUE(p) << p.error();
    EXPECT_TRUE(p->status == 200 || p->status == 503) << p->status;
    answered += p->status == 200;
  }
  EXPECT_GE(answered, 1);
  EXPECT_THAT(served_.server->MetricsText(), ContainsRegex("polmatch_http_busy_total [1-9]"));
}

TEST_F(HttpServerTest, DrainFinishesInFlightRefusesNew) {
  Start(Gated(/*workers=*/1, /*queue=*/4));
  RawConnection in_flight = Connect(), idle = Connect();
  ASSERT_TRUE(idle.Send(kHealth));
  EXPECT_EQ(idle.Read()->status, 200);
  ASSERT_TRUE(in_flight.Send(Evaluate()));
  ASSERT_TRUE(gate_->AwaitWaiting(1));
  std::future<size_t> cut =
      std::async(std::launch::async, [this] { return served_.server->Drain(std::chrono::seconds(20)); });
  // The idle keep-alive connection is closed; new connections are refused.
  EXPECT_TRUE(idle.WaitClosed());
  bool refused = false;
  for (int i = 0; i < 500 && !refused; ++i) {
    RawConnection probe;
    refused = !probe.Connect(served_.port);
    if (!refused) std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_TRUE(refused);
  // The request in flight is answered, with Connection: close, and the drain ends.
  gate_->Open();
  HttpResult r = in_flight.Read();
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Connection"), "close");
  EXPECT_TRUE(in_flight.WaitClosed());
  ASSERT_EQ(cut.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(cut.get(), 0u);
}

TEST_F(HttpServerTest, MalformedRequests) {
  Start();
  const std::vector<std::pair<std::string, int>> cases = {
      {"NONSENSE\r\n\r\n", 400},
      {"GET /healthz HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400},
      {"BREW /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 405},
      {"GET http://elsewhere/healthz HTTP/1.1\r\nHost: t\r\n\r\n", 400},
      {"POST /api/v1/evaluate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
  };
  for (const auto& [bytes, status] : cases) {
    RawConnection c = Connect();
    ASSERT_TRUE(c.Send(bytes));
    HttpResult r = c.Read();
    ASSERT_TRUE(r) << bytes << ": " << r.error();
    EXPECT_EQ(r->status, status) << bytes << " → " << r->body;
    EXPECT_THAT(r->body, HasSubstr("{\"error\":")) << bytes;
    EXPECT_TRUE(c.WaitClosed()) << bytes;
  }
  EXPECT_EQ(Client().Get("/healthz")->status, 200);
}

TEST_F(HttpServerTest, PoliciesInForce) {
  Start();
  HttpClient c = Client();
  HttpResult r = c.Get("/api/v1/policies?as_of=2023-06-30");
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), http::kJsonType);
  EXPECT_EQ(r->body,
            R"({"as_of":"2023-06-30","policies":[{"id":"grant","title":"高企奖励","issuer":"某市科技局",)"
            R"("mode":"AUTO_GRANT","source":{"document":"某市办法","clause":"","quote":"","note":""}},)"
            R"({"id":"y2023","title":"当年政策","issuer":"","mode":"APPLY","source":{"document":"","clause":"","quote":"","note":""}}]})");
  r = c.Get("/api/v1/policies?as_of=2024-01-01");
  ASSERT_TRUE(r);
  EXPECT_THAT(r->body, HasSubstr("\"grant\""));
  EXPECT_THAT(r->body, ::testing::Not(HasSubstr("y2023")));
  ExpectJsonError(c.Get("/api/v1/policies?as_of=2024-13-01"), 400, "as_of");
  ExpectJsonError(c.Get("/api/v1/policies?when=2024-01-01"), 400, "unknown query parameter");
}

TEST_F(HttpServerTest, NonAsciiCodeNamedByItsCharacters) {
  Start();
  HttpResult r = Client().Get("/api/v1/firms/%E4%B8%AD/matches");
  ExpectJsonError(r, 400, "\\\"中\\\" has 1 character, want 18");
  EXPECT_THAT(r->body, ::testing::Not(HasSubstr("3 characters")));
}

TEST_F(HttpServerTest, Metrics) {
  Start();
  HttpClient c = Client();
  c.set_keep_alive(true);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.Get("/healthz")->status, 200);
  ASSERT_EQ(c.Get("/api/v1/firms/" + registry_.codes[0] + "/matches")->status, 200);
  ASSERT_EQ(c.Get("/nope")->status, 404);
  served_.server->engine_counters().generation = 3;
  HttpResult r = c.Get("/metrics");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = r->body;
  EXPECT_THAT(m, HasSubstr("# TYPE polmatch_http_requests_total counter\n"));
  EXPECT_THAT(m, HasSubstr("polmatch_http_requests_total{route=\"healthz\",status=\"200\"} 3\n"));
  EXPECT_THAT(m, HasSubstr("polmatch_http_requests_total{route=\"matches\",status=\"200\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("polmatch_http_requests_total{route=\"other\",status=\"404\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("polmatch_http_request_duration_seconds_bucket{le=\"+Inf\"} 5\n"));
  EXPECT_THAT(m, HasSubstr("polmatch_http_request_duration_seconds_count 5\n"));
  EXPECT_THAT(m, HasSubstr("polmatch_http_open_connections 1\n"));
  EXPECT_THAT(m, HasSubstr("polmatch_engine_generation 3\n"));
  EXPECT_THAT(m, HasSubstr("polmatch_snapshot_firms 3\n"));
  EXPECT_THAT(m, HasSubstr("polmatch_catalog_policies 2\n"));
  EXPECT_THAT(m, HasSubstr("polmatch_reloads_total 0\n"));
  EXPECT_THAT(m, HasSubstr("polmatch_reload_failures_total 0\n"));
}

// ---- `polmatch serve` as a process ----

// Each loopback connection is a descriptor at both ends.
void RaiseOpenFilesLimit() {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_GE(limit.rlim_cur, 2200u) << "the hard open-files limit is too low for 1,000 connections";
}

struct ProcessStatus {
  long rss_kib = 0;
  int threads = 0;
};

ProcessStatus StatusOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  ProcessStatus s;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::stol(line.substr(6));
    if (line.rfind("Threads:", 0) == 0) s.threads = std::stoi(line.substr(8));
  }
  return s;
}

class ServeProcess {
 public:
  ServeProcess(const Registry& registry, std::vector<std::string> extra) {
    log_path_ = (registry.root() / "serve.log").string();
    std::vector<std::string> args = {"serve", "--rules", registry.rules, "--snapshot", registry.snapshot, "--port", "0"};
    if (std::find(extra.begin(), extra.end(), "--access-log") == extra.end()) args.push_back("--quiet");
    args.insert(args.end(), extra.begin(), extra.end());
    // Under AddressSanitizer, freed memory waits in a quarantine (256 MiB by default) before
    // reuse; a small one keeps the RSS checks about the server, not the sanitizer.
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string(*e).rfind("ASAN_OPTIONS=", 0) != 0) env_strings.emplace_back(*e);
    }
    const char* asan = getenv("ASAN_OPTIONS");
    env_strings.push_back(std::string("ASAN_OPTIONS=") + (asan ? std::string(asan) + ":" : "") +
                          "quarantine_size_mb=8");
    std::vector<char*> env;
    for (std::string& e : env_strings) env.push_back(e.data());
    env.push_back(nullptr);
    pid_ = testing::SpawnPolmatch(args, "", log_path_, env.data());
    if (WaitFor("listening on http://127.0.0.1:")) port_ = testing::ListeningPort(Log(), "127.0.0.1");
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  std::string Log() const { return testing::ReadFile(log_path_); }
  bool WaitFor(const std::string& text) const { return testing::WaitForText(log_path_, text); }
  // SIGTERM, then the exit status (-1 if it did not exit within 30 s).
  int Terminate() {
    kill(pid_, SIGTERM);
    const int status = testing::WaitExit(pid_);
    pid_ = 0;
    return status;
  }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }

 private:
  std::string log_path_;
  pid_t pid_ = 0;
  int port_ = 0;
};

std::string MatchesRequest(const std::string& code) {
  return "GET /api/v1/firms/" + code + "/matches?as_of=2023-06-30 HTTP/1.1\r\nHost: t\r\n\r\n";
}

TEST(ServeLoadTest, ThousandKeepAliveConnections) {
  RaiseOpenFilesLimit();
  Registry registry;
  ServeProcess serve(registry, {"--max-connections", "5000"});
  ASSERT_GT(serve.port(), 0) << serve.Log();
  HttpClient warm("127.0.0.1", serve.port());
  ASSERT_EQ(warm.Get("/healthz")->status, 200);
  const ProcessStatus before = StatusOf(serve.pid());
  std::vector<RawConnection> conns(1000);
  int failures = 0;
  for (RawConnection& c : conns) {
    if (!c.Connect(serve.port())) ++failures;
  }
  ASSERT_EQ(failures, 0);
  // Two rounds on every connection, all open at once: keep-alive, no error, no timeout.
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < conns.size(); ++i) {
      if (!conns[i].Send(MatchesRequest(registry.codes[i % 3]))) ++failures;
    }
    for (RawConnection& c : conns) {
      HttpResult r = c.Read(std::chrono::seconds(20));
      if (!r || r->status != 200 || r->body.find("\"grant\"") == std::string::npos) ++failures;
    }
    EXPECT_EQ(failures, 0) << "round " << round;
  }
  HttpResult metrics = warm.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("polmatch_http_open_connections 1001\n"));
  const ProcessStatus during = StatusOf(serve.pid());
  conns.clear();
  EXPECT_EQ(during.threads, before.threads);  // connections are not threads
  // A thousand connections' buffers, bounded: well under 64 KiB each.
  EXPECT_LT(during.rss_kib - before.rss_kib, 64 * 1024) << before.rss_kib << " → " << during.rss_kib;
  EXPECT_EQ(serve.Terminate(), 0) << serve.Log();
}

TEST(ServeLoadTest, SlowlorisDoesNotDelayOthers) {
  RaiseOpenFilesLimit();
  Registry registry;
  ServeProcess serve(registry, {"--header-timeout", "3"});
  ASSERT_GT(serve.port(), 0) << serve.Log();
  // 200 connections each sending a header line now and then, never finishing.
  std::vector<RawConnection> loris(200);
  for (RawConnection& c : loris) {
    ASSERT_TRUE(c.Connect(serve.port()));
    c.Send("GET /healthz HTTP/1.1\r\nHost: t\r\n");
  }
  std::atomic<bool> stop{false};
  std::thread dribble([&] {
    for (int tick = 0; !stop.load(); ++tick) {
      for (RawConnection& c : loris) c.Send("X-" + std::to_string(tick) + ": a\r\n");
      std::this_thread::sleep_for(milliseconds(100));
    }
  });
  // Meanwhile a normal client is answered every time.
  HttpClient client("127.0.0.1", serve.port());
  client.set_keep_alive(true);
  client.set_read_timeout(5, 0);
  int answered = 0;
  for (int i = 0; i < 100; ++i) {
    HttpResult r = i % 2 ? client.Get("/healthz") : client.Get("/api/v1/firms/" + registry.codes[0] + "/matches");
    if (r && r->status == 200) ++answered;
  }
  EXPECT_EQ(answered, 100);
  // And the slow ones are cut at their header deadline: 408, closed.
  int closed = 0;
  for (RawConnection& c : loris) {
    if (c.WaitClosed(std::chrono::seconds(20))) ++closed;
  }
  stop = true;
  dribble.join();
  EXPECT_EQ(closed, 200);
  EXPECT_EQ(serve.Terminate(), 0) << serve.Log();
}

TEST(ServeLoadTest, ReloadStormUnderLoad) {
  Registry registry;
  ServeProcess serve(registry, {});
  ASSERT_GT(serve.port(), 0) << serve.Log();
  HttpClient warm("127.0.0.1", serve.port());
  ASSERT_EQ(warm.Get("/healthz")->status, 200);
  const ProcessStatus before = StatusOf(serve.pid());
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failures{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      HttpClient c("127.0.0.1", serve.port());
      c.set_keep_alive(t % 2 == 0);
      while (!stop.load()) {
        HttpResult r = c.Get("/api/v1/firms/" + registry.codes[t % 3] + "/matches?as_of=2023-06-30");
        (r && r->status == 200 && r->body.find("\"grant\"") != std::string::npos ? ok : failures)++;
      }
    });
  }
  // SIGHUP every 50 ms for 2 s.
  for (int i = 0; i < 40; ++i) {
    kill(serve.pid(), SIGHUP);
    std::this_thread::sleep_for(milliseconds(50));
  }
  stop = true;
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(ok.load(), 0);
  EXPECT_TRUE(serve.WaitFor("reloaded in")) << serve.Log();
  HttpResult metrics = warm.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, ContainsRegex("polmatch_reloads_total [1-9]"));
  EXPECT_THAT(metrics->body, HasSubstr("polmatch_reload_failures_total 0\n"));
  // The last SIGHUP's reload may still be running on its own thread on a loaded machine: wait
  // (bounded) for the count to come back; a leaked thread keeps it up and fails the test.
  ProcessStatus after = StatusOf(serve.pid());
  for (int i = 0; i < 1000 && after.threads != before.threads; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
    after = StatusOf(serve.pid());
  }
  EXPECT_EQ(after.threads, before.threads);
  EXPECT_LT(after.rss_kib - before.rss_kib, 64 * 1024) << before.rss_kib << " → " << after.rss_kib;
  EXPECT_EQ(serve.Terminate(), 0) << serve.Log();
}

TEST(ServeLoadTest, SigtermDrainsUnderLoad) {
  Registry registry;
  ServeProcess serve(registry, {"--drain-timeout", "10"});
  ASSERT_GT(serve.port(), 0) << serve.Log();
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, refused{0}, broken{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      RawConnection c;
      while (!stop.load()) {
        if (!c.connected() && !c.Connect(serve.port())) {
          ++refused;  // after the drain began: refused cleanly
          std::this_thread::sleep_for(milliseconds(5));
          continue;
        }
        if (!c.Send(MatchesRequest(registry.codes[t % 3]))) {
          c.Close();
          continue;
        }
        HttpResult r = c.Read();
        if (r && r->status == 200) {
          ++ok;
          if (r->get_header_value("Connection") == "close") c.Close();
        } else if (!r && r.error() == "connection closed") {
          c.Close();  // closed between requests: the request was never taken
        } else {
          ++broken;  // a truncated answer, an error status, a timeout
          c.Close();
        }
      }
    });
  }
  for (int i = 0; i < 4000 && ok.load() < 200; ++i) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_GE(ok.load(), 200);
  EXPECT_EQ(serve.Terminate(), 0) << serve.Log();
  for (int i = 0; i < 4000 && refused.load() < 4; ++i) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_GE(refused.load(), 4);
  stop = true;
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(broken.load(), 0);
  EXPECT_THAT(serve.Log(), HasSubstr("shutting down"));
  EXPECT_THAT(serve.Log(), HasSubstr("stopped"));
}

TEST(ServeLoadTest, AccessLogFile) {
  Registry registry;
  const std::string path = (registry.root() / "access.log").string();
  ServeProcess serve(registry, {"--access-log", path});
  ASSERT_GT(serve.port(), 0) << serve.Log();
  HttpClient c("127.0.0.1", serve.port());
  ASSERT_EQ(c.Get("/api/v1/policies/nope")->status, 404);
  EXPECT_EQ(serve.Terminate(), 0) << serve.Log();
  std::ifstream in(path);
  const std::string log((std::istreambuf_iterator<char>(in)), {});
  EXPECT_THAT(log, ::testing::MatchesRegex(
                       R"([0-9-]+T[0-9:]+[+-][0-9:]+ 127\.0\.0\.1 GET /api/v1/policies/nope 404 [0-9]+us [0-9]+B)" "\n"));
  EXPECT_THAT(serve.Log(), ::testing::Not(HasSubstr("/api/v1/policies/nope")));  // not on stderr
}

TEST(ServeLoadTest, Version) {
  for (const char* args : {" serve --version", " --version"}) {
    FILE* out = popen((std::string(POLMATCH_BINARY) + args).c_str(), "r");
    ASSERT_NE(out, nullptr);
    char buf[256] = {};
    const size_t n = fread(buf, 1, sizeof buf - 1, out);
    EXPECT_EQ(pclose(out), 0) << args;
    EXPECT_THAT(std::string(buf, n), ::testing::MatchesRegex("polmatch [0-9]+\\.[0-9]+\\.[0-9]+\n")) << args;
  }
}

}  // namespace
}  // namespace polmatch
