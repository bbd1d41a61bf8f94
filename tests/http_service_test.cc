// The HTTP service (tools/http_service.h) on a loopback port in-process: every endpoint, every
// error path, queries during reloads; and `polmatch serve` as a process (signals, exit status).
#include "tools/http_service.h"

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/util/dates.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/http_test_client.h"
#include "tests/http_test_fixture.h"
#include "tests/test_util.h"
#include "tools/http_server.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kJsonType[] = "application/json; charset=utf-8";

// The "error" member of an error body; fails the test if the body is not {"error": "…"}.
std::string ErrorOf(const testing::HttpResult& r) {
  if (!r) {
    ADD_FAILURE() << "no response: " << r.error();
    return "";
  }
  EXPECT_EQ(r->get_header_value("Content-Type"), kJsonType);
  google::protobuf::Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r->body, &s).ok()) << r->body;
  EXPECT_EQ(s.fields().size(), 1u) << r->body;
  const auto it = s.fields().find("error");
  if (it == s.fields().end()) return "";
  EXPECT_FALSE(it->second.string_value().empty());
  return it->second.string_value();
}

// What `polmatch query --json` prints for `m`.
std::string ProtobufJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &out, opts).ok());
  return out;
}

// "" when equal, else where `got` first differs from `want`, with a little context.
std::string Difference(const std::string& got, const std::string& want) {
  if (got == want) return "";
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  const size_t from = i < 40 ? 0 : i - 40;
  return "at byte " + std::to_string(i) + ": got …" + got.substr(from, 80) + "… want …" +
         want.substr(from, 80) + "…";
}

FirmMatches ParseMatches(const std::string& body) {
  FirmMatches m;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(body, &m).ok()) << body;
  return m;
}

const PolicyResult* Find(const FirmMatches& m, const std::string& id) {
  for (const PolicyResult& r : m.results()) {
    if (r.policy() == id) return &r;
  }
  return nullptr;
}

class HttpServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::FreshTempDir("http");
    for (const char* amount : {"10万", "20万"}) {
      testing::WriteRulesDir(
          root_ / (std::string("rules_") + (amount[0] == '1' ? "a" : "b")),
          absl::StrCat("policy { id: \"grant\" title: \"高企奖励\" source { document: \"某市办法\" clause: \"一\" "
                       "quote: \"给予10万元奖励\" } mode: AUTO_GRANT "
                       "eligibility: \"qual.hitech and region under \\\"441500\\\"\" benefit: \"",
                       amount, "\" }\n",
                       "policy { id: \"scale\" title: \"规上培育\" eligibility: \"region under \\\"441500\\\" "
                       "and revenue >= 1000万\" }\n"
                       "policy { id: \"rd\" title: \"研发补助\" eligibility: \"qual.hitech and rd_expense > 0\" "
                       "benefit: \"rd_expense * 10%\" }\n"
                       "policy { id: \"pct\" title: \"按收入\" eligibility: \"qual.hitech\" "
                       "benefit: \"revenue * 10%\" }\n"));
    }
    snapshot_ = (root_ / "r.snap").string();
    codes_ = testing::WriteHitechSnapshot(snapshot_, 700, 100);
    ASSERT_FALSE(HasFailure());
  }

  void TearDown() override {
    served_.server.reset();
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  EngineOptions Options(const char* rules) const {
    EngineOptions o;
    o.rules_dir = (root_ / rules).string();
    o.snapshot_path = snapshot_;
    return o;
  }

  // Loads rules_a and serves it on a free loopback port.
  void Start(http::HttpServerOptions options = {}) {
    const absl::Status started = served_.Start(Options("rules_a"), options);
    ASSERT_TRUE(started.ok()) << started;
  }

  testing::HttpClient Client() const {
    testing::HttpClient c("127.0.0.1", served_.port);
    c.set_read_timeout(10, 0);
    return c;
  }

  std::string MatchesPath(const std::string& code, const std::string& query = "?as_of=2023-06-30") const {
    return "/api/v1/firms/" + code + "/matches" + query;
  }

  fs::path root_;
  std::string snapshot_;
  std::vector<std::string> codes_;
  testing::LoopbackServer served_;
};

