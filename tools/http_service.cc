#include "tools/http_service.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/ingest/credit_code.h"
#include "engine/ingest/firm_reader.h"
#include "engine/util/dates.h"
#include "httplib.h"
#include "tools/grants_json.h"
#include "tools/matches_json.h"

namespace polmatch::http {

// Defined in the file generated from tools/portal/index.html by tools/portal/embed.cmake.
namespace internal {
extern const unsigned char kPortalHtml[];
extern const std::size_t kPortalHtmlSize;
}  // namespace internal

namespace {

constexpr char kJson[] = "application/json; charset=utf-8";

// When the worker thread serving a request began it (set before routing, read by the access log);
// a request rejected before routing (a malformed request line) has none.
thread_local std::optional<std::chrono::steady_clock::time_point> request_start;

std::string ToJson(const google::protobuf::Message& m) { return internal::ProtoJson(m); }

using internal::AppendJsonString;

void SendError(httplib::Response& res, int status, absl::string_view message) {
  std::string body = "{\"error\":";
  AppendJsonString(message, &body);
  body.append("}");
  res.status = status;
  res.set_content(body, kJson);
}

int StatusToHttp(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    default:
      return 500;
  }
}

// The body of an error response httplib produced itself (no handler ran, or reading failed).
std::string DefaultMessage(int status, const httplib::Request& req, size_t max_body) {
  switch (status) {
    case 400: return "bad request";
    case 404: return absl::StrCat("no such endpoint: ", req.path);
    case 405: return absl::StrCat("method ", req.method, " is not supported");
    case 413: return absl::StrCat("request body is larger than ", max_body, " bytes");
    case 414: return "request URI is too long";
    default: return absl::StrCat("HTTP ", status);
  }
}

// A field of the access log: control bytes (none should reach it) shown as '?', "-" when empty
// (a request line that could not be parsed).
std::string Printable(absl::string_view s) {
  if (s.empty()) return "-";
  std::string out(s.substr(0, 512));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

}  // namespace

struct HttpService::Call {
  const httplib::Request& req;
  httplib::Response& res;
  const std::string& body;
  std::smatch path;  // groups: the path parameters

  std::string Param(int i) const { return path[i].str(); }

  // The evaluation date: ?as_of=YYYY-MM-DD, today when absent or empty. Any other query
  // parameter is an error (a misspelt `asof` must not silently mean today). nullopt after
  // answering 400.
  std::optional<absl::CivilDay> AsOf() {
    for (const auto& [key, value] : req.params) {
      if (key != "as_of") {
        SendError(res, 400, absl::StrCat("unknown query parameter \"", key, "\" (known: as_of)"));
        return std::nullopt;
      }
    }
    if (req.get_param_value_count("as_of") > 1) {
      SendError(res, 400, "as_of is given more than once");
      return std::nullopt;
    }
    const std::string text = req.get_param_value("as_of");
    if (text.empty()) return Today();
    absl::StatusOr<absl::CivilDay> day = ParseDate(text);
    if (!day.ok()) {
      SendError(res, 400, absl::StrCat("as_of: ", day.status().message()));
      return std::nullopt;
    }
    return *day;
  }

