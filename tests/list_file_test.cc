// The human-facing lists (engine/output/list_file.h): the CSV round-trips through an RFC 4180
// reader with its BOM, CRLF and formula defusing; the xlsx, opened as the zip it is, has text
// cells for text (a "=cmd" firm name is a string, never a formula), number cells for money and
// 序号, CJK intact, the title, a bold frozen header; bad cells, directories and failed writes
// leave nothing behind.
#include "engine/output/list_file.h"

#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class ListFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / absl::StrCat("list_file_", ::getpid(), "_", counter_++);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // Files in the directory (no temporary file may be left behind).
  std::vector<std::string> Listing() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
  static inline int counter_ = 0;
};

const char* kFormulaName = "=cmd|' /C calc'!A0";

ListTable Sample() {
  std::vector<FinanceListRow> rows = {
      {"汕尾市红海湾科技服务有限公司", "91441502MA4W0PA9X8", "科技服务业一次性资助",
       "汕尾2021 §四4", "2000000", "ONCE", "2023-09-28", "2023-10-10"},
      {kFormulaName, "91441500MA51234567", "研发费用补助, \"加计\"", "湛江2023\n第三条",
       "1234.5", "2023", "", ""},
      {"+SUM(A1)", "91441500MA5123456X", "-负号开头", "@import", "0.01", "2023Q2", "", ""},
  };
  return FinanceList("2023年免申即享资金拨付清单", rows);
}

// RFC 4180 reader (quotes, doubled quotes, CRLF records) for the round trip.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string cell;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cell.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(cell);
      cell.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(cell);
      cell.clear();
      rows.emplace_back();
      ++i;
    } else {
      EXPECT_NE(c, '\n') << "a bare LF outside quotes at byte " << i;
      cell.push_back(c);
    }
  }
  EXPECT_TRUE(rows.back().empty() && cell.empty()) << "the last record ends with CRLF";
  rows.pop_back();
  return rows;
}

TEST_F(ListFileTest, CsvRoundTrips) {
  const fs::path path = dir_ / "拨付清单.csv";
  ASSERT_TRUE(WriteListCsv(path, Sample()).ok());
  const std::string text = Read(path);
  ASSERT_GE(text.size(), 3u);
  EXPECT_EQ(text.substr(0, 3), "\xEF\xBB\xBF");
  const std::vector<std::vector<std::string>> rows = ParseCsv(text.substr(3));
  const std::vector<std::vector<std::string>> expected = {
      {"序号", "企业名称", "统一社会信用代码", "政策事项", "文件与条款", "金额(元)", "期间", "公示起止"},
      {"1", "汕尾市红海湾科技服务有限公司", "91441502MA4W0PA9X8", "科技服务业一次性资助",
       "汕尾2021 §四4", "2000000.00", "一次性", "2023-09-28 至 2023-10-10"},
      {"2", std::string("'") + kFormulaName, "91441500MA51234567", "研发费用补助, \"加计\"",
       "湛江2023\n第三条", "1234.50", "2023", ""},
      {"3", "'+SUM(A1)", "91441500MA5123456X", "'-负号开头", "'@import", "0.01", "2023Q2", ""},
  };
  EXPECT_EQ(rows, expected);
  // Quoting only where needed; the embedded newline is kept inside quotes.
  EXPECT_THAT(text, HasSubstr(",\"研发费用补助, \"\"加计\"\"\",\"湛江2023\n第三条\","));
  EXPECT_THAT(Listing(), ::testing::ElementsAre("拨付清单.csv"));
}

TEST_F(ListFileTest, NegativeMoneyIsANumberNotDefused) {
  ListTable t{"t", {{"金额(元)", ListColumn::kMoney}, {"日期", ListColumn::kDate}}, {{"-10", "2023-01-02"}}};
  ASSERT_TRUE(WriteListCsv(dir_ / "a.csv", t).ok());
  EXPECT_EQ(Read(dir_ / "a.csv"), "\xEF\xBB\xBF金额(元),日期\r\n-10.00,2023-01-02\r\n");
}

