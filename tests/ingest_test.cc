// Tests of firm ingestion (engine/ingest/firm_reader.h): JSON Lines and CSV readers, rejections
// with file:line, exact fact numbers, format detection and the merge of several sources.
#include "engine/ingest/firm_reader.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/ingest/credit_code.h"
#include "engine/ingest/firm_sources.h"
#include "engine/ingest/firm_table.h"
#include "engine/ingest/jsonl_reader.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::MakeCreditCode;
using testing::MakeProfile;
using testing::RealTaxonomy;

// Under the test temp directory, named by process so concurrent runs of the suite do not collide.
std::string WriteTempFile(const std::string& name, const std::string& contents) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/ingest_test_", ::getpid(), "_", name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  return path;
}

// A code with a wrong check character.
std::string BadCheckCode(const std::string& region, int serial) {
  std::string code = MakeCreditCode(region, serial);
  code[17] = code[17] == '0' ? '1' : '0';
  return code;
}

std::string Code(int serial) { return MakeCreditCode("440802", serial); }

// {"credit_code":…,"name":…,"region":"440802","industry":"C13","founded":"2015-06-01"<extra>}
std::string JsonFirm(const std::string& code, const std::string& extra = "") {
  return absl::StrCat(R"({"credit_code":")", code,
                      R"(","name":"湛江测试企业","region":"440802","industry":"C13",)",
                      R"("founded":"2015-06-01")", extra, "}");
}

struct ReadResult {
  absl::Status status;
  std::vector<std::pair<Firm, int>> firms;  // with their lines
  std::vector<Rejection> rejects;
  IngestStats stats;

  std::vector<int> lines() const {
    std::vector<int> out;
    for (const auto& [firm, line] : firms) out.push_back(line);
    return out;
  }
  std::vector<std::string> rejections() const {
    std::vector<std::string> out;
    for (const Rejection& r : rejects) out.push_back(r.ToString());
    return out;
  }
};

ReadResult Read(const std::string& path, FirmFormat format = FirmFormat::kAuto) {
  ReadResult r;
  r.status = ReadFirms(
      path, format, RealTaxonomy(),
      [&](Firm&& firm, int line) { r.firms.emplace_back(std::move(firm), line); }, &r.rejects,
      &r.stats);
  return r;
}

std::optional<std::string> FactText(const Firm& firm, const std::string& id) {
  const std::optional<Decimal>& value = firm.facts[RealTaxonomy().FindFact(id)->value];
  if (!value) return std::nullopt;
  return value->ToString();
}

std::vector<std::string> TagIds(const Firm& firm) {
  std::vector<std::string> out;
  for (const TagGrantRecord& g : firm.tags) out.push_back(RealTaxonomy().tag(g.tag).id);
  return out;
}

// --- JSON Lines -------------------------------------------------------------------------------

TEST(IngestJsonlTest, ReadsValidLinesWithTheirNumbers) {
  const std::string path = WriteTempFile(
      "valid.jsonl",
      absl::StrCat(JsonFirm(Code(1), R"(,"facts":{"revenue":"1500000","employees":"12"})"), "\n",
                   "\n",  // blank lines are skipped but counted
                   JsonFirm(Code(2), R"(,"tags":[{"id":"qual.hitech","valid_from":"2022-01-01",)"
                                     R"("valid_to":"2024-12-31","source":"省科技厅"}])"),
                   "\n", JsonFirm(Code(3)), "\n"));
  ReadResult r = Read(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.lines(), ElementsAre(1, 3, 4));
  EXPECT_TRUE(r.rejects.empty()) << absl::StrJoin(r.rejections(), "\n");
  EXPECT_EQ(r.stats.records, 3);
  EXPECT_EQ(r.stats.accepted, 3);
  EXPECT_EQ(r.stats.rejected, 0);
  const Firm& first = r.firms[0].first;
  EXPECT_EQ(first.credit_code, Code(1));
  EXPECT_EQ(first.name, "湛江测试企业");
  EXPECT_EQ(first.region, "440802");
  EXPECT_EQ(first.industry, "C13");
  EXPECT_EQ(first.founded, absl::CivilDay(2015, 6, 1));
  EXPECT_EQ(FactText(first, "revenue"), "1500000");
  EXPECT_EQ(FactText(first, "employees"), "12");
  EXPECT_EQ(FactText(first, "rd_expense"), std::nullopt);  // missing = unknown
  const Firm& second = r.firms[1].first;
  ASSERT_EQ(second.tags.size(), 1u);
  EXPECT_THAT(TagIds(second), ElementsAre("qual.hitech"));
  EXPECT_EQ(second.tags[0].valid_from, absl::CivilDay(2022, 1, 1));
  EXPECT_EQ(second.tags[0].valid_to, absl::CivilDay(2024, 12, 31));
  EXPECT_EQ(second.tags[0].source, "省科技厅");
}

TEST(IngestJsonlTest, RejectsEachKindOfBadRecordAndKeepsTheGoodOnes) {
  const std::vector<std::string> lines = {
      JsonFirm(Code(1)),                                                    // 1 good
      JsonFirm(BadCheckCode("440802", 2)),                                  // 2
      JsonFirm(Code(3)),                                                    // 3 good
      absl::StrCat(R"({"credit_code":")", Code(4), R"(","region":"440802","founded":"2023-02-30"})"),
      JsonFirm(Code(5), R"(,"facts":{"turnover":"100"})"),                 // 5
      JsonFirm(Code(6), R"(,"tags":[{"id":"qual.unicorn"}])"),             // 6
      R"({"credit_code": ")" + Code(7) + R"(", "region": )",               // 7 malformed
      JsonFirm(Code(8), R"(,"facts":{"revenue":"12万"})"),                  // 8
      JsonFirm(Code(9), R"(,"facts":{"revenue":1e-7})"),                   // 9
      JsonFirm(Code(10), R"(,"turnover":5)"),                              // 10
      "not json at all",                                                   // 11
      JsonFirm(Code(12)),                                                  // 12 good
      absl::StrCat(R"({"credit_code":")", Code(13), R"(","region":"999999"})"),  // 13
      JsonFirm(Code(14), R"(,"facts":{"revenue":"1.0000001"})"),           // 14
  };
  const std::string path = WriteTempFile("bad.jsonl", absl::StrJoin(lines, "\n") + "\n");
  ReadResult r = Read(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.lines(), ElementsAre(1, 3, 12));
  EXPECT_EQ(r.stats.records, 14);
  EXPECT_EQ(r.stats.accepted, 3);
  EXPECT_EQ(r.stats.rejected, 11);
  ASSERT_EQ(r.rejects.size(), 11u) << absl::StrJoin(r.rejections(), "\n");
  const std::string expected_check(1, *CreditCodeCheckChar(Code(2).substr(0, 17)));
  const std::string found_check(1, BadCheckCode("440802", 2)[17]);
  const std::vector<std::pair<int, std::string>> want = {
      {2, "bad check digit: expected '" + expected_check + "', found '" + found_check + "'"},
      {4, "founded: bad date \"2023-02-30\""},
      {5, "unknown fact id \"turnover\""},
      {6, "unknown tag id \"qual.unicorn\""},
      {7, "malformed JSON: "},
      {8, "fact revenue: not a decimal number: \"12万\""},
      {9, "fact revenue: 1e-7 has more than 6 fractional digits"},
      {10, "unknown field \"turnover\""},
      {11, "malformed JSON: "},
      {13, "region \"999999\" is not a GB/T 2260 code"},
      {14, "fact revenue: more than 6 fractional digits"},
  };
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(r.rejects[i].file, path);
    EXPECT_EQ(r.rejects[i].line, want[i].first) << r.rejects[i].ToString();
    EXPECT_THAT(r.rejects[i].reason, HasSubstr(want[i].second)) << r.rejects[i].ToString();
    EXPECT_THAT(r.rejects[i].reason, Not(HasSubstr("\n")));
  }
  EXPECT_EQ(r.rejects[0].ToString(),
            absl::StrCat(path, ":2: ", r.rejects[0].reason));
}

