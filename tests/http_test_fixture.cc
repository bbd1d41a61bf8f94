#include "tests/http_test_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

extern char** environ;

namespace polmatch::testing {

namespace fs = std::filesystem;

TestRegistry::TestRegistry(const std::string& prefix, const std::string& policies, long long revenue_base)
    : root_(FreshTempDir(prefix)) {
  WriteRulesDir(root_ / "rules", policies);
  snapshot = (root_ / "r.snap").string();
  codes = WriteHitechSnapshot(snapshot, 700, revenue_base);
  rules = (root_ / "rules").string();
}

TestRegistry::~TestRegistry() {
  std::error_code ignored;
  fs::remove_all(root_, ignored);
}

absl::Status LoopbackServer::Start(const EngineOptions& options, const http::HttpServerOptions& server_options,
                                   const std::function<void(http::HttpService&)>& configure) {
  absl::StatusOr<std::unique_ptr<Engine>> loaded = Engine::Create(options);
  if (!loaded.ok()) return loaded.status();
  engine = std::move(*loaded);
  service = std::make_unique<http::HttpService>(*engine);
  if (configure) configure(*service);
  server = std::make_unique<http::HttpServer>(*service, server_options);
  absl::StatusOr<int> listening = server->Listen("127.0.0.1", 0);
  if (!listening.ok()) return listening.status();
  port = *listening;
  server->Start();
  return absl::OkStatus();
}

pid_t SpawnPolmatch(const std::vector<std::string>& args, const std::string& out, const std::string& err,
                    char* const* env) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!out.empty()) posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!err.empty()) posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> all = {POLMATCH_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, POLMATCH_BINARY, &actions, nullptr, argv.data(),
                                  env != nullptr ? env : environ);
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(spawned, 0);
  return spawned == 0 ? pid : 0;
}

int WaitExit(pid_t pid, std::chrono::seconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool WaitForText(const std::string& path, const std::string& text, std::chrono::seconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ReadFile(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int ListeningPort(const std::string& log, const std::string& address) {
  const std::string prefix = absl::StrCat("listening on http://", address, ":");
  const size_t at = log.find(prefix);
  if (at == std::string::npos) return 0;
  return std::atoi(log.c_str() + at + prefix.size());
}

}  // namespace polmatch::testing
