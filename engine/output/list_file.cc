#include "engine/output/list_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/util/csv_field.h"
#include "engine/util/dates.h"
#include "engine/util/decimal.h"
#include "xlsxwriter.h"

namespace polmatch {
namespace {

namespace fs = std::filesystem;

// 1980-01-01T00:00:00Z, the zip epoch: the workbook's creation date, fixed so that the same
// table gives the same bytes.
constexpr time_t kFixedCreated = 315532800;

// A cell checked against its column: the text to write, and the number for numeric xlsx cells.
struct Cell {
  std::string text;
  double number = 0;
  bool empty = false;
};

absl::StatusOr<Cell> CheckCell(const ListColumn& column, const std::string& text) {
  Cell cell;
  if (text.empty()) {
    cell.empty = true;
    return cell;
  }
  switch (column.kind) {
    case ListColumn::kText:
      cell.text = text;
      return cell;
    case ListColumn::kMoney: {
      absl::StatusOr<Decimal> d = Decimal::Parse(text);
      if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not an amount"));
      if (d->RoundHalfUp(2) != *d) {
        return absl::InvalidArgumentError(
            absl::StrCat("amount ", text, " has more than 2 decimal places (a list shows fen)"));
      }
      cell.text = d->ToFixed(2);
      const char* end = cell.text.data() + cell.text.size();
      auto [ptr, ec] = std::from_chars(cell.text.data(), end, cell.number);
      if (ec != std::errc() || ptr != end) {
        return absl::InvalidArgumentError(absl::StrCat("amount ", text, " does not convert"));
      }
      return cell;
    }
    case ListColumn::kInteger: {
      const char* begin = text.data() + (text[0] == '-' ? 1 : 0);
      const char* end = text.data() + text.size();
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(begin, end, v);
      // At most 15 digits: exact as an xlsx number.
      if (begin == end || ec != std::errc() || ptr != end || end - begin > 15) {
        return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a whole number"));
      }
      cell.text = text;
      cell.number = static_cast<double>(text[0] == '-' ? -v : v);
      return cell;
    }
    case ListColumn::kDate: {
      absl::StatusOr<absl::CivilDay> day = ParseDate(text);
      if (!day.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a date YYYY-MM-DD"));
      }
      cell.text = FormatDate(*day);
      return cell;
    }
  }
  return absl::InternalError("unknown column kind");
}

// Every cell of `table` checked; errors name the (1-based) data row and the column header.
absl::StatusOr<std::vector<std::vector<Cell>>> CheckTable(const ListTable& table) {
  if (table.columns.empty()) return absl::InvalidArgumentError("a list needs at least one column");
  std::vector<std::vector<Cell>> out;
  out.reserve(table.rows.size());
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::vector<std::string>& row = table.rows[r];
    if (row.size() != table.columns.size()) {
      return absl::InvalidArgumentError(absl::StrCat("row ", r + 1, " has ", row.size(),
                                                     " cells for ", table.columns.size(),
                                                     " columns"));
    }
    std::vector<Cell> cells;
    cells.reserve(row.size());
    for (size_t c = 0; c < row.size(); ++c) {
      absl::StatusOr<Cell> cell = CheckCell(table.columns[c], row[c]);
      if (!cell.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("row ", r + 1, ", column ",
                                                       table.columns[c].header, ": ",
                                                       cell.status().message()));
      }
      cells.push_back(*std::move(cell));
    }
    out.push_back(std::move(cells));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Atomic replacement of one file

absl::Status ErrnoError(const fs::path& path, const char* what) {
  return absl::UnavailableError(absl::StrCat(path.string(), ": ", what, ": ", std::strerror(errno)));
}

// `path` may be written: not a directory, in an existing directory.
absl::Status CheckTarget(const fs::path& path) {
  std::error_code ec;
  if (path.empty() || path.filename().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", path.string(), "\": not a file name"));
  }
  if (fs::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": is a directory; name the list file to write"));
  }
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir.string(), ": no such directory"));
  }
  return absl::OkStatus();
}

fs::path TempPathFor(const fs::path& path) {
  return path.parent_path() /
         absl::StrCat(".", path.filename().string(), ".tmp-", ::getpid());
}

absl::Status FsyncPath(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoError(path, "open");
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return rc == 0 ? absl::OkStatus() : ErrnoError(path, "fsync");
}

// Makes the finished temporary file durable and moves it over `path`.
absl::Status CommitTemp(const fs::path& tmp, const fs::path& path) {
  absl::Status s = FsyncPath(tmp, O_RDONLY);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) s = ErrnoError(path, "rename");
  if (!s.ok()) {
    std::error_code ec;
    fs::remove(tmp, ec);  // our own temporary file
    return s;
  }
  return FsyncPath(path.has_parent_path() ? path.parent_path() : fs::path("."),
                   O_RDONLY | O_DIRECTORY);
}