TEST_F(ListFileTest, BadCellsAreRefusedAndNothingIsWritten) {
  struct Case {
    ListColumn::Kind kind;
    const char* cell;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {ListColumn::kMoney, "12.345", "row 1, column c: amount 12.345 has more than 2 decimal places"},
      {ListColumn::kMoney, "1,000", "row 1, column c: \"1,000\" is not an amount"},
      {ListColumn::kMoney, "9000000000001", "is not an amount"},
      {ListColumn::kInteger, "1.5", "\"1.5\" is not a whole number"},
      {ListColumn::kDate, "2023-02-30", "\"2023-02-30\" is not a date YYYY-MM-DD"},
  };
  for (const Case& c : cases) {
    ListTable t{"t", {{"c", c.kind}}, {{c.cell}}};
    for (bool xlsx : {false, true}) {
      const fs::path path = dir_ / (xlsx ? "x.xlsx" : "x.csv");
      absl::Status s = xlsx ? WriteListXlsx(path, t) : WriteListCsv(path, t);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.cell;
      EXPECT_THAT(std::string(s.message()), HasSubstr(c.expect));
    }
  }
  ListTable ragged{"t", {{"a"}, {"b"}}, {{"1", "2"}, {"3"}}};
  EXPECT_THAT(std::string(WriteListCsv(dir_ / "r.csv", ragged).message()),
              HasSubstr("row 2 has 1 cells for 2 columns"));
  EXPECT_THAT(Listing(), ::testing::IsEmpty());
}

TEST_F(ListFileTest, RefusesADirectoryAndReplacesAFile) {
  fs::create_directory(dir_ / "d.csv");
  std::ofstream(dir_ / "d.csv" / "keep") << "x";
  EXPECT_EQ(WriteListCsv(dir_ / "d.csv", Sample()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteListXlsx(dir_ / "d.csv", Sample()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(fs::exists(dir_ / "d.csv" / "keep"));
  EXPECT_EQ(WriteListCsv(dir_ / "no-such-dir" / "a.csv", Sample()).code(),
            absl::StatusCode::kNotFound);

  std::ofstream(dir_ / "old.csv") << "previous list";
  ASSERT_TRUE(WriteListCsv(dir_ / "old.csv", Sample()).ok());
  EXPECT_THAT(Read(dir_ / "old.csv"), HasSubstr("汕尾市红海湾科技服务有限公司"));
  EXPECT_THAT(Listing(), ::testing::ElementsAre("d.csv", "old.csv"));
}

// ---------------------------------------------------------------------------------------------
// xlsx, read back as a zip (central directory + raw deflate through zlib)

std::map<std::string, std::string> Unzip(const std::string& zip) {
  std::map<std::string, std::string> files;
  auto u16 = [&](size_t at) {
    return static_cast<uint32_t>(static_cast<unsigned char>(zip[at])) |
           static_cast<uint32_t>(static_cast<unsigned char>(zip[at + 1])) << 8;
  };
  auto u32 = [&](size_t at) { return u16(at) | u16(at + 2) << 16; };
  const size_t eocd = zip.rfind(std::string("PK\x05\x06", 4));
  if (eocd == std::string::npos || eocd + 22 > zip.size()) {
    ADD_FAILURE() << "no end of central directory";
    return files;
  }
  size_t at = u32(eocd + 16);
  for (uint32_t n = u16(eocd + 10); n > 0; --n) {
    if (at + 46 > zip.size() || u32(at) != 0x02014b50) {
      ADD_FAILURE() << "bad central directory entry";
      break;
    }
    const uint32_t method = u16(at + 10), csize = u32(at + 20), usize = u32(at + 24);
    const uint32_t name_len = u16(at + 28), extra_len = u16(at + 30), comment_len = u16(at + 32);
    const uint32_t local = u32(at + 42);
    const std::string name = zip.substr(at + 46, name_len);
    const size_t data = local + 30 + u16(local + 26) + u16(local + 28);
    std::string out(usize, '\0');
    if (method == 0) {
      out = zip.substr(data, csize);
    } else {
      z_stream z = {};
      inflateInit2(&z, -15);
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zip.data() + data));
      z.avail_in = csize;
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = usize;
      EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END) << name;
      inflateEnd(&z);
    }
    files[name] = out;
    at += 46 + name_len + extra_len + comment_len;
  }
  return files;
}

