// polmatch serve: the HTTP service and portal of SPEC §6 over one polmatch::Engine. SIGHUP reloads
// the rules and snapshot (the old state keeps serving if the new one does not load); SIGTERM or
// SIGINT stops accepting, lets requests in flight finish, and exits 0.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "polmatch/engine.h"
#include "tools/cli.h"
#include "tools/http_service.h"

namespace polmatch::cli {
namespace {

void Log(const std::string& message) { std::cerr << "polmatch serve: " << message << std::endl; }

// Waits for SIGHUP (reload) and SIGTERM/SIGINT (stop) on its own thread; the signals are blocked
// in every other thread, so no handler runs in async-signal context.
void HandleSignals(const sigset_t& signals, Engine& engine, const EngineOptions& options,
                   httplib::Server& server, const std::atomic<bool>& listen_returned,
                   std::atomic<bool>& stopping) {
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      const auto start = std::chrono::steady_clock::now();
      const absl::Status reloaded = engine.Reload(options);
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start).count();
      if (reloaded.ok()) {
        Log(absl::StrCat("reloaded in ", ms, " ms: ", engine.num_firms(), " firms, ",
                         engine.num_policies(), " policies"));
      } else {
        Log(absl::StrCat("reload failed, still serving the previous state: ", reloaded.message()));
      }
      continue;
    }
    stopping = true;
    if (listen_returned.load()) return;  // woken by the main thread: the server has ended
    Log(absl::StrCat("signal ", sig, ": shutting down"));
    // stop() is a no-op until the server runs; the main thread starts it right after binding.
    while (!server.is_running() && !listen_returned.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    server.stop();
    return;
  }
}

}  // namespace

int RunServe(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("rules", po::value<std::string>()->required(), "rules directory (taxonomy/, policies/)")
      ("snapshot", po::value<std::string>()->required(), "the snapshot written by polmatch index")
      ("bind", po::value<std::string>()->default_value("127.0.0.1"), "address to listen on")
      ("port", po::value<int>()->default_value(8080), "port to listen on (0: any free port)")
      ("threads", po::value<int>()->default_value(8),
       "worker threads (each serves one connection at a time)")
      ("ledger", po::value<std::string>(), "a grant ledger (batch --ledger), read-only: answers "
                                           "GET /api/v1/firms/{credit_code}/grants")
      ("quiet", "no access log");
  po::variables_map vm;
  if (auto exit = ParseArgs(
          argc, argv, "polmatch serve --rules DIR --snapshot S [--bind 127.0.0.1] [--port 8080]",
          "The HTTP service and the portal page (SPEC §6), one access-log line per request on\n"
          "stderr. SIGHUP reloads the rules and the snapshot (a failed reload keeps the old\n"
          "state); SIGTERM/SIGINT finish the requests in flight and exit 0.\n\n"
          "  GET  /api/v1/firms/{credit_code}/matches?as_of=YYYY-MM-DD\n"
          "  GET  /api/v1/firms/{credit_code}/policies/{id}/explain?as_of=YYYY-MM-DD\n"
          "  POST /api/v1/evaluate?as_of=YYYY-MM-DD   (body: a FirmProfile JSON object)\n"
          "  GET  /api/v1/policies/{id}\n"
          "  GET  /api/v1/firms/{credit_code}/grants  (with --ledger: the firm's grants, SPEC §7)\n"
          "  GET  /healthz\n"
          "  GET  /                                   (the portal)\n\n"
          "example: polmatch serve --rules rules --snapshot demo.snap --port 8080",
          options, {}, vm)) {
    return *exit;
  }
  const int port = vm["port"].as<int>();
  if (port < 0 || port > 65535 || vm["threads"].as<int>() < 1) {
    PrintError("--port must be 0…65535 and --threads at least 1");
    return kUsage;
  }
  if (!std::filesystem::is_directory(vm["rules"].as<std::string>())) {
    PrintError(absl::StrCat(vm["rules"].as<std::string>(), ": not a rules directory"));
    return kUsage;
  }
  EngineOptions engine_options;
  engine_options.rules_dir = vm["rules"].as<std::string>();
  engine_options.snapshot_path = vm["snapshot"].as<std::string>();
  if (vm.count("ledger")) engine_options.ledger_path = vm["ledger"].as<std::string>();
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(engine_options);
  if (!engine.ok()) {
    PrintError(std::string(engine.status().message()));
    return engine.status().code() == absl::StatusCode::kInvalidArgument ? kProblems : kUsage;
  }

  // Until here a signal has its default effect (a load can be interrupted). From here on the
  // signals are blocked in every thread (threads inherit the mask) and taken by HandleSignals.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  http::HttpServiceOptions service_options;
  service_options.threads = vm["threads"].as<int>();
  service_options.access_log = vm.count("quiet") ? nullptr : &std::cerr;
  http::HttpService service(**engine, service_options);
  httplib::Server server;
  service.Register(server);
  const std::string host = vm["bind"].as<std::string>();
  const int bound = port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    PrintError(absl::StrCat("cannot listen on ", host, ":", port));
    return kUsage;
  }
  std::atomic<bool> listen_returned{false}, stopping{false};
  std::thread signal_thread(HandleSignals, std::cref(signals), std::ref(**engine),
                            std::cref(engine_options), std::ref(server), std::cref(listen_returned),
                            std::ref(stopping));
  Log(absl::StrCat("listening on http://", host, ":", bound, "/ (", (*engine)->num_firms(),
                   " firms, ", (*engine)->num_policies(), " policies)"));
  server.listen_after_bind();
  listen_returned = true;
  const bool asked = stopping.load();
  // Not stopped by a signal (the listening socket failed): wake the signal thread to end it.
  if (!asked) pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  if (!asked) {
    PrintError("the server stopped unexpectedly");
    return kProblems;
  }
  Log("stopped");
  return kOk;
}

}  // namespace polmatch::cli
