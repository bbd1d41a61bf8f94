#include "engine/util/diagnostics.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace polmatch {

std::string Diagnostic::ToString() const {
  std::string out = file;
  if (line > 0) absl::StrAppend(&out, ":", line);
  if (line > 0 && column > 0) absl::StrAppend(&out, ":", column);
  absl::StrAppend(&out, ": ", severity == Severity::kWarning ? "warning: " : "", message);
  return out;
}

void Diagnostics::Error(std::string file, int line, int column, std::string message) {
  items_.push_back({std::move(file), line, column, std::move(message), Diagnostic::Severity::kError});
}

void Diagnostics::Warning(std::string file, int line, int column, std::string message) {
  items_.push_back(
      {std::move(file), line, column, std::move(message), Diagnostic::Severity::kWarning});
}

int Diagnostics::error_count() const {
  return static_cast<int>(std::count_if(items_.begin(), items_.end(), [](const Diagnostic& d) {
    return d.severity == Diagnostic::Severity::kError;
  }));
}

absl::Status Diagnostics::ToStatus() const {
  for (const Diagnostic& d : items_) {
    if (d.severity != Diagnostic::Severity::kError) continue;
    int n = error_count();
    return absl::InvalidArgumentError(
        n == 1 ? d.ToString() : absl::StrCat(d.ToString(), " (and ", n - 1, " more errors)"));
  }
  return absl::OkStatus();
}

void Diagnostics::Sort() {
  std::stable_sort(items_.begin(), items_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
}

}  // namespace polmatch
