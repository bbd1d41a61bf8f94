#include "engine/ingest/csv_reader.h"

#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace polmatch::ingest_internal {
namespace {

enum class LineEnd { kRecordEnd, kInQuotes, kError };

// Continues the record in `fields` with one line. `in_quotes`: the line continues a quoted field
// (the line break is part of its value).
LineEnd ParseCsvLine(absl::string_view line, bool in_quotes, CsvFields* fields,
                     std::string* error) {
  const size_t n = line.size();
  size_t i = 0;
  bool quoted = in_quotes;
  std::string* field;
  if (in_quotes) {
    field = fields->Last();
    field->push_back('\n');
  } else {
    field = fields->StartField();
    if (i < n && line[i] == '"') quoted = true, ++i;
  }
  for (;;) {
    if (quoted) {
      const void* found = std::memchr(line.data() + i, '"', n - i);
      if (found == nullptr) {
        field->append(line.data() + i, n - i);
        return LineEnd::kInQuotes;
      }
      const size_t q = static_cast<size_t>(static_cast<const char*>(found) - line.data());
      field->append(line.data() + i, q - i);
      i = q + 1;
      if (i < n && line[i] == '"') {  // "" is one quote
        field->push_back('"');
        ++i;
        continue;
      }
      quoted = false;
      if (i == n) return LineEnd::kRecordEnd;
      if (line[i] != ',') {
        *error = absl::StrFormat("unexpected character after closing quote in field %d",
                                 fields->size());
        return LineEnd::kError;
      }
    } else {
      size_t j = i;
      while (j < n && line[j] != ',' && line[j] != '"') ++j;
      if (j < n && line[j] == '"') {
        *error = absl::StrFormat("quote inside unquoted field %d (quote the whole field)",
                                 fields->size());
        return LineEnd::kError;
      }
      field->append(line.data() + i, j - i);
      if (j == n) return LineEnd::kRecordEnd;
      i = j;
    }
    ++i;  // the comma
    field = fields->StartField();
    if (i < n && line[i] == '"') quoted = true, ++i;
  }
}

struct CsvColumn {
  enum class Kind { kCreditCode, kName, kRegion, kIndustry, kFounded, kFact, kTags };
  Kind kind;
  std::string header;   // as written
  std::string fact_id;  // canonical id, for kFact
};

absl::StatusOr<std::vector<CsvColumn>> PlanColumns(const CsvFields& header,
                                                   const Taxonomy& taxonomy) {
  using Kind = CsvColumn::Kind;
  std::vector<CsvColumn> columns;
  absl::flat_hash_set<std::string> seen;  // field names and canonical fact ids
  bool has_code = false;
  for (size_t i = 0; i < header.size(); ++i) {
    const absl::string_view name = absl::StripAsciiWhitespace(header[i]);
    const int number = static_cast<int>(i) + 1;
    if (!IsValidUtf8(name)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("header column %d is not valid UTF-8", number));
    }
    if (name.empty()) {
      return absl::InvalidArgumentError(absl::StrFormat("header column %d has no name", number));
    }
    CsvColumn column{Kind::kFact, std::string(name), ""};
    std::string key;
    if (name == "credit_code" || name == "creditCode") {
      column.kind = Kind::kCreditCode, key = "credit_code", has_code = true;
    } else if (name == "name") {
      column.kind = Kind::kName, key = "name";
    } else if (name == "region") {
      column.kind = Kind::kRegion, key = "region";
    } else if (name == "industry") {
      column.kind = Kind::kIndustry, key = "industry";
    } else if (name == "founded") {
      column.kind = Kind::kFounded, key = "founded";
    } else if (name == "tags") {
      column.kind = Kind::kTags, key = "tags";
    } else if (std::optional<FactId> fact = taxonomy.FindFact(name)) {
      column.fact_id = taxonomy.fact(*fact).id;
      key = "fact:" + column.fact_id;
    } else {
      return absl::InvalidArgumentError(absl::StrFormat(
          "unknown fact id \"%s\" in header column %d (columns are credit_code, name, region, "
          "industry, founded, tags and fact ids or names)",
          name, number));
    }
    if (!seen.insert(key).second) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "header column %d \"%s\" repeats an earlier column%s", number, name,
          column.kind == Kind::kFact ? absl::StrCat(" (fact ", column.fact_id, ")") : ""));
    }
    columns.push_back(std::move(column));
  }
  if (!has_code) return absl::InvalidArgumentError("header has no credit_code column");
  return columns;
}