TEST(IngestJsonlTest, JsonNumbersInFactsAreKeptExactly) {
  const std::string path = WriteTempFile(
      "numbers.jsonl",
      absl::StrCat(
          JsonFirm(Code(1), R"(,"facts":{"revenue":12345.675,"rd_expense":0.000001,)"
                            R"("tax_paid":9000000000000,"employees":-0,"invention_patents":7})"),
          "\n",
          // The lenient syntax protobuf accepts (bare keys, spaces) goes through protobuf.
          R"({credit_code: ")", Code(2),
          R"(", region: "440802", facts: { revenue : 0.1 , "从业人数" : 3 }})", "\n",
          // The id and its Chinese name both given: ambiguous, so the record is rejected.
          JsonFirm(Code(3), R"(,"facts":{"revenue":1,"年营业收入":null})"), "\n",
          JsonFirm(Code(4), R"(,"facts":{"revenue":8999999999999.999999})"), "\n"));
  ReadResult r = Read(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.lines(), ElementsAre(1, 2, 4));
  ASSERT_EQ(r.firms.size(), 3u) << absl::StrJoin(r.rejections(), "\n");
  const Firm& first = r.firms[0].first;
  EXPECT_EQ(first.facts[RealTaxonomy().FindFact("revenue")->value]->raw(), 12345675000);
  EXPECT_EQ(FactText(first, "revenue"), "12345.675");
  EXPECT_EQ(FactText(first, "rd_expense"), "0.000001");
  EXPECT_EQ(FactText(first, "tax_paid"), "9000000000000");
  EXPECT_EQ(FactText(first, "employees"), "0");
  EXPECT_EQ(FactText(first, "invention_patents"), "7");
  EXPECT_EQ(FactText(r.firms[1].first, "revenue"), "0.1");
  EXPECT_EQ(FactText(r.firms[1].first, "employees"), "3");
  ASSERT_EQ(r.rejects.size(), 1u);
  EXPECT_EQ(r.rejects[0].line, 3);
  EXPECT_THAT(r.rejects[0].reason, HasSubstr("is given twice"));
  EXPECT_EQ(FactText(r.firms[2].first, "revenue"), "8999999999999.999999");  // no double holds it
}

TEST(IngestJsonlTest, OutOfRangeNumbersAreRejected) {
  const std::string path = WriteTempFile(
      "range.jsonl", JsonFirm(Code(1), R"(,"facts":{"revenue":9000000000001})") + "\n");
  ReadResult r = Read(path);
  ASSERT_EQ(r.rejects.size(), 1u);
  EXPECT_THAT(r.rejects[0].reason, HasSubstr("fact revenue: number out of range"));
}

TEST(IngestJsonlTest, DecimalStringsNullsAndEmptyStringsAreKnownOrUnknown) {
  const std::string path = WriteTempFile(
      "strings.jsonl",
      JsonFirm(Code(1), R"(,"facts":{"revenue":"12345.675","employees":null,"tax_paid":"",)"
                        R"("研发费用":"-3.5"})") +
          "\n");
  ReadResult r = Read(path);
  ASSERT_EQ(r.firms.size(), 1u) << absl::StrJoin(r.rejections(), "\n");
  const Firm& f = r.firms[0].first;
  EXPECT_EQ(FactText(f, "revenue"), "12345.675");
  EXPECT_EQ(FactText(f, "employees"), std::nullopt);
  EXPECT_EQ(FactText(f, "tax_paid"), std::nullopt);
  EXPECT_EQ(FactText(f, "rd_expense"), "-3.5");  // by its Chinese name
}

TEST(IngestJsonlTest, NullFactValueStillNeedsAKnownFactId) {
  const std::string path =
      WriteTempFile("nullid.jsonl", JsonFirm(Code(1), R"(,"facts":{"turnover":null})") + "\n");
  ReadResult r = Read(path);
  ASSERT_EQ(r.rejects.size(), 1u);
  EXPECT_THAT(r.rejects[0].reason, HasSubstr("unknown fact id \"turnover\""));
}

TEST(IngestJsonlTest, AcceptsLowerCamelCaseFieldNames) {
  const std::string path = WriteTempFile(
      "camel.jsonl",
      absl::StrCat(R"({"creditCode":")", Code(1),
                   R"(","region":"440802","tags":[{"id":"高新技术企业","validFrom":"2022-01-01",)",
                   R"("validTo":"2024-12-31"}]})", "\n"));
  ReadResult r = Read(path);
  ASSERT_EQ(r.firms.size(), 1u) << absl::StrJoin(r.rejections(), "\n");
  EXPECT_EQ(r.firms[0].first.credit_code, Code(1));
  EXPECT_THAT(TagIds(r.firms[0].first), ElementsAre("qual.hitech"));
  EXPECT_EQ(r.firms[0].first.tags[0].valid_to, absl::CivilDay(2024, 12, 31));
}

TEST(IngestJsonlTest, ToleratesBomCrlfAndLinesLongerThanTheBuffer) {
  // A name of 3 MiB crosses the 1 MiB read chunk several times.
  const std::string long_name(3 << 20, 'x');
  const std::string path = WriteTempFile(
      "crlf.jsonl",
      absl::StrCat("\xEF\xBB\xBF", JsonFirm(Code(1)), "\r\n", "  \r\n",
                   R"({"credit_code":")", Code(2), R"(","region":"440802","name":")", long_name,
                   "\"}\r\n", JsonFirm(Code(3))));  // no final newline
  ReadResult r = Read(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.rejects.empty()) << absl::StrJoin(r.rejections(), "\n");
  EXPECT_THAT(r.lines(), ElementsAre(1, 3, 4));
  EXPECT_EQ(r.firms[1].first.name.size(), long_name.size());
  std::remove(path.c_str());
}