// The direct JSON writer prints what protobuf prints: every code point, every enum value (and
// one outside the enum), empty and repeated fields.
TEST(HttpJsonTest, FirmMatchesJsonIsProtobufJson) {
  std::string every;
  for (uint32_t cp = 0; cp <= 0x10ffff; ++cp) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    if (cp < 0x80) {
      every.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      every += {static_cast<char>(0xc0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3f))};
    } else if (cp < 0x10000) {
      every += {static_cast<char>(0xe0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3f)),
                static_cast<char>(0x80 | (cp & 0x3f))};
    } else {
      every += {static_cast<char>(0xf0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3f)),
                static_cast<char>(0x80 | ((cp >> 6) & 0x3f)), static_cast<char>(0x80 | (cp & 0x3f))};
    }
  }
  FirmMatches m;
  m.set_credit_code("91441502MA4W0PA9X8");
  m.set_name("汕尾海峰新型研发研究院有限公司 <\"名称\">");
  m.set_as_of("2021-06-30");
  for (int status = 0; status <= 7; ++status) {
    PolicyResult* r = m.add_results();
    r->set_policy("p" + std::to_string(status));
    r->set_title("标题 \"引号\" <b>&amp;</b>\n\t");
    r->set_status(static_cast<MatchStatus>(status == 7 ? 99 : status));
    r->set_mode(status % 2 ? Policy::AUTO_GRANT : Policy::APPLY);
    if (status == 1) r->set_benefit_yuan("2000000.00");
    for (int v = 0; v < status % 4; ++v) {
      ConditionTrace* c = r->add_conditions();
      c->set_text(v == 1 ? every : "revenue >= 1000万");
      c->set_value(static_cast<ConditionTrace::Value>(v));
      c->set_detail("年营业收入 revenue = 12000000 (> 10000000)");
      c->set_text_zh(v == 2 ? every : "年营业收入不低于1,000万元(贵企业:1,200万元)");
      c->set_actionable(v % 2 == 0);
    }
    r->set_benefit_detail(status == 1 ? "min(a, b) = 2000000 → 2000000.00 元" : "");
    r->set_reason("eligible: granted without application (免申即享)");
    if (status != 3) r->set_explanation_zh(status == 5 ? every : "贵企业符合全部条件,可获200万元。");
  }
  EXPECT_EQ(Difference(http::internal::FirmMatchesJson(m), ProtobufJson(m)), "");
  EXPECT_EQ(Difference(http::internal::FirmMatchesJson(FirmMatches()), ProtobufJson(FirmMatches())), "");

  // Invalid UTF-8 (protobuf drops it) becomes U+FFFD: still valid JSON.
  std::string out;
  http::internal::AppendJsonString("a\xff\xc0\x80" "b\xed\xa0\x80", &out);
  EXPECT_EQ(out, "\"a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}

TEST_F(HttpServiceTest, HealthAndPortal) {
  Start();
  testing::HttpClient c = Client();
  testing::HttpResult health = c.Get("/healthz");
  ASSERT_TRUE(health) << health.error();
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok");
  EXPECT_EQ(health->get_header_value("Content-Type"), "text/plain; charset=utf-8");

  for (const char* path : {"/", "/index.html"}) {
    testing::HttpResult page = c.Get(path);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200) << path;
    EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(page->body, http::HttpService::PortalPage());
    EXPECT_THAT(page->body, HasSubstr("政策计算器"));
    EXPECT_THAT(page->get_header_value("Content-Security-Policy"), HasSubstr("default-src 'none'"));
  }
  // The page is self-contained: no script, style or font from elsewhere.
  const std::string& page = http::HttpService::PortalPage();
  EXPECT_THAT(page, StartsWith("<!doctype html>"));
  EXPECT_THAT(page, Not(HasSubstr("src=\"http")));
  EXPECT_THAT(page, Not(HasSubstr("href=\"http")));
  EXPECT_THAT(page, Not(HasSubstr("@import")));
}

