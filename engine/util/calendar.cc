#include "engine/util/calendar.h"

#include <algorithm>
#include <map>
#include <optional>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "engine/util/dates.h"
#include "engine/util/textproto.h"
#include "proto/polmatch.pb.h"

namespace polmatch {
namespace {

using google::protobuf::TextFormat;

bool IsWeekend(absl::CivilDay day) {
  const absl::Weekday w = absl::GetWeekday(day);
  return w == absl::Weekday::saturday || w == absl::Weekday::sunday;
}

// One file, checked: its year and days, or nothing (errors in `diags`).
struct CheckedYear {
  int year = 0;
  bool known = false;
  std::string file;
  int line = 0;  // of `year:` (1-based), for errors about the whole year
  std::vector<absl::CivilDay> holidays, workdays;
};

std::optional<CheckedYear> CheckYear(const std::string& file, const std::string& text,
                                     Diagnostics* diags) {
  WorkingCalendarYear msg;
  TextFormat::ParseInfoTree tree;
  if (!ParseTextProto(file, text, &msg, diags, &tree)) return std::nullopt;
  const auto* desc = msg.GetDescriptor();
  auto where = [&](const char* field, int index) {
    const auto loc = tree.GetLocation(desc->FindFieldByName(field), index);
    return std::make_pair(loc.line + 1, loc.column + 1);
  };
  const int errors_before = diags->error_count();
  auto error = [&](std::pair<int, int> at, std::string message) {
    diags->Error(file, at.first, at.second, std::move(message));
  };

  CheckedYear out;
  out.file = file;
  out.year = msg.year();
  out.known = !msg.notice_unknown();
  const auto year_at = where("year", -1);
  out.line = year_at.first;
  if (msg.year() < 1949 || msg.year() > 9999) {
    error(year_at, absl::StrCat("year ", msg.year(), " is missing or out of range (1949..9999)"));
    return std::nullopt;
  }
  const std::string stem = std::filesystem::path(file).stem().string();
  if (stem != std::to_string(msg.year())) {
    error(year_at, absl::StrCat("year ", msg.year(), " in a file named ",
                                std::filesystem::path(file).filename().string(),
                                ": name each file after its year (", msg.year(), ".textproto)"));
  }
  if (msg.notice_unknown()) {
    if (msg.holiday_size() + msg.workday_size() > 0) {
      error(year_at, "notice_unknown, yet days are listed: either the notice is known (list all "
                     "of it and remove notice_unknown) or list none");
    }
  } else if (msg.source().empty()) {
    error(year_at, absl::StrCat("year ", msg.year(), " names no source: give the notice's title "
                                "and document number (国务院办公厅关于", msg.year(),
                                "年部分节假日安排的通知, 国办发明电〔…〕…号), or set "
                                "notice_unknown: true"));
  }

  std::map<absl::CivilDay, std::string> seen;  // day → "holiday" / "workday"
  auto read_days = [&](const char* field, const google::protobuf::RepeatedPtrField<std::string>& days,
                       std::vector<absl::CivilDay>* into) {
    for (int i = 0; i < days.size(); ++i) {
      const auto at = where(field, i);
      absl::StatusOr<absl::CivilDay> day = ParseDate(days[i]);
      if (!day.ok()) {
        error(at, absl::StrCat(field, " \"", days[i], "\" is not a date YYYY-MM-DD"));
        continue;
      }
      if (day->year() != msg.year()) {
        error(at, absl::StrCat(field, " ", days[i], " is not in ", msg.year(),
                               ": put it in ", day->year(), ".textproto"));
        continue;
      }
      auto [it, inserted] = seen.emplace(*day, field);
      if (!inserted) {
        error(at, it->second == field
                      ? absl::StrCat(field, " ", days[i], " is listed twice")
                      : absl::StrCat(days[i], " is listed both as holiday and as workday"));
        continue;
      }
      if (std::string(field) == "workday" && !IsWeekend(*day)) {
        error(at, absl::StrCat("workday ", days[i], " is a weekday: a 调休 working day is a "
                               "Saturday or Sunday (weekdays are working days already)"));
        continue;
      }
      into->push_back(*day);
    }
  };
  read_days("holiday", msg.holiday(), &out.holidays);
  read_days("workday", msg.workday(), &out.workdays);
  if (diags->error_count() > errors_before) return std::nullopt;
  return out;
}

}  // namespace

absl::StatusOr<WorkingCalendar> WorkingCalendar::FromTexts(
    const std::vector<std::pair<std::string, std::string>>& files, Diagnostics* diags) {
  const int errors_before = diags->error_count();
  const size_t items_before = diags->items().size();
  std::map<int, CheckedYear> years;
  for (const auto& [file, text] : files) {
    std::optional<CheckedYear> year = CheckYear(file, text, diags);
    if (!year) continue;
    auto [it, inserted] = years.emplace(year->year, *year);
    if (!inserted) {
      diags->Error(file, year->line, 1,
                   absl::StrCat("year ", year->year, " is also given in ", it->second.file));
    }
  }
  WorkingCalendar cal;
  // A file in error is not in `years`: a gap found now would only repeat its error.
  if (diags->error_count() > errors_before) years.clear();
  for (const auto& [year, y] : years) {
    if (!y.known) continue;
    if (cal.last_ >= cal.first_ && year != cal.last_ + 1) {
      const std::string gap = year - 1 == cal.last_ + 1
                                  ? absl::StrCat("year ", year - 1, " is")
                                  : absl::StrCat("years ", cal.last_ + 1, "–", year - 1, " are");
      diags->Error(y.file, y.line, 1,
                   absl::StrCat("the calendar covers ", cal.CoverageText(), " and then ", year,
                                ": ", gap, " missing or notice_unknown (coverage must have no gap)"));
      continue;
    }
    if (cal.last_ < cal.first_) cal.first_ = year;
    cal.last_ = year;
    cal.holidays_.insert(y.holidays.begin(), y.holidays.end());
    cal.workdays_.insert(y.workdays.begin(), y.workdays.end());
  }
  if (diags->error_count() == errors_before && cal.last_ < cal.first_) {
    diags->Error(files.empty() ? std::string("calendar") : files.front().first, 0, 0,
                 "no year of the working calendar is known");
  }
  if (diags->error_count() > errors_before) {
    Diagnostics mine;
    for (size_t i = items_before; i < diags->items().size(); ++i) {
      if (diags->items()[i].severity == Diagnostic::Severity::kError) mine.Add(diags->items()[i]);
    }
    return mine.ToStatus();
  }
  return cal;
}

absl::StatusOr<WorkingCalendar> WorkingCalendar::Load(const std::filesystem::path& rules_dir,
                                                      Diagnostics* diags) {
  const std::filesystem::path dir = rules_dir / "calendar";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    diags->Error(dir.string(), 0, 0, "no such directory: the working calendar (one YYYY.textproto "
                                     "per year) is missing");
    return absl::NotFoundError(absl::StrCat(dir.string(), ": no such directory"));
  }
  std::vector<std::string> names;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".textproto") names.push_back(it->path().string());
  }
  if (ec) {
    diags->Error(dir.string(), 0, 0, ec.message());
    return absl::UnavailableError(absl::StrCat(dir.string(), ": ", ec.message()));
  }
  std::sort(names.begin(), names.end());
  std::vector<std::pair<std::string, std::string>> files;
  for (const std::string& name : names) {
    absl::StatusOr<std::string> text = ReadFileToString(name);
    if (!text.ok()) {
      diags->Error(name, 0, 0, std::string(text.status().message()));
      return text.status();
    }
    files.emplace_back(name, *std::move(text));
  }
  return FromTexts(files, diags);
}

