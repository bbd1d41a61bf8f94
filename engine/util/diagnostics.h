// File: diagnostics.h
//
// Diagnostics collects positioned messages (`file:line:col: message`) from the loaders of the
// rules directory, so that `polmatch lint` can report every error at once rather than the first.
#ifndef POLMATCH_UTIL_DIAGNOSTICS_H_
#define POLMATCH_UTIL_DIAGNOSTICS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace polmatch {

struct Diagnostic {
  enum class Severity { kError, kWarning };
  std::string file;
  int line = 0;    // 1-based; 0 = whole file
  int column = 0;  // 1-based, in characters; 0 = whole line
  std::string message;
  Severity severity = Severity::kError;

  // "file:line:col: message" (warnings say "warning: ").
  std::string ToString() const;
};

class Diagnostics {
 public:
  void Error(std::string file, int line, int column, std::string message);
  void Warning(std::string file, int line, int column, std::string message);
  void Add(Diagnostic d) { items_.push_back(std::move(d)); }

  const std::vector<Diagnostic>& items() const { return items_; }
  int error_count() const;
  bool has_errors() const { return error_count() > 0; }
  // Ok when there are no errors; otherwise InvalidArgument with the first error and a count.
  absl::Status ToStatus() const;
  // Orders by file, line, column, so output is deterministic.
  void Sort();

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace polmatch

#endif  // POLMATCH_UTIL_DIAGNOSTICS_H_