TEST_F(HttpServiceTest, Matches) {
  Start();
  testing::HttpClient c = Client();
  testing::HttpResult r = c.Get(MatchesPath(codes_[0]));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), kJsonType);
  // The `query --json` object, field for field what the engine answers.
  EXPECT_THAT(r->body, HasSubstr("\"credit_code\":\"" + codes_[0] + "\""));
  EXPECT_THAT(r->body, HasSubstr("\"as_of\":\"2023-06-30\""));
  EXPECT_THAT(r->body, HasSubstr("\"benefit_yuan\":\"100000.00\""));
  EXPECT_THAT(r->body, HasSubstr("\"status\":\"NEAR_MISS\""));
  EXPECT_THAT(r->body, HasSubstr("\"value\":\"FALSE\""));
  EXPECT_THAT(r->body, HasSubstr("高企奖励"));  // UTF-8, not \u escapes
  const FirmMatches got = ParseMatches(r->body);
  absl::StatusOr<FirmMatches> want = served_.engine->Match(codes_[0], absl::CivilDay(2023, 6, 30));
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(got.SerializeAsString(), want->SerializeAsString());
  EXPECT_EQ(r->body, ProtobufJson(*want));  // byte for byte
  EXPECT_EQ(Find(got, "grant")->status(), ELIGIBLE);
  EXPECT_EQ(Find(got, "scale")->status(), NEAR_MISS);
  EXPECT_EQ(Find(got, "rd")->status(), UNDETERMINED);  // rd_expense unknown
  EXPECT_EQ(Find(got, "pct")->benefit_yuan(), "10.00");

  // No as_of (or an empty one): today.
  for (const char* query : {"", "?as_of="}) {
    testing::HttpResult today = c.Get(MatchesPath(codes_[1], query));
    ASSERT_TRUE(today);
    EXPECT_EQ(today->status, 200);
    EXPECT_EQ(ParseMatches(today->body).as_of(), FormatDate(Today())) << query;
  }
  // HEAD: the headers of GET, no body.
  testing::HttpResult head = c.Head(MatchesPath(codes_[0]).c_str());
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
}

TEST_F(HttpServiceTest, MatchesErrors) {
  Start();
  testing::HttpClient c = Client();
  struct Case {
    std::string path;
    int status;
    std::string message;
  };
  const std::string unknown = testing::MakeCreditCode("441502", 99);
  const std::vector<Case> cases = {
      {MatchesPath("91441502MA4W0PA9X"), 400, "18"},                    // too short
      {MatchesPath(codes_[0].substr(0, 17) + "0"), 400, "check"},       // bad check digit
      {MatchesPath("%E4%BC%81%E4%B8%9A"), 400, ""},                    // 企业
      {MatchesPath(unknown), 404, "not registered"},
      {MatchesPath(codes_[0], "?as_of=2023-02-30"), 400, "as_of"},
      {MatchesPath(codes_[0], "?as_of=30.06.2023"), 400, "as_of"},
      {MatchesPath(codes_[0], "?asof=2023-06-30"), 400, "unknown query parameter \"asof\""},
      {MatchesPath(codes_[0], "?as_of=2023-06-30&as_of=2023-07-01"), 400, "more than once"},
      {"/api/v1/firms//matches", 404, "no such endpoint"},
      {"/api/v1/firms/" + codes_[0], 404, "no such endpoint"},
      {"/api/v1/firm/" + codes_[0] + "/matches", 404, "no such endpoint"},
      {"/nope", 404, "no such endpoint: /nope"},
      {"/api/v1/policies/%FF%FE", 404, "unknown policy"},  // invalid UTF-8 in, valid JSON out
  };
  for (const Case& k : cases) {
    testing::HttpResult r = c.Get(k.path);
    ASSERT_TRUE(r) << k.path;
    EXPECT_EQ(r->status, k.status) << k.path << " " << r->body;
    EXPECT_THAT(ErrorOf(r), HasSubstr(k.message)) << k.path;
  }
  // Still serving.
  testing::HttpResult ok = c.Get(MatchesPath(codes_[0]));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpServiceTest, Explain) {
  Start();
  testing::HttpClient c = Client();
  const std::string base = "/api/v1/firms/" + codes_[0] + "/policies/";
  testing::HttpResult r = c.Get(base + "scale/explain?as_of=2023-06-30");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), kJsonType);
  const FirmMatches m = ParseMatches(r->body);
  EXPECT_EQ(m.credit_code(), codes_[0]);
  EXPECT_EQ(m.as_of(), "2023-06-30");
  ASSERT_EQ(m.results_size(), 1);
  const PolicyResult& why = m.results(0);
  EXPECT_EQ(why.policy(), "scale");
  EXPECT_EQ(why.status(), NEAR_MISS);
  ASSERT_EQ(why.conditions_size(), 2);
  EXPECT_EQ(why.conditions(0).value(), ConditionTrace::TRUE);
  EXPECT_EQ(why.conditions(1).value(), ConditionTrace::FALSE);
  EXPECT_THAT(why.conditions(1).detail(), HasSubstr("100"));
  absl::StatusOr<PolicyResult> want = served_.engine->Explain(codes_[0], "scale", absl::CivilDay(2023, 6, 30));
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(why.SerializeAsString(), want->SerializeAsString());

  testing::HttpResult grant = c.Get(base + "grant/explain?as_of=2023-06-30");
  ASSERT_TRUE(grant);
  EXPECT_THAT(grant->body, HasSubstr("\"benefit_yuan\":\"100000.00\""));

  EXPECT_EQ(c.Get(base + "nope/explain")->status, 404);
  EXPECT_THAT(ErrorOf(c.Get(base + "nope/explain")), HasSubstr("unknown policy nope"));
  const std::string unknown = testing::MakeCreditCode("441502", 99);
  EXPECT_EQ(c.Get("/api/v1/firms/" + unknown + "/policies/grant/explain")->status, 404);
  // A malformed code is 400 even with an unknown policy.
  EXPECT_EQ(c.Get("/api/v1/firms/123/policies/nope/explain")->status, 400);
  EXPECT_EQ(c.Get(base + "grant/explain?as_of=yesterday")->status, 400);
}