  // Endpoints without query parameters reject any (they would be ignored otherwise).
  bool NoQuery() {
    if (req.params.empty()) return true;
    SendError(res, 400, absl::StrCat("unknown query parameter \"", req.params.begin()->first, "\""));
    return false;
  }
};

HttpService::HttpService(const Engine& engine, HttpServiceOptions options)
    : engine_(engine), options_(std::move(options)) {
  const std::string code = "/api/v1/firms/([^/]+)";
  routes_ = {
      {"GET", std::regex("/healthz"), &HttpService::Health},
      {"GET", std::regex("/(index\\.html)?"), &HttpService::Portal},
      {"GET", std::regex(code + "/matches"), &HttpService::Matches},
      {"GET", std::regex(code + "/grants"), &HttpService::Grants},
      {"GET", std::regex(code + "/policies/([^/]+)/explain"), &HttpService::Explain},
      {"POST", std::regex("/api/v1/evaluate"), &HttpService::Evaluate},
      {"GET", std::regex("/api/v1/policies/([^/]+)"), &HttpService::GetPolicy},
  };
}

const std::string& HttpService::PortalPage() {
  static const std::string* const page = new std::string(
      reinterpret_cast<const char*>(internal::kPortalHtml), internal::kPortalHtmlSize);
  return *page;
}

void HttpService::Register(httplib::Server& server) {
  const int threads = std::max(1, options_.threads);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_payload_max_length(options_.max_body_bytes);
  server.set_read_timeout(options_.read_timeout_seconds, 0);
  server.set_write_timeout(options_.write_timeout_seconds, 0);
  server.set_keep_alive_timeout(options_.keep_alive_seconds);
  server.set_keep_alive_max_count(options_.keep_alive_max_requests);
  // Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the
  // client's delayed ACK hold each keep-alive response back ~40 ms.
  server.set_tcp_nodelay(true);
  server.set_default_headers({{"X-Content-Type-Options", "nosniff"}, {"Cache-Control", "no-store"}});

  server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    request_start = std::chrono::steady_clock::now();
    static const char* const kKnown[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (const char* m : kKnown) {
      if (req.method == m) return httplib::Server::HandlerResponse::Unhandled;
    }
    // Answered before httplib would read a body it cannot bound (e.g. PRI).
    SendError(res, 405, absl::StrCat("method ", req.method, " is not supported"));
    return httplib::Server::HandlerResponse::Handled;
  });

  // Every path goes through Dispatch, which tells 404 (no such path) from 405 (wrong method).
  const auto plain = [this](const httplib::Request& req, httplib::Response& res) {
    Dispatch(req, res, req.body);
  };
  server.Get(".*", plain);
  server.Options(".*", plain);
  // Methods with a body read it here, bounded: httplib bounds a body with a Content-Length by
  // the payload limit (answering 413 itself), but not a chunked one.
  const auto with_body = [this](const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& reader) {
    std::string body;
    if (req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
      // Past the limit the rest is read and dropped, so that the connection stays in step for
      // its next request, up to 16 times the limit; beyond that reading stops.
      size_t seen = 0;
      const bool read = reader([&](const char* data, size_t n) {
        seen += n;
        if (seen <= options_.max_body_bytes) {
          body.append(data, n);
          return true;
        }
        std::string().swap(body);
        return seen / 16 <= options_.max_body_bytes;
      });
      if (seen > options_.max_body_bytes || res.status == 413) {
        SendError(res, 413, DefaultMessage(413, req, options_.max_body_bytes));
        return;
      }
      if (!read) {
        SendError(res, 400, "could not read the request body");
        return;
      }
    }
    Dispatch(req, res, body);
  };
  server.Post(".*", with_body);
  server.Put(".*", with_body);
  server.Patch(".*", with_body);
  server.Delete(".*", with_body);

  // Errors httplib answers itself (unreadable request, 413 by Content-Length) get a JSON body too.
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        SendError(res, res.status, DefaultMessage(res.status, req, options_.max_body_bytes));
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        SendError(res, 500, absl::StrCat("internal error: ", what));
      });
  if (options_.access_log != nullptr) {
    server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      LogRequest(req, res);
    });
  }
}

void HttpService::Dispatch(const httplib::Request& req, httplib::Response& res,
                           const std::string& body) const {
  const std::string method = req.method == "HEAD" ? "GET" : req.method;
  std::vector<std::string> allowed;
  for (const Route& route : routes_) {
    Call call{req, res, body, {}};
    if (!std::regex_match(req.path, call.path, route.pattern)) continue;
    if (route.method == method) {
      (this->*route.handler)(call);
      return;
    }
    allowed.push_back(route.method);
    if (route.method == "GET") allowed.push_back("HEAD");
  }
  if (allowed.empty()) {
    SendError(res, 404, DefaultMessage(404, req, 0));
    return;
  }
  const std::string allow = absl::StrJoin(allowed, ", ");
  res.set_header("Allow", allow);
  SendError(res, 405, absl::StrCat("method ", req.method, " is not allowed on ", req.path,
                                   " (allowed: ", allow, ")"));
}

void HttpService::LogRequest(const httplib::Request& req, const httplib::Response& res) const {
  std::string micros = "-";
  if (request_start) {
    micros = absl::StrCat(std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - *request_start)
                              .count(),
                          "us");
    request_start.reset();
  }
  const std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", absl::Now(), absl::LocalTimeZone()), " ",
      Printable(req.remote_addr), " ", Printable(req.method), " ", Printable(req.target), " ", res.status,
      " ", micros, "\n");
  std::lock_guard<std::mutex> lock(log_mu_);
  *options_.access_log << line << std::flush;
}