TEST(IngestJsonlTest, RejectsInvalidUtf8) {
  const std::string path = WriteTempFile(
      "utf8.jsonl", absl::StrCat(R"({"credit_code":")", Code(1),
                                 "\",\"region\":\"440802\",\"name\":\"\xFF\xFE\"}\n",
                                 JsonFirm(Code(2)), "\n"));
  ReadResult r = Read(path);
  EXPECT_THAT(r.lines(), ElementsAre(2));
  ASSERT_EQ(r.rejects.size(), 1u);
  EXPECT_EQ(r.rejects[0].reason,
            "column 63: invalid UTF-8 (byte \\xff; a GB18030 file needs --encoding gb18030)");
  // The rejects file stays valid UTF-8: the bad bytes are escaped.
  EXPECT_THAT(r.rejects[0].reason, Not(HasSubstr("\xFF")));
}

TEST(IngestJsonlTest, ParseFirmJsonGivesOneLineErrors) {
  absl::StatusOr<FirmProfile> bad = ParseFirmJson(R"({"credit_code": "x", "region": })");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("malformed JSON: "));
  EXPECT_THAT(std::string(bad.status().message()), Not(HasSubstr("\n")));
  absl::StatusOr<FirmProfile> unknown = ParseFirmJson(R"({"credit_code": "x", "turnover": 1})");
  EXPECT_EQ(unknown.status().message(), "unknown field \"turnover\"");
  absl::StatusOr<FirmProfile> good =
      ParseFirmJson(R"( {"creditCode":"x","facts":{"revenue":12345.675}} )");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->credit_code(), "x");
  EXPECT_EQ(good->facts().at("revenue"), "12345.675");
}

TEST(IngestJsonlTest, FastPathAndProtobufAgree) {
  const std::vector<std::string> lines = {
      JsonFirm(Code(1)),
      JsonFirm(Code(2), R"(,"facts":{"revenue":12345.675,"employees":"12","tax_paid":null})"),
      JsonFirm(Code(3), R"(,"tags":[{"id":"qual.hitech","validFrom":"2022-01-01"},{}])"),
      R"({ "creditCode" : "a" , "facts" : { } , "tags" : [ ] })",
      R"({})",
      R"({"facts":{"":"1","x":-1.5e3}})",
  };
  for (const std::string& line : lines) {
    FirmProfile fast, slow;
    std::string scratch;
    ASSERT_TRUE(ingest_internal::ParseFirmJsonFast(line, &fast)) << line;
    ASSERT_TRUE(ingest_internal::ParseFirmJsonWithProtobuf(line, &slow, &scratch).ok()) << line;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(fast, slow))
        << line << "\nfast: " << fast.ShortDebugString() << "\nslow: " << slow.ShortDebugString();
  }
  // Shapes the fast path leaves to protobuf.
  for (const std::string& line : {
           std::string(R"({"name":"a\"b"})"),           // escapes
           std::string(R"({"name":"a","name":"b"})"),   // repeated field
           std::string(R"({name:"a"})"),                // bare key
           std::string(R"({"name":null})"),             // null field
           std::string(R"({"facts":{"a":"1","a":"2"}})"),  // repeated map key
           std::string(R"({"name":"a"} x)"),            // trailing text
       }) {
    FirmProfile fast;
    EXPECT_FALSE(ingest_internal::ParseFirmJsonFast(line, &fast)) << line;
  }
}

TEST(IngestJsonlTest, QuoteFactNumbersTouchesOnlyTopLevelFacts) {
  std::string out;
  EXPECT_TRUE(ingest_internal::QuoteFactNumbers(
      R"({"name":"1","tags":[{"id":"facts"}],"facts":{"a":1.50,"b":"2","c":-3}})", &out));
  EXPECT_EQ(out, R"({"name":"1","tags":[{"id":"facts"}],"facts":{"a":"1.50","b":"2","c":"-3"}})");
  EXPECT_FALSE(ingest_internal::QuoteFactNumbers(R"({"facts":{"a":"1"}})", &out));
  EXPECT_FALSE(ingest_internal::QuoteFactNumbers(R"({"x":{"facts":{"a":1}}})", &out));
}

// --- CSV --------------------------------------------------------------------------------------

constexpr char kCsvHeader[] = "credit_code,name,region,industry,founded,revenue,从业人数,tags\n";

TEST(IngestCsvTest, ReadsFieldsFactsByIdOrNameAndTags) {
  const std::string path = WriteTempFile(
      "valid.csv",
      absl::StrCat(kCsvHeader,                                                    // 1
                   Code(1), ",湛江甲公司,440802,C13,2015-06-01,12345.675,30,qual.hitech; stat.above_scale\n",  // 2
                   Code(2), ",\"乙公司, 有限\",440802,,,,,\n",                     // 3
                   "\n",                                                          // 4
                   Code(3), ",\"丙\"\"公司\"\"\n第二行\",440802,I65,2020-01-31,,5,\n",  // 5-6
                   Code(4), ",丁,440802,C13,2015-06-01,0.5,,高新技术企业\n"));     // 7
  ReadResult r = Read(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.rejects.empty()) << absl::StrJoin(r.rejections(), "\n");
  EXPECT_THAT(r.lines(), ElementsAre(2, 3, 5, 7));
  EXPECT_EQ(r.stats.records, 4);
  const Firm& a = r.firms[0].first;
  EXPECT_EQ(a.name, "湛江甲公司");
  EXPECT_EQ(FactText(a, "revenue"), "12345.675");
  EXPECT_EQ(FactText(a, "employees"), "30");
  EXPECT_THAT(TagIds(a), ElementsAre("qual.hitech", "stat.above_scale"));
  const Firm& b = r.firms[1].first;
  EXPECT_EQ(b.name, "乙公司, 有限");
  EXPECT_EQ(b.industry, "");
  EXPECT_EQ(b.founded, std::nullopt);
  EXPECT_EQ(FactText(b, "revenue"), std::nullopt);  // empty cell = unknown
  EXPECT_TRUE(b.tags.empty());
  const Firm& c = r.firms[2].first;
  EXPECT_EQ(c.name, "丙\"公司\"\n第二行");
  EXPECT_EQ(FactText(c, "employees"), "5");
  EXPECT_THAT(TagIds(r.firms[3].first), ElementsAre("qual.hitech"));
}