TEST_F(HttpServiceTest, Policies) {
  Start();
  testing::HttpClient c = Client();
  testing::HttpResult r = c.Get("/api/v1/policies/grant");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), kJsonType);
  EXPECT_THAT(r->body, HasSubstr("\"mode\":\"AUTO_GRANT\""));
  EXPECT_THAT(r->body, HasSubstr("\"limit\":0"));  // every field, as protobuf's JSON mapping
  Policy p;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r->body, &p).ok());
  absl::StatusOr<Policy> want = served_.engine->GetPolicy("grant");
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(p.SerializeAsString(), want->SerializeAsString());
  EXPECT_EQ(p.source().quote(), "给予10万元奖励");

  EXPECT_EQ(c.Get("/api/v1/policies/nope")->status, 404);
  EXPECT_THAT(ErrorOf(c.Get("/api/v1/policies/nope")), HasSubstr("unknown policy nope"));
  EXPECT_EQ(c.Get("/api/v1/policies/grant?as_of=2023-01-01")->status, 400);
}

TEST_F(HttpServiceTest, Evaluate) {
  Start();
  testing::HttpClient c = Client();
  // A firm nobody registered, no credit code; fact values as JSON numbers, kept exact: a double
  // would make 1234567890123.45 * 10% round to …012.34.
  const std::string body =
      R"({"region": "441502", "industry": "I65", "founded": "2020-01-01",
          "facts": {"revenue": 1234567890123.45, "employees": "12"},
          "tags": [{"id": "qual.hitech", "valid_from": "2022-01-01"}]})";
  testing::HttpResult r = c.Post("/api/v1/evaluate?as_of=2023-06-30", body, "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), kJsonType);
  FirmMatches m = ParseMatches(r->body);
  EXPECT_EQ(m.credit_code(), "");
  EXPECT_EQ(m.as_of(), "2023-06-30");
  EXPECT_EQ(Find(m, "pct")->benefit_yuan(), "123456789012.35");
  EXPECT_EQ(Find(m, "grant")->status(), ELIGIBLE);
  EXPECT_EQ(Find(m, "scale")->status(), ELIGIBLE);
  EXPECT_EQ(Find(m, "rd")->status(), UNDETERMINED);  // rd_expense unknown: data needed
  EXPECT_EQ(Find(m, "rd")->conditions(1).value(), ConditionTrace::UNKNOWN);

  // With a credit code (registered or not) the answer names it. The tag is not yet held in 2021:
  // one actionable condition short.
  const std::string code = testing::MakeCreditCode("441502", 98);
  r = c.Post("/api/v1/evaluate?as_of=2021-06-30",
             R"({"creditCode": ")" + code + R"(", "region": "441502", "tags": [{"id": "高新技术企业", "valid_from": "2022-01-01"}]})",
             "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  m = ParseMatches(r->body);
  EXPECT_EQ(m.credit_code(), code);
  EXPECT_EQ(Find(m, "grant")->status(), NEAR_MISS);

  // The whole 1 MiB may be used.
  const std::string small = R"({"region": "441502"})";
  r = c.Post("/api/v1/evaluate", std::string((1 << 20) - small.size(), ' ') + small, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body.substr(0, 200);
}

TEST_F(HttpServiceTest, EvaluateErrors) {
  Start();
  testing::HttpClient c = Client();
  struct Case {
    std::string body;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "empty"},
      {"  \n", "empty"},
      {"{", "malformed JSON"},
      {"[1, 2]", ""},
      {"\"firm\"", ""},
      {R"({"region": "441502", "turnover": 1})", "turnover"},
      {R"({"region": "441502", "facts": {"turnover": 1}})", "unknown fact id \"turnover\""},
      {R"({"region": "441502", "facts": {"revenue": "lots"}})", "revenue"},
      {R"({"region": "999999"})", "region"},
      {R"({"region": "441502", "founded": "2020-13-01"})", "founded"},
      {R"({"region": "441502", "creditCode": "91441502MA4W0PA9X9"})", "check"},
      {R"({"region": "441502", "tags": [{"id": "qual.nobel"}]})", "qual.nobel"},
  };
  for (const Case& k : cases) {
    testing::HttpResult r = c.Post("/api/v1/evaluate?as_of=2023-06-30", k.body, "application/json");
    ASSERT_TRUE(r) << k.body;
    EXPECT_EQ(r->status, 400) << k.body << " → " << r->body;
    EXPECT_THAT(ErrorOf(r), HasSubstr(k.message)) << k.body;
  }
  EXPECT_EQ(c.Post("/api/v1/evaluate?as_of=2023-6-30", R"({"region": "441502"})", "application/json")->status, 400);
  EXPECT_EQ(c.Post("/api/v1/evaluate?region=441502", R"({"region": "441502"})", "application/json")->status, 400);

  // 413 for a body over 1 MiB, with a Content-Length …
  const std::string big((1 << 20) + 1, ' ');
  testing::HttpResult too_big = c.Post("/api/v1/evaluate", big, "application/json");
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 413);
  EXPECT_THAT(ErrorOf(too_big), HasSubstr("larger than 1048576 bytes"));
  // … or chunked, without one: kept only up to the limit, the rest read and dropped so that the
  // connection serves its next request; past 16 MiB reading stops.
  const auto chunks = [](size_t total) {
    return [total](size_t offset) -> std::optional<std::string> {
      if (offset < total) return std::string(64 << 10, ' ');
      return std::nullopt;
    };
  };
  testing::HttpClient chunked = Client();
  chunked.set_keep_alive(true);
  testing::HttpResult streamed = chunked.Post("/api/v1/evaluate", chunks(size_t{4} << 20), "application/json");
  ASSERT_TRUE(streamed) << streamed.error();
  EXPECT_EQ(streamed->status, 413);
  EXPECT_THAT(ErrorOf(streamed), HasSubstr("larger than 1048576 bytes"));
  testing::HttpResult next = chunked.Get("/healthz");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  testing::HttpClient endless = Client();
  testing::HttpResult cut = endless.Post("/api/v1/evaluate", chunks(size_t{40} << 20), "application/json");
  if (cut) {  // the client may fail to send once the server stops reading
    EXPECT_EQ(cut->status, 413);
  }
  // Still serving.
  testing::HttpClient after = Client();
  EXPECT_EQ(after.Get("/healthz")->status, 200);
}

