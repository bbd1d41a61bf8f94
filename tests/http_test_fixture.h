// What the HTTP tests (http_auth_test, http_server_test, http_service_test) share besides the
// client (tests/http_test_client.h): a registry on disk, the engine served in-process on a free
// loopback port, and `polmatch` run as a child process whose output goes to files.
#ifndef POLMATCH_TESTS_HTTP_TEST_FIXTURE_H_
#define POLMATCH_TESTS_HTTP_TEST_FIXTURE_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "polmatch/engine.h"
#include "tools/http_server.h"
#include "tools/http_service.h"

namespace polmatch::testing {

// A fresh directory (removed at the end) with rules/ holding `policies` and the snapshot r.snap
// of three firms in 441502 tagged qual.hitech (serials 700.., revenue revenue_base + i).
class TestRegistry {
 public:
  TestRegistry(const std::string& prefix, const std::string& policies, long long revenue_base);
  ~TestRegistry();
  TestRegistry(const TestRegistry&) = delete;
  TestRegistry& operator=(const TestRegistry&) = delete;
  std::filesystem::path root() const { return root_; }

  std::string rules, snapshot;
  std::vector<std::string> codes;

 private:
  std::filesystem::path root_;
};

// An Engine behind an HttpService behind an HttpServer on 127.0.0.1, port chosen by the kernel.
struct LoopbackServer {
  // Loads `options` and serves them; `configure` (if any) runs on the service before it listens
  // (to set a gate, say).
  absl::Status Start(const EngineOptions& options, const http::HttpServerOptions& server_options = {},
                     const std::function<void(http::HttpService&)>& configure = nullptr);

  std::unique_ptr<Engine> engine;
  std::unique_ptr<http::HttpService> service;
  std::unique_ptr<http::HttpServer> server;
  int port = 0;
};

// Runs POLMATCH_BINARY with `args`, stdout to the file `out` and stderr to `err` ("" keeps the
// test's own), in `env` (null: this process's environment); the pid (0 on failure, a test failure).
pid_t SpawnPolmatch(const std::vector<std::string>& args, const std::string& out, const std::string& err,
                    char* const* env = nullptr);
// Waits for `pid` to exit: its exit status (128 + the signal if killed by one), or -1 after
// `within` (then it is killed).
int WaitExit(pid_t pid, std::chrono::seconds within = std::chrono::seconds(30));
// The whole file ("" if unreadable).
std::string ReadFile(const std::string& path);
// Until `text` appears in the file (false after `within`).
bool WaitForText(const std::string& path, const std::string& text,
                 std::chrono::seconds within = std::chrono::seconds(30));
// The port of a "listening on http://<address>:<port>" line in `log` (0 if there is none).
int ListeningPort(const std::string& log, const std::string& address);

}  // namespace polmatch::testing

#endif  // POLMATCH_TESTS_HTTP_TEST_FIXTURE_H_