TEST(IngestCsvTest, RejectsEachKindOfBadRecordAndKeepsTheGoodOnes) {
  const std::vector<std::string> lines = {
      "credit_code,name,region,industry,founded,revenue,tags",        // 1
      Code(1) + ",好,440802,C13,2015-06-01,100,qual.hitech",          // 2 good
      BadCheckCode("440802", 2) + ",坏,440802,C13,2015-06-01,100,",   // 3
      Code(3) + ",坏,440802,C13,2023-02-30,100,",                     // 4
      Code(4) + ",坏,440802,C13,2015-06-01,12万,",                    // 5
      Code(5) + ",坏,440802,C13,2015-06-01,100,qual.unicorn",         // 6
      Code(6) + ",坏,440802,C13,2015-06-01,100",                      // 7 too few fields
      Code(7) + ",坏,440802,C13,2015-06-01,100,,extra",               // 8 too many
      Code(8) + ",\"坏,440802,C13,2015-06-01,100,",                   // 9 unterminated quote
      Code(9) + ",好,440802,C13,2015-06-01,,",                        // 10 good
      Code(10) + ",\"坏\"x,440802,C13,2015-06-01,,",                  // 11
      Code(11) + ",坏\"名,440802,C13,2015-06-01,,",                   // 12
      Code(12) + ",好,440802,I65,,7,",                                // 13 good
      Code(13) + ",\"坏",                                             // 14 unterminated at end
  };
  const std::string path = WriteTempFile("bad.csv", absl::StrJoin(lines, "\r\n") + "\r\n");
  ReadResult r = Read(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.lines(), ElementsAre(2, 10, 13));
  const std::vector<std::pair<int, std::string>> want = {
      {3, "bad check digit: expected '"},
      {4, "founded: bad date \"2023-02-30\""},
      {5, "fact revenue: not a decimal number"},
      {6, "unknown tag id \"qual.unicorn\""},
      {7, "wrong number of fields: expected 7, found 6"},
      {8, "wrong number of fields: expected 7, found 8"},
      {9, "unterminated quote in field 2"},
      {11, "unexpected character after closing quote in field 2"},
      {12, "quote inside unquoted field 2"},
      {14, "unterminated quote in field 2"},
  };
  ASSERT_EQ(r.rejects.size(), want.size()) << absl::StrJoin(r.rejections(), "\n");
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(r.rejects[i].line, want[i].first) << r.rejects[i].ToString();
    EXPECT_THAT(r.rejects[i].reason, HasSubstr(want[i].second)) << r.rejects[i].ToString();
  }
  EXPECT_EQ(r.stats.records, 13);
  EXPECT_EQ(r.stats.accepted, 3);
  EXPECT_EQ(r.stats.rejected, 10);
}

TEST(IngestCsvTest, UnterminatedQuoteDoesNotSwallowLaterQuotedRecords) {
  const std::string path = WriteTempFile(
      "quotes.csv",
      absl::StrCat("credit_code,name,region\n",                    // 1
                   Code(1), ",\"open,440802\n",                     // 2 unterminated
                   Code(2), ",plain,440802\n",                      // 3
                   Code(3), ",\"quoted, with comma\",440802\n",     // 4
                   Code(4), ",\"two\nlines\",440802\n"));           // 5-6
  ReadResult r = Read(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.lines(), ElementsAre(3, 4, 5));
  ASSERT_EQ(r.rejects.size(), 1u);
  EXPECT_EQ(r.rejects[0].ToString(), path + ":2: unterminated quote in field 2");
  EXPECT_EQ(r.firms[2].first.name, "two\nlines");
}

TEST(IngestCsvTest, UnusableHeaderIsAnErrorNamingFileAndLine) {
  struct Case {
    std::string header;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"credit_code,name,region,turnover", ":1: unknown fact id \"turnover\" in header column 4"},
           {"name,region,revenue", ":1: header has no credit_code column"},
           {"credit_code,region,revenue,年营业收入", ":1: header column 4 \"年营业收入\" repeats"},
           {"credit_code,region,,revenue", ":1: header column 3 has no name"},
           {"credit_code,\"region", ":1: bad header: unterminated quote in field 2"},
       }) {
    const std::string path =
        WriteTempFile("header.csv", absl::StrCat(c.header, "\n", Code(1), ",440802,1,2\n"));
    ReadResult r = Read(path);
    EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument) << c.header;
    EXPECT_THAT(std::string(r.status.message()), HasSubstr(path + c.message)) << r.status;
    EXPECT_TRUE(r.firms.empty());
  }
}

TEST(IngestCsvTest, HeaderNamesMayHaveSpacesAndColumnsAnyOrder) {
  const std::string path = WriteTempFile(
      "order.csv", absl::StrCat(" region , revenue ,creditCode\n", "440802,8,", Code(1), "\n"));
  ReadResult r = Read(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.firms.size(), 1u) << absl::StrJoin(r.rejections(), "\n");
  EXPECT_EQ(r.firms[0].first.credit_code, Code(1));
  EXPECT_EQ(FactText(r.firms[0].first, "revenue"), "8");
}

TEST(IngestCsvTest, EmptyFileHoldsNoFirms) {
  ReadResult r = Read(WriteTempFile("empty.csv", "\n\n"));
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_TRUE(r.firms.empty());
  EXPECT_EQ(r.stats.records, 0);
}

// --- Formats, streams and files ---------------------------------------------------------------

TEST(IngestFormatTest, DetectsByExtensionThenByFirstByte) {
  const std::string jsonl = JsonFirm(Code(1)) + "\n";
  const std::string csv = absl::StrCat("credit_code,region\n", Code(1), ",440802\n");
  EXPECT_EQ(Read(WriteTempFile("a.ndjson", jsonl)).firms.size(), 1u);
  EXPECT_EQ(Read(WriteTempFile("a.JSON", jsonl)).firms.size(), 1u);
  EXPECT_EQ(Read(WriteTempFile("a.CSV", csv)).firms.size(), 1u);
  EXPECT_EQ(Read(WriteTempFile("a.txt", "\n  \n" + jsonl)).firms.size(), 1u);
  ReadResult sniffed = Read(WriteTempFile("a.dat", "\n" + csv));
  EXPECT_EQ(sniffed.firms.size(), 1u);
  EXPECT_THAT(sniffed.lines(), ElementsAre(3));
  // An explicit format wins over the extension.
  EXPECT_EQ(Read(WriteTempFile("b.txt", csv), FirmFormat::kCsv).firms.size(), 1u);
  ReadResult forced = Read(WriteTempFile("c.csv", jsonl), FirmFormat::kJsonLines);
  EXPECT_EQ(forced.firms.size(), 1u);
}

TEST(IngestFormatTest, ReadsFromAStream) {
  std::istringstream in(absl::StrCat(JsonFirm(Code(1)), "\n{\n"));
  std::vector<Rejection> rejects;
  IngestStats stats;
  int seen = 0;
  absl::Status s = ReadFirms(
      in, "<stdin>", FirmFormat::kAuto, RealTaxonomy(), [&](Firm&&, int) { ++seen; }, &rejects,
      &stats);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(seen, 1);
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_THAT(rejects[0].ToString(), HasSubstr("<stdin>:2: malformed JSON"));
  // Null rejects and stats are allowed.
  std::istringstream again(JsonFirm(Code(1)) + "\nbad\n");
  EXPECT_TRUE(ReadFirms(again, "x", FirmFormat::kJsonLines, RealTaxonomy(), [](Firm&&, int) {},
                        nullptr, nullptr)
                  .ok());
}