TEST_F(HttpServiceTest, WrongMethods) {
  Start();
  testing::HttpClient c = Client();
  testing::HttpResult r = c.Post(MatchesPath(codes_[0]), "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");
  EXPECT_THAT(ErrorOf(r), HasSubstr("method POST is not allowed"));

  r = c.Get("/api/v1/evaluate");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "POST");
  ErrorOf(r);

  for (const char* method : {"PUT", "PATCH", "DELETE"}) {
    testing::HttpResult m = c.Send(method, "/api/v1/policies/grant", "{}", "application/json");
    ASSERT_TRUE(m) << method;
    EXPECT_EQ(m->status, 405) << method;
    ErrorOf(m);
  }
  testing::HttpResult options = c.Options("/healthz");
  ASSERT_TRUE(options);
  EXPECT_EQ(options->status, 405);
  EXPECT_EQ(c.Delete("/nope")->status, 404);
  EXPECT_EQ(c.Get("/healthz")->status, 200);
}

TEST_F(HttpServiceTest, AccessLog) {
  std::ostringstream log;
  http::HttpServerOptions options;
  options.access_log = &log;
  Start(options);
  testing::HttpClient c = Client();
  ASSERT_EQ(c.Get("/healthz")->status, 200);
  ASSERT_EQ(c.Get("/api/v1/policies/nope")->status, 404);
  served_.server.reset();
  const std::string lines = log.str();
  EXPECT_THAT(lines, ::testing::ContainsRegex(R"(127\.0\.0\.1 GET /healthz 200 [0-9]+us)"));
  EXPECT_THAT(lines, ::testing::ContainsRegex(R"(GET /api/v1/policies/nope 404 [0-9]+us)"));
  // The body's size closes the line.
  EXPECT_THAT(lines, ::testing::ContainsRegex(R"(GET /healthz 200 [0-9]+us 2B)" "\n"));
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 2);
}