void HttpService::Health(Call& call) const {
  if (!call.NoQuery()) return;
  call.res.set_content("ok", "text/plain; charset=utf-8");
}

void HttpService::Portal(Call& call) const {
  // No external resources: scripts and styles are inline, requests go to this server only.
  call.res.set_header("Content-Security-Policy",
                      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                      "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
                      "form-action 'none'; frame-ancestors 'none'");
  call.res.set_content(PortalPage(), "text/html; charset=utf-8");
}

void HttpService::Matches(Call& call) const {
  std::optional<absl::CivilDay> as_of = call.AsOf();
  if (!as_of) return;
  absl::StatusOr<FirmMatches> m = engine_.Match(call.Param(1), *as_of);
  if (!m.ok()) return SendError(call.res, StatusToHttp(m.status()), m.status().message());
  call.res.set_content(internal::FirmMatchesJson(*m), kJson);
}

// serve --ledger: the firm's grants (404 when no ledger is configured).
void HttpService::Grants(Call& call) const {
  if (!call.NoQuery()) return;
  absl::StatusOr<std::vector<FirmGrant>> grants = engine_.Grants(call.Param(1));
  if (!grants.ok()) {
    return SendError(call.res, absl::IsFailedPrecondition(grants.status()) ? 404 : StatusToHttp(grants.status()),
                     grants.status().message());
  }
  call.res.set_content(internal::FirmGrantsJson(call.Param(1), *grants), kJson);
}

void HttpService::Explain(Call& call) const {
  std::optional<absl::CivilDay> as_of = call.AsOf();
  if (!as_of) return;
  const std::string code = call.Param(1);
  // A malformed code is 400 whether or not the policy exists.
  if (absl::Status valid = ValidateCreditCode(code); !valid.ok()) {
    return SendError(call.res, 400, valid.message());
  }
  absl::StatusOr<PolicyResult> r = engine_.Explain(code, call.Param(2), *as_of);
  if (!r.ok()) return SendError(call.res, StatusToHttp(r.status()), r.status().message());
  // The `check --json` object: the firm, the date and the one result.
  FirmMatches m;
  m.set_credit_code(code);
  m.set_as_of(FormatDate(*as_of));
  *m.add_results() = std::move(*r);
  call.res.set_content(internal::FirmMatchesJson(m), kJson);
}

void HttpService::Evaluate(Call& call) const {
  std::optional<absl::CivilDay> as_of = call.AsOf();
  if (!as_of) return;
  if (call.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return SendError(call.res, 400, "request body is empty: expected a FirmProfile JSON object");
  }
  absl::StatusOr<FirmProfile> profile = ParseFirmJson(call.body);
  if (!profile.ok()) return SendError(call.res, 400, profile.status().message());
  // 政策计算器: a firm that is not registered may have no credit code yet. It is evaluated under
  // a placeholder code of its region, which the answer does not repeat.
  const bool anonymous = profile->credit_code().empty();
  if (anonymous) {
    const std::string& region = profile->region();
    const bool digits = region.size() == 6 && region.find_first_not_of("0123456789") == std::string::npos;
    const std::string first17 = absl::StrCat("91", digits ? region : "000000", "000000000");
    profile->set_credit_code(absl::StrCat(first17, std::string(1, *CreditCodeCheckChar(first17))));
  }
  absl::StatusOr<FirmMatches> m = engine_.Evaluate(*profile, *as_of);
  if (!m.ok()) return SendError(call.res, StatusToHttp(m.status()), m.status().message());
  if (anonymous) m->clear_credit_code();
  call.res.set_content(internal::FirmMatchesJson(*m), kJson);
}

void HttpService::GetPolicy(Call& call) const {
  if (!call.NoQuery()) return;
  absl::StatusOr<Policy> p = engine_.GetPolicy(call.Param(1));
  if (!p.ok()) return SendError(call.res, StatusToHttp(p.status()), p.status().message());
  call.res.set_content(ToJson(*p), kJson);
}

}  // namespace polmatch::http