TEST(IngestFormatTest, MissingFileIsNotFoundAndDirectoryIsInvalid) {
  ReadResult missing = Read(::testing::TempDir() + "/ingest_test_no_such_file.jsonl");
  EXPECT_EQ(missing.status.code(), absl::StatusCode::kNotFound) << missing.status;
  EXPECT_THAT(std::string(missing.status.message()), HasSubstr("no_such_file.jsonl"));
  EXPECT_EQ(Read(::testing::TempDir()).status.code(), absl::StatusCode::kInvalidArgument);
  std::vector<Rejection> rejects;
  absl::StatusOr<std::vector<Firm>> firms = LoadFirms(
      {WriteTempFile("exists.jsonl", JsonFirm(Code(1)) + "\n"),
       ::testing::TempDir() + "/ingest_test_missing.csv"},
      RealTaxonomy(), &rejects, nullptr);
  EXPECT_EQ(firms.status().code(), absl::StatusCode::kNotFound);
}

// --- Merging sources (六库融通) ----------------------------------------------------------------

TEST(IngestLoadTest, MergesSourcesByCreditCodeInOrder) {
  // Government data first, third-party data second.
  const std::string gov = WriteTempFile(
      "gov.jsonl",
      absl::StrCat(
          JsonFirm(Code(2), R"(,"facts":{"revenue":"100","employees":"10"},)"
                            R"("tags":[{"id":"qual.hitech","valid_from":"2022-01-01"}])"),
          "\n", JsonFirm(Code(1), R"(,"facts":{"revenue":"5"})"), "\n"));
  const std::string third = WriteTempFile(
      "third.csv",
      absl::StrCat("credit_code,name,region,industry,founded,revenue,employees,rd_expense,tags\n",
                   Code(2), ",更新名称,440802,,,200,,7,stat.above_scale;qual.sme_tech\n",
                   Code(3), ",新企业,420100,I65,2020-01-01,1,,,\n"));
  // A third source repeating a grant already held, and one with a different validity.
  const std::string extra = WriteTempFile(
      "extra.jsonl",
      absl::StrCat(R"({"credit_code":")", Code(2), R"(","region":"440802","tags":[)",
                   R"({"id":"qual.hitech","valid_from":"2022-01-01"},)",
                   R"({"id":"qual.hitech","valid_from":"2025-01-01"}]})", "\n"));
  std::vector<Rejection> rejects;
  IngestStats stats;
  absl::StatusOr<std::vector<Firm>> firms =
      LoadFirms({gov, third, extra}, RealTaxonomy(), &rejects, &stats);
  ASSERT_TRUE(firms.ok()) << firms.status();
  EXPECT_TRUE(rejects.empty());
  ASSERT_EQ(firms->size(), 3u);
  EXPECT_EQ(stats.records, 5);
  EXPECT_EQ(stats.accepted, 5);
  EXPECT_EQ(stats.merged, 2);
  // Sorted by credit code.
  EXPECT_EQ((*firms)[0].credit_code, Code(1));
  EXPECT_EQ((*firms)[1].credit_code, Code(2));
  EXPECT_EQ((*firms)[2].credit_code, Code(3));
  const Firm& merged = (*firms)[1];
  EXPECT_EQ(merged.name, "更新名称");                    // later non-empty name overrides
  EXPECT_EQ(merged.industry, "C13");                     // later empty industry does not erase
  EXPECT_EQ(merged.founded, absl::CivilDay(2015, 6, 1));
  EXPECT_EQ(FactText(merged, "revenue"), "200");         // later fact overrides
  EXPECT_EQ(FactText(merged, "employees"), "10");        // later empty cell does not erase
  EXPECT_EQ(FactText(merged, "rd_expense"), "7");        // later new fact is added
  EXPECT_THAT(TagIds(merged),
              ElementsAre("qual.hitech", "stat.above_scale", "qual.sme_tech", "qual.hitech"));
  EXPECT_EQ(merged.tags[3].valid_from, absl::CivilDay(2025, 1, 1));
}

TEST(IngestLoadTest, DuplicateWithinOneFileIsRejectedWithTheFirstLine) {
  // Within one file a credit code twice is most likely an export error: the later record is
  // rejected, counted and named with the first line; the first is kept. (It was merged silently.)
  const std::string path = WriteTempFile(
      "dup.jsonl",
      absl::StrCat(JsonFirm(Code(1), R"(,"facts":{"revenue":"1","tax_paid":"3"})"), "\n",
                   JsonFirm(Code(2)), "\n",
                   JsonFirm(Code(1), R"(,"facts":{"revenue":"2"})"), "\n"));
  const std::string csv = WriteTempFile(
      "dup.csv", absl::StrCat("credit_code,region,revenue\n", Code(3), ",440802,1\n", Code(3),
                              ",440802,2\n"));
  IngestStats stats;
  std::vector<Rejection> rejects;
  absl::StatusOr<std::vector<Firm>> firms = LoadFirms({path, csv}, RealTaxonomy(), &rejects, &stats);
  ASSERT_TRUE(firms.ok()) << firms.status();
  ASSERT_EQ(firms->size(), 3u);
  EXPECT_EQ(FactText((*firms)[0], "revenue"), "1");
  EXPECT_EQ(FactText((*firms)[0], "tax_paid"), "3");
  EXPECT_EQ(FactText((*firms)[2], "revenue"), "1");
  EXPECT_EQ(stats.merged, 0);
  EXPECT_EQ(stats.records, 5);
  EXPECT_EQ(stats.accepted, 3);
  EXPECT_EQ(stats.rejected, 2);
  std::vector<std::string> got;
  for (const Rejection& r : rejects) got.push_back(r.ToString());
  EXPECT_THAT(got, ElementsAre(path + ":3: duplicate credit code (first at line 1)",
                               csv + ":3: duplicate credit code (first at line 2)"));
}

TEST(IngestLoadTest, OutputIsSortedAndDeterministic) {
  std::vector<std::string> forward, backward;
  for (int i = 0; i < 50; ++i) {
    forward.push_back(absl::StrCat(
        JsonFirm(Code(i * 7919 % 1000), absl::StrCat(R"(,"facts":{"revenue":")", i, "\"}")),
        "\n"));
  }
  backward.assign(forward.rbegin(), forward.rend());
  auto load = [](const std::string& name, const std::vector<std::string>& lines) {
    absl::StatusOr<std::vector<Firm>> firms =
        LoadFirms({WriteTempFile(name, absl::StrJoin(lines, ""))}, RealTaxonomy(), nullptr,
                  nullptr);
    EXPECT_TRUE(firms.ok()) << firms.status();
    std::vector<std::string> codes;
    for (const Firm& f : *firms) codes.push_back(f.credit_code);
    return codes;
  };
  std::vector<std::string> a = load("fwd.jsonl", forward);
  std::vector<std::string> b = load("bwd.jsonl", backward);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(a.size(), 50u);
}