// The <c …>…</c> element of cell `ref` in a sheet's XML.
std::string CellXml(const std::string& sheet, const std::string& ref) {
  const size_t at = sheet.find("<c r=\"" + ref + "\"");
  if (at == std::string::npos) return "";
  const size_t self_closing = sheet.find("/>", at), end = sheet.find("</c>", at);
  if (self_closing < end && sheet.find('>', at) == self_closing + 1) return sheet.substr(at, self_closing + 2 - at);
  return sheet.substr(at, end + 4 - at);
}

TEST_F(ListFileTest, XlsxCellsAreTyped) {
  const fs::path path = dir_ / "拨付清单.xlsx";
  ASSERT_TRUE(WriteListXlsx(path, Sample()).ok());
  std::map<std::string, std::string> zip = Unzip(Read(path));
  ASSERT_EQ(zip.count("xl/worksheets/sheet1.xml"), 1u);
  const std::string& sheet = zip["xl/worksheets/sheet1.xml"];
  const std::string strings = zip["xl/sharedStrings.xml"];
  // Row 1 title (merged), row 2 header, data from row 3. No formula anywhere.
  EXPECT_THAT(sheet, Not(HasSubstr("<f>")));
  EXPECT_THAT(sheet, HasSubstr("<mergeCell ref=\"A1:H1\"/>"));
  // The "=cmd" name (B4) is a shared-string cell; the string is stored as text.
  EXPECT_THAT(CellXml(sheet, "B4"), HasSubstr("t=\"s\""));
  EXPECT_THAT(strings, HasSubstr("<t>=cmd|' /C calc'!A0</t>"));
  EXPECT_THAT(CellXml(sheet, "B5"), HasSubstr("t=\"s\""));  // "+SUM(A1)"
  // Money and 序号 are numbers: no t attribute, the value as a number.
  EXPECT_THAT(CellXml(sheet, "F3"), AllOf(Not(HasSubstr("t=")), HasSubstr("<v>2000000</v>")));
  EXPECT_THAT(CellXml(sheet, "F4"), AllOf(Not(HasSubstr("t=")), HasSubstr("<v>1234.5</v>")));
  EXPECT_THAT(CellXml(sheet, "F5"), HasSubstr("<v>0.01</v>"));
  EXPECT_THAT(CellXml(sheet, "A3"), AllOf(Not(HasSubstr("t=")), HasSubstr("<v>1</v>")));
  EXPECT_EQ(CellXml(sheet, "H4"), "");  // empty 公示起止: no cell
  // CJK intact: title, header, firm name.
  EXPECT_THAT(strings, HasSubstr("2023年免申即享资金拨付清单"));
  EXPECT_THAT(strings, HasSubstr("统一社会信用代码"));
  EXPECT_THAT(strings, HasSubstr("汕尾市红海湾科技服务有限公司"));
  // Money format, bold header, frozen below the header, widths set.
  EXPECT_THAT(zip["xl/styles.xml"], HasSubstr("formatCode=\"#,##0.00\""));
  EXPECT_THAT(zip["xl/styles.xml"], HasSubstr("<b/>"));
  EXPECT_THAT(sheet, HasSubstr("ySplit=\"2\""));
  EXPECT_THAT(sheet, HasSubstr("state=\"frozen\""));
  EXPECT_THAT(sheet, HasSubstr("<col min=\"2\" max=\"2\""));
  EXPECT_THAT(Listing(), ::testing::ElementsAre("拨付清单.xlsx"));
}

TEST_F(ListFileTest, SameTableSameBytes) {
  ASSERT_TRUE(WriteListXlsx(dir_ / "a.xlsx", Sample()).ok());
  ASSERT_TRUE(WriteListXlsx(dir_ / "b.xlsx", Sample()).ok());
  EXPECT_EQ(Read(dir_ / "a.xlsx"), Read(dir_ / "b.xlsx"));
  ASSERT_TRUE(WriteListCsv(dir_ / "a.csv", Sample()).ok());
  ASSERT_TRUE(WriteListCsv(dir_ / "b.csv", Sample()).ok());
  EXPECT_EQ(Read(dir_ / "a.csv"), Read(dir_ / "b.csv"));
}

}  // namespace
}  // namespace polmatch
