// File: list_file.h
//
// The lists people read: the 公示名单 (publicity list) and the 拨付清单 (payment list for the
// finance office), written as .xlsx (typed cells) and as .csv that Excel and WPS on Chinese
// Windows open without garbling. A ListTable is a title, typed columns and rows of cell text; the
// writers check every cell against its column's kind before writing anything.
//
// Cells by kind:
//   kText     xlsx: a string cell, always (a firm named "=cmd|…" stays text, never a formula).
//             csv: a cell beginning with = + - @ tab or CR gets a leading ' (CSV formula
//             injection: a spreadsheet would otherwise evaluate it); the ' is visible.
//   kMoney    an exact decimal with at most 2 fractional digits ("2000000", "1234.5", "-10.00"),
//             |value| ≤ 9×10¹². csv: the exact text with two places ("1234.50"). xlsx: a number
//             cell formatted #,##0.00 — a double, which holds every such amount closely enough
//             that it displays, sums to the fen and rounds back to the same two places; the exact
//             figure of record is the CSV's (and the ledger's).
//   kInteger  a whole number (序号): a number cell / plain digits.
//   kDate     "YYYY-MM-DD", a real date: written as that text in both (a date cell would be shown
//             in the reader's locale format; the text is what the clerk types and searches).
// An empty cell is allowed in every kind (written empty).
//
// Both files are written atomically: into a temporary file beside `path`, fsynced, then renamed
// over it (a reader sees the old file or the new one, never half). `path` is the clerk's explicit
// choice, so an existing file there is replaced; a directory is refused. Output is deterministic:
// the same table gives byte-identical files (the xlsx's document properties carry a fixed date).
//
// Example:
//   ListTable t = FinanceList("汕尾市2023年免申即享资金拨付清单", rows);
//   RETURN_IF_ERROR(WriteListXlsx("拨付清单.xlsx", t));
//   RETURN_IF_ERROR(WriteListCsv("拨付清单.csv", t));
#ifndef POLMATCH_OUTPUT_LIST_FILE_H_
#define POLMATCH_OUTPUT_LIST_FILE_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace polmatch {

struct ListColumn {
  std::string header;
  enum Kind { kText, kMoney, kInteger, kDate } kind = kText;
};

struct ListTable {
  std::string title;                           // first row of the xlsx (not in the csv)
  std::vector<ListColumn> columns;
  std::vector<std::vector<std::string>> rows;  // each row has one cell per column
};

// .xlsx: the title in row 1 (merged across the columns), a bold header in row 2, frozen below it,
// column widths fitted to the text (a CJK character counts double), printed landscape with the
// header repeated on every page. InvalidArgument (naming row and column) for a bad cell.
absl::Status WriteListXlsx(const std::filesystem::path& path, const ListTable& table);

// .csv: UTF-8 with a byte order mark (EF BB BF), CRLF line ends, RFC 4180 quoting, the header
// then the rows (no title line, so scripts read it as a table). InvalidArgument for a bad cell.
absl::Status WriteListCsv(const std::filesystem::path& path, const ListTable& table);

// The columns a finance office needs (issue 14): 序号, 企业名称, 统一社会信用代码, 政策事项,
// 文件与条款, 金额(元), 期间, 公示起止.
std::vector<ListColumn> FinanceListColumns();

// One grant as the finance columns show it.
struct FinanceListRow {
  std::string name;            // 企业名称
  std::string credit_code;     // 统一社会信用代码
  std::string policy;          // 政策事项: the policy's title
  std::string source;          // 文件与条款: document and clause
  std::string amount_yuan;     // 金额(元): exact decimal
  std::string period;          // 期间: "2023", "2023Q2", "2023-05", "ONCE" (一次性)
  std::string publicity_from;  // "YYYY-MM-DD" or empty
  std::string publicity_to;    // "YYYY-MM-DD" or empty
};

// A table of FinanceListColumns: 序号 numbered from 1 in the given order, 公示起止 as
// "2023-09-28 至 2023-10-10" (empty when there was no 公示), 期间 "ONCE" shown as 一次性.
ListTable FinanceList(std::string title, const std::vector<FinanceListRow>& rows);

}  // namespace polmatch

#endif  // POLMATCH_OUTPUT_LIST_FILE_H_