TEST(IngestLoadTest, RoundTripsThroughFirmToProfile) {
  FirmProfile p = MakeProfile("440802", 42, "I6513", "2019-03-15");
  (*p.mutable_facts())["revenue"] = "12345.675";
  (*p.mutable_facts())["从业人数"] = "8";
  TagGrant* g = p.add_tags();
  g->set_id("qual.hitech");
  g->set_valid_from("2022-01-01");
  g->set_source("省科技厅");
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(p, &json, options).ok());
  absl::StatusOr<std::vector<Firm>> firms =
      LoadFirms({WriteTempFile("roundtrip.jsonl", json + "\n")}, RealTaxonomy(), nullptr, nullptr);
  ASSERT_TRUE(firms.ok()) << firms.status();
  ASSERT_EQ(firms->size(), 1u);
  FirmProfile back = FirmToProfile((*firms)[0], RealTaxonomy());
  EXPECT_EQ(back.facts().at("revenue"), "12345.675");
  EXPECT_EQ(back.facts().at("employees"), "8");
  EXPECT_EQ(back.industry(), "I6513");
  EXPECT_EQ(back.tags(0).source(), "省科技厅");
}


// --- Partial records (SPEC §2) -----------------------------------------------------------------

TEST(IngestPartialTest, PartialRecordsCompleteTheFirmAnEarlierSourceDefines) {
  // A government registry, then a tax feed (CSV with only credit_code and facts) and a third-party
  // feed (JSON Lines with only credit_code, facts and tags). Before partial records, every feed
  // record was rejected "missing region" and a CSV without a region column was refused whole.
  const std::string gov = WriteTempFile(
      "partial_gov.jsonl",
      absl::StrCat(JsonFirm(Code(1), R"(,"facts":{"revenue":"100","employees":"10"})"), "\n",
                   JsonFirm(Code(2)), "\n"));
  const std::string tax = WriteTempFile(
      "partial_tax.csv", absl::StrCat("credit_code,tax_paid,revenue\n", Code(1), ",55,200\n",
                                      Code(9), ",1,\n",  // no base record
                                      Code(2), ",7,\n"));
  const std::string third = WriteTempFile(
      "partial_third.jsonl",
      absl::StrCat(R"({"credit_code":")", Code(2), R"(","tags":[{"id":"qual.hitech"}]})", "\n",
                   R"({"credit_code":")", Code(8), R"(","facts":{"revenue":1}})", "\n"));
  const std::string tags_only = WriteTempFile(
      "partial_tags.csv", absl::StrCat("credit_code,tags\n", Code(1), ",stat.above_scale\n"));
  std::vector<Rejection> rejects;
  IngestStats stats;
  absl::StatusOr<std::vector<Firm>> firms =
      LoadFirms({gov, tax, third, tags_only}, RealTaxonomy(), &rejects, &stats);
  ASSERT_TRUE(firms.ok()) << firms.status();
  ASSERT_EQ(firms->size(), 2u);
  const Firm& a = (*firms)[0];
  EXPECT_EQ(a.region, "440802");  // kept from the base record
  EXPECT_EQ(a.name, "湛江测试企业");
  EXPECT_EQ(FactText(a, "revenue"), "200");
  EXPECT_EQ(FactText(a, "employees"), "10");
  EXPECT_EQ(FactText(a, "tax_paid"), "55");
  EXPECT_THAT(TagIds(a), ElementsAre("stat.above_scale"));
  EXPECT_EQ(FactText((*firms)[1], "tax_paid"), "7");
  EXPECT_THAT(TagIds((*firms)[1]), ElementsAre("qual.hitech"));
  std::vector<std::string> got;
  for (const Rejection& r : rejects) got.push_back(r.ToString());
  EXPECT_THAT(got, ElementsAre(HasSubstr(tax + ":3: no base record"),
                               HasSubstr(third + ":2: no base record")));
  EXPECT_EQ(stats.records, 8);
  EXPECT_EQ(stats.accepted, 6);
  EXPECT_EQ(stats.rejected, 2);
  EXPECT_EQ(stats.merged, 4);
}

TEST(IngestPartialTest, AFirmOnlyPartialRecordsMentionIsRejectedAndABadRegionStillIs) {
  const std::string feed = WriteTempFile(
      "partial_only.jsonl",
      absl::StrCat(R"({"credit_code":")", Code(1), R"(","facts":{"revenue":"5"}})", "\n",
                   R"({"credit_code":")", Code(2), R"(","region":"999999"})", "\n"));
  std::vector<Rejection> rejects;
  IngestStats stats;
  absl::StatusOr<std::vector<Firm>> firms = LoadFirms({feed}, RealTaxonomy(), &rejects, &stats);
  ASSERT_TRUE(firms.ok()) << firms.status();
  EXPECT_TRUE(firms->empty());
  ASSERT_EQ(rejects.size(), 2u);
  EXPECT_EQ(rejects[0].ToString(),
            feed + ":1: no base record: a record without region only completes a firm that an "
                   "earlier source defines");
  EXPECT_THAT(rejects[1].reason, HasSubstr("region \"999999\" is not a GB/T 2260 code"));
  EXPECT_EQ(stats.accepted, 0);
  // FirmFromProfile (a test case, the API) still needs a region.
  FirmProfile p;
  p.set_credit_code(Code(1));
  EXPECT_EQ(FirmFromProfile(p, RealTaxonomy()).status().message(), "missing region");
  EXPECT_TRUE(FirmFromRecord(p, RealTaxonomy())->partial());
}

// --- Encodings (SPEC §2) -----------------------------------------------------------------------

// "湛江测试企业" and "从业人数" in GB18030 (GBK), as Chinese Excel saves them.
constexpr char kGbkName[] = "\xd5\xbf\xbd\xad\xb2\xe2\xca\xd4\xc6\xf3\xd2\xb5";
constexpr char kGbkEmployees[] = "\xb4\xd3\xd2\xb5\xc8\xcb\xca\xfd";

