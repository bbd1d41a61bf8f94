// polmatch serve: the HTTP service and portal of SPEC §6 over one polmatch::Engine, on the
// event-driven server of tools/http_server.h. SIGHUP reloads the rules and snapshot (the old state
// keeps serving if the new one does not load); SIGTERM or SIGINT stops accepting, lets requests in
// flight finish, and exits 0 within --drain-timeout.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "polmatch/engine.h"
#include "tools/auth.h"
#include "tools/auth_gate.h"
#include "tools/cli.h"
#include "tools/http_server.h"
#include "tools/http_service.h"

#ifndef POLMATCH_VERSION
#define POLMATCH_VERSION "unknown"
#endif

namespace polmatch::cli {
namespace {

void Log(const std::string& message) { std::cerr << "polmatch serve: " << message << std::endl; }

// Each connection is a descriptor: raise the soft limit as far as the hard one allows, and
// return how many connections that leaves room for.
size_t RaiseOpenFilesLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1000;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? 1 << 20 : limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur > 128 ? limit.rlim_cur - 64 : 64;
}

std::chrono::milliseconds Seconds(const po::variables_map& vm, const char* name) {
  return std::chrono::milliseconds(static_cast<int64_t>(vm[name].as<double>() * 1000));
}

}  // namespace