TEST_F(HttpServiceTest, QueriesDuringReloads) {
  Start();
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, seen_a{0}, seen_b{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      testing::HttpClient c = Client();
      int i = 0;
      while (!stop.load()) {
        testing::HttpResult r = (i++ % 2) ? c.Get(MatchesPath(codes_[t % 3]))
                                      : c.Get("/api/v1/firms/" + codes_[t % 3] + "/policies/grant/explain?as_of=2023-06-30");
        if (!r || r->status != 200) {
          ++failures;
          continue;
        }
        const FirmMatches m = ParseMatches(r->body);
        const PolicyResult* grant = Find(m, "grant");
        if (grant == nullptr) {
          ++failures;
        } else if (grant->benefit_yuan() == "100000.00") {
          ++seen_a;
        } else if (grant->benefit_yuan() == "200000.00") {
          ++seen_b;
        } else {
          ++failures;
        }
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(served_.engine->Reload(Options(i % 2 ? "rules_a" : "rules_b")).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // A failed reload changes nothing.
  EngineOptions broken = Options("rules_a");
  broken.snapshot_path = (root_ / "missing.snap").string();
  EXPECT_FALSE(served_.engine->Reload(broken).ok());
  stop = true;
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(seen_a.load(), 0);
  EXPECT_GT(seen_b.load(), 0);
}

// `polmatch serve` as a process: it prints where it listens, reloads on SIGHUP (keeping the old
// state when the new one does not load) and exits 0 on SIGTERM.
TEST_F(HttpServiceTest, ServeProcess) {
  const std::string log_path = (root_ / "serve.log").string();
  const std::string rules = (root_ / "rules_a").string();
  pid_t pid = testing::SpawnPolmatch(
      {"serve", "--rules", rules, "--snapshot", snapshot_, "--port", "0", "--threads", "2"}, "", log_path);
  ASSERT_GT(pid, 0);
  // Should an assertion end the test early, the server does not outlive it.
  struct Reaper {
    pid_t& pid;
    ~Reaper() {
      if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
  } reaper{pid};
  const auto read_log = [&] { return testing::ReadFile(log_path); };
  const auto wait_for = [&](const std::string& text) { return testing::WaitForText(log_path, text); };
  ASSERT_TRUE(wait_for("listening on http://127.0.0.1:")) << read_log();
  const int port = testing::ListeningPort(read_log(), "127.0.0.1");
  testing::HttpClient c("127.0.0.1", port);
  testing::HttpResult r = c.Get(MatchesPath(codes_[0]));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(wait_for("GET /api/v1/firms/" + codes_[0] + "/matches?as_of=2023-06-30 200 "));
  // The same bytes as `polmatch query --json` (both leave INELIGIBLE results untraced).
  std::string cli;
  FILE* query = popen((std::string(POLMATCH_BINARY) + " query --json --rules " + rules + " --snapshot " +
                       snapshot_ + " --firm " + codes_[0] + " --as-of 2023-06-30 2>/dev/null").c_str(), "r");
  ASSERT_NE(query, nullptr);
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, query)) > 0;) cli.append(buf, n);
  EXPECT_EQ(pclose(query), 0);
  EXPECT_EQ(cli, r->body + "\n");

  kill(pid, SIGHUP);
  EXPECT_TRUE(wait_for("reloaded in")) << read_log();
  std::ofstream(snapshot_, std::ios::trunc) << "not a snapshot";
  kill(pid, SIGHUP);
  EXPECT_TRUE(wait_for("reload failed, still serving the previous state")) << read_log();
  r = c.Get(MatchesPath(codes_[0]));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);

  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  pid = 0;
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << read_log();
  EXPECT_THAT(read_log(), HasSubstr("shutting down"));
}

}  // namespace
}  // namespace polmatch