TEST(IngestEncodingTest, Gb18030FileIsRefusedWithOneLineNotReadAsGarbage) {
  // Before: `1 records, 0 firms, 1 rejected` and exit 0 — then every firm's notice withdrawn.
  const std::string csv = WriteTempFile(
      "gbk.csv", absl::StrCat("credit_code,name,region\n", Code(1), ",", kGbkName, ",440802\n",
                              Code(2), ",", kGbkName, ",440802\n"));
  std::vector<Rejection> rejects;
  IngestStats stats;
  absl::StatusOr<std::vector<Firm>> firms = LoadFirms({csv}, RealTaxonomy(), &rejects, &stats);
  ASSERT_EQ(firms.status().code(), absl::StatusCode::kInvalidArgument) << firms.status();
  EXPECT_EQ(firms.status().message(),
            csv + ":2: not UTF-8 but GB18030/GBK (as Chinese Excel and WPS save CSV): read it "
                  "with --encoding gb18030, or convert it with iconv -f GB18030 -t UTF-8");
  // A GBK header (Chinese column names) is refused the same way, at line 1; and JSON Lines too.
  const std::string header = WriteTempFile(
      "gbk_header.csv", absl::StrCat("credit_code,region,", kGbkEmployees, "\n", Code(1), ",440802,3\n"));
  EXPECT_THAT(std::string(Read(header).status.message()), HasSubstr(header + ":1: not UTF-8 but GB18030"));
  const std::string jsonl = WriteTempFile(
      "gbk.jsonl", absl::StrCat(R"({"credit_code":")", Code(3), R"(","region":"440802"})", "\n",
                                R"({"credit_code":")", Code(1),
                                R"(","region":"440802","name":")", kGbkName, "\"}\n"));
  absl::StatusOr<FirmTable> table = LoadFirmTable({jsonl}, RealTaxonomy(), nullptr, nullptr);
  EXPECT_THAT(std::string(table.status().message()), HasSubstr(jsonl + ":2: not UTF-8 but GB18030"));
  EXPECT_THAT(std::string(Read(jsonl).status.message()), HasSubstr(jsonl + ":2: not UTF-8 but GB18030"));
}

TEST(IngestEncodingTest, EncodingGb18030ConvertsEveryReader) {
  const std::string csv = WriteTempFile(
      "gbk_read.csv", absl::StrCat("credit_code,name,region,", kGbkEmployees, "\r\n", Code(1), ",",
                                   kGbkName, ",440802,12\r\n"));
  const std::string jsonl = WriteTempFile(
      "gbk_read.jsonl", absl::StrCat(R"({"credit_code":")", Code(2), R"(","region":"440802","name":")",
                                     kGbkName, "\\u00e9\xa2\xe3\x94\x39\xfc\x36\"}\n",
                                     R"({"credit_code":")", Code(3), R"(","region":"440802","name":"a)",
                                     "\xff\"}\n"));  // not GB18030 either: that record is rejected
  std::vector<Rejection> rejects;
  IngestStats stats;
  absl::StatusOr<std::vector<Firm>> firms =
      LoadFirms({csv, jsonl}, RealTaxonomy(), &rejects, &stats, InputEncoding::kGb18030);
  ASSERT_TRUE(firms.ok()) << firms.status();
  ASSERT_EQ(firms->size(), 2u);
  EXPECT_EQ((*firms)[0].name, "湛江测试企业");
  EXPECT_EQ(FactText((*firms)[0], "employees"), "12");
  EXPECT_EQ((*firms)[1].name, "湛江测试企业é€😀");
  ASSERT_EQ(rejects.size(), 1u);
  EXPECT_EQ(rejects[0].line, 2);
  EXPECT_THAT(rejects[0].reason, HasSubstr("invalid UTF-8 (byte \\xff"));
  // The parallel reader converts too (on the sequential path) and gives the same.
  std::vector<Rejection> table_rejects;
  absl::StatusOr<FirmTable> table = LoadFirmTable({csv, jsonl}, RealTaxonomy(), &table_rejects,
                                                  nullptr, 2, nullptr, InputEncoding::kGb18030);
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->size(), 2u);
  EXPECT_EQ(table->name(0), "湛江测试企业");
  EXPECT_EQ(table_rejects.size(), 1u);
  EXPECT_EQ(ParseInputEncoding("GBK"), InputEncoding::kGb18030);
  EXPECT_EQ(ParseInputEncoding("utf-8"), InputEncoding::kUtf8);
  EXPECT_EQ(ParseInputEncoding("latin1"), std::nullopt);
}

TEST(IngestEncodingTest, StrayBytesInAUtf8FileRejectOnlyTheirRecord) {
  // The file is UTF-8 (a BOM, or an earlier UTF-8 line, says so): a later line that happens to be
  // GB18030-shaped ("caf\xe9x" is Latin-1) is a bad record, not a GB18030 file.
  const std::string utf8_first = WriteTempFile(
      "stray.csv", absl::StrCat("credit_code,name,region\n", Code(1), ",湛江,440802\n", Code(2),
                                ",caf\xe9x,440802\n", Code(3), ",\xff,440802\n"));
  ReadResult a = Read(utf8_first);
  ASSERT_TRUE(a.status.ok()) << a.status;
  EXPECT_THAT(a.lines(), ElementsAre(2));
  ASSERT_EQ(a.rejects.size(), 2u);
  EXPECT_EQ(a.rejects[0].ToString(), utf8_first + ":3: column name: invalid UTF-8 at byte 4");
  const std::string bom = WriteTempFile(
      "stray_bom.jsonl", absl::StrCat("\xEF\xBB\xBF", R"({"credit_code":")", Code(1),
                                      R"(","region":"440802","name":")", kGbkName, "\"}\n",
                                      JsonFirm(Code(2)), "\n"));
  ReadResult b = Read(bom);
  ASSERT_TRUE(b.status.ok()) << b.status;
  EXPECT_THAT(b.lines(), ElementsAre(2));
  // A line that is not GB18030 either (0xFF) decides nothing; the GB18030 line after it does.
  const std::string later = WriteTempFile(
      "stray_later.csv", absl::StrCat("credit_code,name,region\n", Code(1), ",\xff,440802\n", Code(2),
                                      ",", kGbkName, ",440802\n"));
  EXPECT_THAT(std::string(Read(later).status.message()), HasSubstr(later + ":3: not UTF-8 but GB18030"));
}

// --- Malformed values ---------------------------------------------------------------------------

TEST(IngestMalformedTest, RawControlCharactersInJsonStringsAreRejectedWithTheirColumn) {
  // A raw NUL inside a string was accepted by protobuf's parser and written into grants.csv.
  const std::string path = WriteTempFile(
      "control.jsonl",
      absl::StrCat(R"({"credit_code":")", Code(1), R"(","region":"440802","name":"海)",
                   std::string(1, '\0'), "\"}\n",                                              // 1
                   R"({"credit_code":")", Code(2), "\",\"region\":\"440802\",\"name\":\"a\tb\"}\n",  // 2
                   R"({'credit_code':')", Code(3), "','region':'440802','name':'\x1b'}\n",         // 3
                   R"({"credit_code":")", Code(4), R"(","region":"440802","name":"a\u0000b"})", "\n",  // 4
                   JsonFirm(Code(5), R"(,"tags":[{"id":"qual.hitech","source":"x\u0007"}])"), "\n",  // 5
                   "{\"credit_code\":\"", Code(6), "\",\t\"region\":\"440802\"}\n"));  // 6: tab between tokens is fine
  ReadResult r = Read(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.lines(), ElementsAre(6));
  const std::vector<std::string> want = {
      path + ":1: column 64: raw control character \\x00 inside a string (JSON needs it escaped, as \\u0000)",
      path + ":2: column 64: raw control character \\x09 inside a string (JSON needs it escaped, as \\u0009)",
      path + ":3: column 63: raw control character \\x1b inside a string (JSON needs it escaped, as \\u001b)",
      path + ":4: name: control character U+0000 at character 2",
      path + ":5: tag qual.hitech source: control character U+0007 at character 2",
  };
  EXPECT_EQ(r.rejections(), want);
  // CSV: a NUL in a cell is refused the same way (FirmFromRecord).
  const std::string csv = WriteTempFile(
      "control.csv", absl::StrCat("credit_code,name,region\n", Code(1), ",a", std::string(1, '\0'),
                                  ",440802\n", Code(2), ",\"two\nlines\",440802\n"));
  ReadResult c = Read(csv);
  EXPECT_THAT(c.lines(), ElementsAre(3));
  ASSERT_EQ(c.rejects.size(), 1u);
  EXPECT_EQ(c.rejects[0].reason, "name: control character U+0000 at character 2");
}