absl::StatusOr<WorkingCalendar> WorkingCalendar::Load(const std::filesystem::path& rules_dir) {
  Diagnostics diags;
  return Load(rules_dir, &diags);
}

bool WorkingCalendar::IsWorkingDay(absl::CivilDay day) const {
  if (workdays_.count(day) > 0) return true;
  return !IsWeekend(day) && holidays_.count(day) == 0;
}

absl::StatusOr<absl::CivilDay> WorkingCalendar::PublicityEnd(absl::CivilDay from,
                                                            int working_days) const {
  if (working_days < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("a 公示 lasts at least 1 working day, not ", working_days));
  }
  int counted = 0;
  for (absl::CivilDay day = from;; ++day) {
    if (!Covers(static_cast<int>(day.year()))) {
      return absl::OutOfRangeError(absl::StrCat(
          "a 公示 of ", working_days, " working days from ", FormatDate(from), " needs the working "
          "days of ", day.year(), ", which rules/calendar does not cover (it covers ",
          CoverageText(), "): add ", day.year(), ".textproto from the State Council's notice"));
    }
    if (IsWorkingDay(day) && ++counted == working_days) return day;
  }
}

std::string WorkingCalendar::CoverageText() const {
  if (last_ < first_) return "no year";
  if (first_ == last_) return std::to_string(first_);
  return absl::StrCat(first_, "–", last_);
}

}  // namespace polmatch