// ---------------------------------------------------------------------------------------------
// CSV

bool NeedsDefusing(const std::string& text) {
  if (text.empty()) return false;
  const char c = text[0];
  return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

std::string CsvText(const ListTable& table, const std::vector<std::vector<Cell>>& cells) {
  std::string out = "\xEF\xBB\xBF";
  for (size_t c = 0; c < table.columns.size(); ++c) {
    if (c > 0) out.push_back(',');
    const std::string& h = table.columns[c].header;
    AppendCsvField(NeedsDefusing(h) ? "'" + h : h, &out);
  }
  out.append("\r\n");
  for (const std::vector<Cell>& row : cells) {
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) out.push_back(',');
      const std::string& t = row[c].text;
      // Numbers are checked numbers; text and dates may start like a formula.
      const bool text_kind = table.columns[c].kind == ListColumn::kText;
      AppendCsvField(text_kind && NeedsDefusing(t) ? "'" + t : t, &out);
    }
    out.append("\r\n");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// xlsx

// Display width in Excel's column units: a CJK (wide) character counts 2, others 1.
int DisplayWidth(const std::string& text) {
  int width = 0;
  for (size_t i = 0; i < text.size();) {
    const unsigned char b = static_cast<unsigned char>(text[i]);
    uint32_t cp = b;
    int len = 1;
    if (b >= 0xF0) {
      len = 4;
      cp = b & 0x07;
    } else if (b >= 0xE0) {
      len = 3;
      cp = b & 0x0F;
    } else if (b >= 0xC0) {
      len = 2;
      cp = b & 0x1F;
    }
    for (int k = 1; k < len && i + k < text.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    i += len;
    const bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                      (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                      (cp >= 0xFFE0 && cp <= 0xFFE6) || cp >= 0x20000;
    width += wide ? 2 : 1;
  }
  return width;
}

// "1234567.50" as #,##0.00 shows it: "1,234,567.50".
int MoneyWidth(const std::string& text) {
  const size_t dot = text.find('.');
  const size_t int_digits = (dot == std::string::npos ? text.size() : dot) - (text[0] == '-');
  return static_cast<int>(text.size() + (int_digits > 0 ? (int_digits - 1) / 3 : 0));
}

absl::Status XlsxError(const fs::path& path, const char* what, lxw_error err) {
  return absl::InternalError(
      absl::StrCat(path.string(), ": xlsx ", what, ": ", lxw_strerror(err)));
}

absl::Status WriteXlsxFile(const fs::path& tmp, const ListTable& table,
                           const std::vector<std::vector<Cell>>& cells) {
  lxw_workbook_options options = {};
  lxw_workbook* wb = workbook_new_opt(tmp.c_str(), &options);
  if (wb == nullptr) return absl::UnavailableError(absl::StrCat(tmp.string(), ": cannot create"));

  lxw_doc_properties props = {};
  props.title = const_cast<char*>(table.title.c_str());
  props.author = const_cast<char*>("polmatch");
  props.created = kFixedCreated;
  workbook_set_properties(wb, &props);

  lxw_worksheet* ws = workbook_add_worksheet(wb, "名单");
  lxw_format* title_fmt = workbook_add_format(wb);
  format_set_bold(title_fmt);
  format_set_font_size(title_fmt, 14);
  format_set_align(title_fmt, LXW_ALIGN_CENTER);
  format_set_align(title_fmt, LXW_ALIGN_VERTICAL_CENTER);
  lxw_format* header_fmt = workbook_add_format(wb);
  format_set_bold(header_fmt);
  format_set_align(header_fmt, LXW_ALIGN_CENTER);
  format_set_bottom(header_fmt, LXW_BORDER_THIN);
  format_set_bg_color(header_fmt, 0xD9D9D9);
  lxw_format* money_fmt = workbook_add_format(wb);
  format_set_num_format(money_fmt, "#,##0.00");
  lxw_format* int_fmt = workbook_add_format(wb);
  format_set_num_format(int_fmt, "0");
  lxw_format* text_fmt = workbook_add_format(wb);
  format_set_num_format(text_fmt, "@");  // typed edits in the cell stay text too

  const lxw_col_t ncols = static_cast<lxw_col_t>(table.columns.size());
  lxw_error err = LXW_NO_ERROR;
  auto check = [&](lxw_error e) {
    if (err == LXW_NO_ERROR) err = e;
  };
  if (!table.title.empty()) {
    check(ncols > 1 ? worksheet_merge_range(ws, 0, 0, 0, ncols - 1, table.title.c_str(), title_fmt)
                    : worksheet_write_string(ws, 0, 0, table.title.c_str(), title_fmt));
    check(worksheet_set_row(ws, 0, 24, nullptr));
  }
  std::vector<int> widths(ncols, 0);
  for (lxw_col_t c = 0; c < ncols; ++c) {
    check(worksheet_write_string(ws, 1, c, table.columns[c].header.c_str(), header_fmt));
    widths[c] = DisplayWidth(table.columns[c].header);
  }
  for (size_t r = 0; r < cells.size(); ++r) {
    const lxw_row_t row = static_cast<lxw_row_t>(r + 2);
    for (lxw_col_t c = 0; c < ncols; ++c) {
      const Cell& cell = cells[r][c];
      if (cell.empty) continue;
      switch (table.columns[c].kind) {
        case ListColumn::kMoney:
          check(worksheet_write_number(ws, row, c, cell.number, money_fmt));
          widths[c] = std::max(widths[c], MoneyWidth(cell.text));
          break;
        case ListColumn::kInteger:
          check(worksheet_write_number(ws, row, c, cell.number, int_fmt));
          widths[c] = std::max(widths[c], static_cast<int>(cell.text.size()));
          break;
        case ListColumn::kText:
        case ListColumn::kDate:
          check(worksheet_write_string(ws, row, c, cell.text.c_str(), text_fmt));
          widths[c] = std::max(widths[c], DisplayWidth(cell.text));
          break;
      }
    }
  }
  for (lxw_col_t c = 0; c < ncols; ++c) {
    check(worksheet_set_column(ws, c, c, std::clamp(widths[c] + 2, 6, 60), nullptr));
  }
  worksheet_freeze_panes(ws, 2, 0);
  if (!cells.empty()) {
    check(worksheet_autofilter(ws, 1, 0, static_cast<lxw_row_t>(cells.size() + 1), ncols - 1));
  }
  worksheet_set_landscape(ws);
  worksheet_set_paper(ws, 9);  // A4
  check(worksheet_repeat_rows(ws, 0, 1));
  worksheet_fit_to_pages(ws, 1, 0);

  const lxw_error closed = workbook_close(wb);  // frees wb whatever happens
  if (err != LXW_NO_ERROR) return XlsxError(tmp, "cell", err);
  if (closed != LXW_NO_ERROR) return XlsxError(tmp, "write", closed);
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteListCsv(const fs::path& path, const ListTable& table) {
  absl::Status target = CheckTarget(path);
  if (!target.ok()) return target;
  absl::StatusOr<std::vector<std::vector<Cell>>> cells = CheckTable(table);
  if (!cells.ok()) return cells.status();
  const std::string text = CsvText(table, *cells);
  const fs::path tmp = TempPathFor(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(tmp, "create");
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status s = ErrnoError(tmp, "write");
      ::close(fd);
      std::error_code ec;
      fs::remove(tmp, ec);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    absl::Status s = ErrnoError(tmp, "close");
    std::error_code ec;
    fs::remove(tmp, ec);
    return s;
  }
  return CommitTemp(tmp, path);
}

absl::Status WriteListXlsx(const fs::path& path, const ListTable& table) {
  absl::Status target = CheckTarget(path);
  if (!target.ok()) return target;
  absl::StatusOr<std::vector<std::vector<Cell>>> cells = CheckTable(table);
  if (!cells.ok()) return cells.status();
  const fs::path tmp = TempPathFor(path);
  absl::Status s = WriteXlsxFile(tmp, table, *cells);
  if (!s.ok()) {
    std::error_code ec;
    fs::remove(tmp, ec);
    return s;
  }
  return CommitTemp(tmp, path);
}

std::vector<ListColumn> FinanceListColumns() {
  return {{"序号", ListColumn::kInteger},        {"企业名称", ListColumn::kText},
          {"统一社会信用代码", ListColumn::kText}, {"政策事项", ListColumn::kText},
          {"文件与条款", ListColumn::kText},     {"金额(元)", ListColumn::kMoney},
          {"期间", ListColumn::kText},           {"公示起止", ListColumn::kText}};
}

ListTable FinanceList(std::string title, const std::vector<FinanceListRow>& rows) {
  ListTable table;
  table.title = std::move(title);
  table.columns = FinanceListColumns();
  table.rows.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const FinanceListRow& r = rows[i];
    std::string publicity;
    if (!r.publicity_from.empty() || !r.publicity_to.empty()) {
      publicity = absl::StrCat(r.publicity_from, " 至 ", r.publicity_to);
    }
    table.rows.push_back({std::to_string(i + 1), r.name, r.credit_code, r.policy, r.source,
                          r.amount_yuan, r.period == "ONCE" ? "一次性" : r.period, publicity});
  }
  return table;
}

}  // namespace polmatch