TEST(IngestMalformedTest, JsonNumbersInExponentNotationAreExact) {
  const std::string path = WriteTempFile(
      "exponent.jsonl",
      absl::StrCat(
          JsonFirm(Code(1), R"(,"facts":{"revenue":1e5,"rd_expense":1.5E-3,"tax_paid":-2.5e+2,)"
                            R"("employees":12E0,"invention_patents":0e999999999999})"),
          "\n",
          R"({credit_code: ")", Code(2), R"(", region: "440802", facts: {revenue: 8.999999999999999999e12}})", "\n",
          JsonFirm(Code(3), R"(,"facts":{"revenue":1e400})"), "\n",
          JsonFirm(Code(4), R"(,"facts":{"revenue":1.234567891e2})"), "\n",
          JsonFirm(Code(5), R"(,"facts":{"revenue":"1e5"})"), "\n",
          JsonFirm(Code(6), R"(,"facts":{"revenue":9.1e12})"), "\n",
          JsonFirm(Code(7), R"(,"facts":{"revenue":1e99999999999999999999999})"), "\n",
          JsonFirm(Code(8), R"(,"facts":{"revenue":01e5})"), "\n"));
  ReadResult r = Read(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.lines(), ElementsAre(1, 2));
  const Firm& a = r.firms[0].first;
  EXPECT_EQ(FactText(a, "revenue"), "100000");
  EXPECT_EQ(FactText(a, "rd_expense"), "0.0015");
  EXPECT_EQ(FactText(a, "tax_paid"), "-250");
  EXPECT_EQ(FactText(a, "employees"), "12");
  EXPECT_EQ(FactText(a, "invention_patents"), "0");
  EXPECT_EQ(FactText(r.firms[1].first, "revenue"), "8999999999999.999999");
  const std::vector<std::pair<int, std::string>> want = {
      {3, "fact revenue: 1e400 is out of range (|x| ≤ 9e12)"},
      {4, "fact revenue: 1.234567891e2 has more than 6 fractional digits"},
      {5, "fact revenue: \"1e5\" is exponent notation, read only as a JSON number"},
      {6, "fact revenue: number out of range (|x| ≤ 9e12): 9100000000000"},
      {7, "is out of range"},
      {8, "not a decimal number: \"01e5\""},
  };
  ASSERT_EQ(r.rejects.size(), want.size()) << absl::StrJoin(r.rejections(), "\n");
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(r.rejects[i].line, want[i].first);
    EXPECT_THAT(r.rejects[i].reason, HasSubstr(want[i].second)) << r.rejects[i].ToString();
  }
  // A spreadsheet's rounded 1.23457E+11 in a CSV cell is refused, with the reason.
  const std::string csv = WriteTempFile(
      "exponent.csv", absl::StrCat("credit_code,region,revenue\n", Code(1), ",440802,1.23457E+11\n"));
  ReadResult c = Read(csv);
  ASSERT_EQ(c.rejects.size(), 1u);
  EXPECT_THAT(c.rejects[0].reason, HasSubstr("format the column as a number"));
}

TEST(IngestMalformedTest, NegativeCountsOfPersonsOrItemsAreRejected) {
  const std::string path = WriteTempFile(
      "negative.jsonl",
      absl::StrCat(JsonFirm(Code(1), R"(,"facts":{"employees":-3})"), "\n",
                   JsonFirm(Code(2), R"(,"facts":{"invention_patents":"-1"})"), "\n",
                   JsonFirm(Code(3), R"(,"facts":{"rd_expense":-3.5,"employees":0})"), "\n"));
  ReadResult r = Read(path);
  EXPECT_THAT(r.lines(), ElementsAre(3));  // yuan may be negative (a loss, a refund)
  EXPECT_THAT(r.rejections(),
              ElementsAre(path + ":1: fact employees: -3 is negative, but it counts persons",
                          path + ":2: fact invention_patents: -1 is negative, but it counts items"));
  const std::string csv = WriteTempFile(
      "negative.csv", absl::StrCat("credit_code,region,从业人数\n", Code(1), ",440802,-1\n"));
  EXPECT_THAT(Read(csv).rejections(),
              ElementsAre(csv + ":2: fact employees: -1 is negative, but it counts persons"));
}

TEST(IngestMalformedTest, ExpandJsonExponentIsExact) {
  using ingest_internal::ExpandJsonExponent;
  using ingest_internal::ExponentForm;
  std::string out;
  const std::vector<std::pair<std::string, std::string>> expanded = {
      {"1e5", "100000"},       {"1E+5", "100000"},    {"-1.5e-3", "-0.0015"},
      {"0.000001e6", "1"},     {"123.456e1", "1234.56"}, {"1e-6", "0.000001"},
      {"9e12", "9000000000000"}, {"0e5", "0"},         {"1000e-3", "1"},
      {"12345.678e-2", "123.45678"},
  };
  for (const auto& [token, want] : expanded) {
    EXPECT_EQ(ExpandJsonExponent(token, &out), ExponentForm::kExpanded) << token;
    EXPECT_EQ(out, want) << token;
  }
  EXPECT_EQ(ExpandJsonExponent("1e14", &out), ExponentForm::kOutOfRange);
  EXPECT_EQ(ExpandJsonExponent("1e-7", &out), ExponentForm::kTooPrecise);
  EXPECT_EQ(ExpandJsonExponent("1.0000001e0", &out), ExponentForm::kTooPrecise);
  for (const char* token : {"1", "1.5", "e5", "1e", "1e+", "01e5", "1.e5", ".5e1", "1e5x", "--1e5", "1e5.5"}) {
    EXPECT_EQ(ExpandJsonExponent(token, &out), ExponentForm::kNotExponent) << token;
  }
}

}  // namespace
}  // namespace polmatch