int RunServe(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--version") {
      std::cout << "polmatch " << POLMATCH_VERSION << "\n";
      return kOk;
    }
  }
  const http::HttpServerOptions defaults;
  po::options_description options("options");
  options.add_options()
      ("rules", po::value<std::string>()->required(), "rules directory (taxonomy/, policies/)")
      ("snapshot", po::value<std::string>()->required(), "the snapshot written by polmatch index")
      ("bind", po::value<std::string>()->default_value("127.0.0.1"), "address to listen on")
      ("port", po::value<int>()->default_value(8080), "port to listen on (0: any free port)")
      ("threads", po::value<int>()->default_value(defaults.worker_threads),
       "worker threads for the slow routes (evaluate, the policy list)")
      ("io-threads", po::value<int>()->default_value(defaults.io_threads),
       "threads multiplexing the connections (every other route is answered on them)")
      ("max-connections", po::value<size_t>()->default_value(defaults.max_connections),
       "open connections at most; beyond, a new one gets 503 and is closed (lowered to what the "
       "open-files limit allows)")
      ("max-queue", po::value<size_t>()->default_value(defaults.max_queue),
       "slow requests waiting for a worker at most; beyond, 503 with Retry-After")
      ("header-timeout", po::value<double>()->default_value(defaults.header_timeout.count() / 1000.0),
       "seconds from a request's first byte to the end of its header (else 408, closed)")
      ("body-timeout", po::value<double>()->default_value(defaults.body_timeout.count() / 1000.0),
       "seconds for a request body to arrive (else 408, closed)")
      ("idle-timeout", po::value<double>()->default_value(defaults.idle_timeout.count() / 1000.0),
       "seconds a keep-alive connection may wait for its next request")
      ("drain-timeout", po::value<double>()->default_value(10),
       "on SIGTERM, seconds to let requests in flight finish before exiting")
      ("access-log", po::value<std::string>(), "append the access log to this file instead of stderr")
      ("ledger", po::value<std::string>(), "a grant ledger (batch --ledger), read-only: answers "
                                           "GET /api/v1/firms/{credit_code}/grants")
      ("auth", po::value<std::string>(),
       "the auth file (JSON or text format, see tools/README.md): firm tokens, hashed API keys, "
       "rate limits. Firm data then needs a firm's token (its own firm only) or a staff key; "
       "/metrics an admin key")
      ("audit-log", po::value<std::string>(),
       "append one JSON line per request for a firm's data (time, principal, role, client, "
       "firm, endpoint, status) to this file; `polmatch audit` filters it")
      ("audit-max-mb", po::value<int>()->default_value(64),
       "rotate the audit log past this size: FILE → FILE.1 → FILE.2 …")
      ("audit-keep", po::value<int>()->default_value(10), "rotated audit files kept")
      ("insecure-open", "allow a non-loopback --bind without --auth: every caller sees every firm")
      ("quiet", "no access log")
      ("version", "print the version and exit");
  po::variables_map vm;
  if (auto exit = ParseArgs(
          argc, argv, "polmatch serve --rules DIR --snapshot S [--bind 127.0.0.1] [--port 8080]",
          "The HTTP service and the portal page (SPEC §6). One access-log line per request\n"
          "(time, client, method, target, status, microseconds, body bytes) on stderr or\n"
          "--access-log. SIGHUP reloads the rules and the snapshot (a failed reload keeps the\n"
          "old state); SIGTERM/SIGINT stop accepting, finish the requests in flight and exit 0.\n"
          "Every request has header and body deadlines; idle keep-alive connections are closed\n"
          "after --idle-timeout; bodies over 1 MiB get 413.\n\n"
          "  GET  /api/v1/firms/{credit_code}/matches?as_of=YYYY-MM-DD\n"
          "  GET  /api/v1/firms/{credit_code}/policies/{id}/explain?as_of=YYYY-MM-DD\n"
          "  POST /api/v1/evaluate?as_of=YYYY-MM-DD   (body: a FirmProfile JSON object)\n"
          "  GET  /api/v1/policies?as_of=YYYY-MM-DD   (the policies in force)\n"
          "  GET  /api/v1/policies/{id}\n"
          "  GET  /api/v1/firms/{credit_code}/grants  (with --ledger: the firm's grants, SPEC §7)\n"
          "  GET  /healthz\n"
          "  GET  /metrics                            (Prometheus text format)\n"
          "  GET  /                                   (the portal)\n\n"
          "Without --auth every caller sees every firm, so serve then binds only to loopback and\n"
          "refuses another --bind (exit 2) unless --insecure-open is given. With --auth FILE:\n"
          "firm routes need `Authorization: Bearer <firm token>` (or the polmatch_token cookie;\n"
          "its own firm only, else 403) or an API key (`Authorization: ApiKey <key>` or\n"
          "X-API-Key); /metrics an ADMIN key; bad credentials get 401 with the reason; too many\n"
          "requests per caller or address get 429 with Retry-After.\n\n"
          "examples:\n"
          "  polmatch serve --rules rules --snapshot demo.snap --port 8080\n"
          "  polmatch serve --rules rules --snapshot demo.snap --bind 0.0.0.0 --auth auth.textproto \\\n"
          "      --audit-log audit.jsonl",
          options, {}, vm)) {
    return *exit;
  }
  const int port = vm["port"].as<int>();
  if (port < 0 || port > 65535 || vm["threads"].as<int>() < 1 || vm["io-threads"].as<int>() < 1) {
    PrintError("--port must be 0…65535, --threads and --io-threads at least 1");
    return kUsage;
  }
  for (const char* t : {"header-timeout", "body-timeout", "idle-timeout", "drain-timeout"}) {
    if (!(vm[t].as<double>() > 0)) {
      PrintError(absl::StrCat("--", t, " must be a positive number of seconds"));
      return kUsage;
    }
  }
  if (vm["max-connections"].as<size_t>() < 1 || vm["max-queue"].as<size_t>() < 1) {
    PrintError("--max-connections and --max-queue must be at least 1");
    return kUsage;
  }
  const std::string host = vm["bind"].as<std::string>();
  const absl::StatusOr<bool> loopback = http::IsLoopbackAddress(host);
  if (!loopback.ok()) {
    PrintError(std::string(loopback.status().message()));
    return kUsage;
  }
  if (!*loopback && !vm.count("auth") && !vm.count("insecure-open")) {
    PrintError(absl::StrCat("--bind ", host, " without --auth would show every firm's data to anyone who can "
                            "reach it: give --auth FILE, or --insecure-open to accept that"));
    return kUsage;
  }
  if (vm["audit-max-mb"].as<int>() < 1 || vm["audit-keep"].as<int>() < 1) {
    PrintError("--audit-max-mb and --audit-keep must be at least 1");
    return kUsage;
  }
  std::optional<http::Authenticator> authenticator;
  if (vm.count("auth")) {
    absl::StatusOr<http::Authenticator> loaded = http::Authenticator::LoadFile(vm["auth"].as<std::string>());
    if (!loaded.ok()) {
      PrintError(std::string(loaded.status().message()));
      return kUsage;
    }
    authenticator.emplace(*std::move(loaded));
  }
  std::unique_ptr<http::AuditLog> audit;
  if (vm.count("audit-log")) {
    absl::StatusOr<std::unique_ptr<http::AuditLog>> opened =
        http::AuditLog::Open(vm["audit-log"].as<std::string>(),
                             static_cast<uint64_t>(vm["audit-max-mb"].as<int>()) << 20, vm["audit-keep"].as<int>());
    if (!opened.ok()) {
      PrintError(std::string(opened.status().message()));
      return kUsage;
    }
    audit = *std::move(opened);
  }
  if (!std::filesystem::is_directory(vm["rules"].as<std::string>())) {
    PrintError(absl::StrCat(vm["rules"].as<std::string>(), ": not a rules directory"));
    return kUsage;
  }
  std::unique_ptr<std::ofstream> access_file;
  if (vm.count("access-log")) {
    access_file = std::make_unique<std::ofstream>(vm["access-log"].as<std::string>(), std::ios::app);
    if (!*access_file) {
      PrintError(absl::StrCat(vm["access-log"].as<std::string>(), ": cannot open for writing"));
      return kUsage;
    }
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
  // signals are blocked in every thread (threads inherit the mask) and taken by sigwait below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  http::HttpServerOptions server_options;
  server_options.worker_threads = vm["threads"].as<int>();
  server_options.io_threads = vm["io-threads"].as<int>();
  server_options.max_queue = vm["max-queue"].as<size_t>();
  server_options.max_connections = std::min(vm["max-connections"].as<size_t>(), RaiseOpenFilesLimit());
  server_options.header_timeout = Seconds(vm, "header-timeout");
  server_options.body_timeout = Seconds(vm, "body-timeout");
  server_options.idle_timeout = Seconds(vm, "idle-timeout");
  server_options.access_log = vm.count("quiet") ? nullptr : access_file ? access_file.get() : &std::cerr;
  http::HttpService service(**engine);
  std::optional<http::AccessGate> gate;
  if (authenticator || audit) {
    http::AccessGate::Options gate_options;
    gate_options.auth = authenticator ? &*authenticator : nullptr;
    gate_options.audit = audit.get();
    if (authenticator) {
      gate_options.per_principal = http::RateLimitSettings::Of(authenticator->config(), /*per_address=*/false);
      gate_options.per_address = http::RateLimitSettings::Of(authenticator->config(), /*per_address=*/true);
    }
    gate.emplace(gate_options);
    service.SetGate(&*gate);
  }
  http::HttpServer server(service, server_options);
  absl::StatusOr<int> bound = server.Listen(host, port);
  if (!bound.ok()) {
    PrintError(std::string(bound.status().message()));
    return kUsage;
  }
  server.Start();
  Log(absl::StrCat("listening on http://", host, ":", *bound, "/ (", (*engine)->num_firms(), " firms, ",
                   (*engine)->num_policies(), " policies; at most ", server_options.max_connections,
                   " connections)"));
  if (!authenticator) {
    Log(*loopback ? "no --auth: firm data is open to every caller that can reach this loopback address"
                  : "WARNING --insecure-open: no --auth, firm data is open to every caller on the network");
  } else {
    Log(absl::StrCat("--auth ", vm["auth"].as<std::string>(), ": firm data needs a firm token or an API key (",
                     authenticator->config().api_key_size(), " keys)"));
  }
  http::EngineCounters& counters = server.engine_counters();
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig != SIGHUP) {
      Log(absl::StrCat("signal ", sig, ": shutting down (", server.open_connections(), " connections open)"));
      break;
    }
    const auto start = std::chrono::steady_clock::now();
    const absl::Status reloaded = (*engine)->Reload(engine_options);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start).count();
    if (reloaded.ok()) {
      ++counters.generation;
      ++counters.reloads;
      Log(absl::StrCat("reloaded in ", ms, " ms: ", (*engine)->num_firms(), " firms, ",
                       (*engine)->num_policies(), " policies"));
    } else {
      ++counters.reload_failures;
      Log(absl::StrCat("reload failed, still serving the previous state: ", reloaded.message()));
    }
  }
  const size_t cut = server.Drain(Seconds(vm, "drain-timeout"));
  if (cut > 0) Log(absl::StrCat(cut, " connections still open at the drain deadline were closed"));
  Log("stopped");
  return kOk;
}

}  // namespace polmatch::cli