absl::Status RecordToProfile(const CsvFields& fields, const std::vector<CsvColumn>& columns,
                             FirmProfile* profile) {
  using Kind = CsvColumn::Kind;
  if (fields.size() != columns.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "wrong number of fields: expected %d, found %d", columns.size(), fields.size()));
  }
  profile->Clear();
  for (size_t i = 0; i < columns.size(); ++i) {
    const std::string& cell = fields[i];
    size_t bad = 0;
    if (!IsValidUtf8(cell, &bad)) {
      return absl::InvalidArgumentError(absl::StrFormat("column %s: invalid UTF-8 at byte %d",
                                                        columns[i].header, bad + 1));
    }
    switch (columns[i].kind) {
      case Kind::kCreditCode:
        profile->set_credit_code(cell);
        break;
      case Kind::kName:
        profile->set_name(cell);
        break;
      case Kind::kRegion:
        profile->set_region(cell);
        break;
      case Kind::kIndustry:
        profile->set_industry(cell);
        break;
      case Kind::kFounded:
        profile->set_founded(cell);
        break;
      case Kind::kFact:
        if (!cell.empty()) (*profile->mutable_facts())[columns[i].fact_id] = cell;
        break;
      case Kind::kTags:
        for (absl::string_view id : absl::StrSplit(cell, ';')) {
          id = absl::StripAsciiWhitespace(id);
          if (!id.empty()) profile->add_tags()->set_id(std::string(id));
        }
        break;
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string* CsvFields::StartField() {
  if (count_ == fields_.size()) fields_.emplace_back();
  std::string* field = &fields_[count_++];
  field->clear();
  return field;
}

bool CsvRecordReader::NextLine(absl::string_view* text, int* number) {
  if (!pending_.empty()) {
    *number = pending_.front().first;
    current_ = std::move(pending_.front().second);
    pending_.pop_front();
    *text = current_;
    return true;
  }
  if (!lines_->Next(text)) return false;
  *number = lines_->line_number();
  return true;
}

CsvRecordReader::Result CsvRecordReader::Next(size_t expected_fields, CsvFields* fields,
                                              int* line, std::string* error) {
  absl::string_view text;
  int number = 0;
  do {
    if (!NextLine(&text, &number)) return Result::kEnd;
  } while (IsBlank(text));
  *line = number;
  fields->Clear();
  LineEnd end = ParseCsvLine(text, /*in_quotes=*/false, fields, error);
  if (end == LineEnd::kRecordEnd) return Result::kRecord;
  if (end == LineEnd::kError) return Result::kBad;

  // A quoted field runs on: read on, keeping the lines to read again should the record fail.
  const std::string unterminated =
      absl::StrFormat("unterminated quote in field %d", fields->size());
  held_.clear();
  size_t bytes = text.size();
  std::string ignored;
  while (held_.size() + 1 < kMaxCsvRecordLines && bytes <= kMaxCsvRecordBytes &&
         NextLine(&text, &number)) {
    held_.emplace_back(number, std::string(text));
    bytes += text.size();
    end = ParseCsvLine(held_.back().second, /*in_quotes=*/true, fields, &ignored);
    if (end == LineEnd::kInQuotes) continue;
    if (end == LineEnd::kRecordEnd &&
        (expected_fields == 0 || fields->size() == expected_fields)) {
      return Result::kRecord;
    }
    break;
  }
  for (auto it = held_.rbegin(); it != held_.rend(); ++it) pending_.push_front(std::move(*it));
  held_.clear();
  *error = unterminated;
  return Result::kBad;
}

absl::Status ReadCsv(LineReader& lines, IngestTally& tally, const Taxonomy& taxonomy,
                     const RecordSink& sink) {
  CsvRecordReader records(&lines);
  CsvFields fields;
  int line = 0;
  std::string error;
  const auto header_error = [&](absl::string_view reason) {
    return absl::InvalidArgumentError(
        absl::StrCat(tally.file(), ":", line, ": ", OneLine(reason)));
  };
  switch (records.Next(0, &fields, &line, &error)) {
    case CsvRecordReader::Result::kEnd:
      return lines.status();  // an empty file holds no firms
    case CsvRecordReader::Result::kBad:
      return header_error(absl::StrCat("bad header: ", error));
    case CsvRecordReader::Result::kRecord:
      break;
  }
  absl::StatusOr<std::vector<CsvColumn>> columns = PlanColumns(fields, taxonomy);
  if (!columns.ok()) return header_error(columns.status().message());

  FirmProfile profile;
  for (;;) {
    const CsvRecordReader::Result result = records.Next(columns->size(), &fields, &line, &error);
    if (result == CsvRecordReader::Result::kEnd) break;
    if (result == CsvRecordReader::Result::kBad) {
      if (tally.Mine(nullptr)) tally.Reject(line, error);
      continue;
    }
    absl::Status converted = RecordToProfile(fields, *columns, &profile);
    if (!converted.ok()) {
      if (tally.Mine(nullptr)) tally.Reject(line, converted.message());
      continue;
    }
    if (!tally.Mine(&profile)) continue;
    absl::StatusOr<Firm> firm = FirmFromRecord(profile, taxonomy);
    if (!firm.ok()) {
      tally.Reject(line, firm.status().message());
      continue;
    }
    tally.Offer(sink, std::move(*firm), line);
  }
  return lines.status();
}

}  // namespace polmatch::ingest_internal
