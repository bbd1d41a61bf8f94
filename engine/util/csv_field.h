// File: csv_field.h
//
// CSV fields for the engine's CSV outputs (grants.csv, lists.csv, the lists' CSV form, the
// ledger's nightly proposals): RFC 4180 quoting — a field holding a comma, a double quote, a CR
// or an LF is written in double quotes with its quotes doubled; every other field as it is.
//
// Example:
//   std::string row;
//   AppendCsvField("某市\"一号\",二号", &row);   // "某市""一号"",二号"
#ifndef POLMATCH_UTIL_CSV_FIELD_H_
#define POLMATCH_UTIL_CSV_FIELD_H_

#include <string>

#include "absl/strings/string_view.h"

namespace polmatch {

// Appends `s` as one CSV field (quoted only when it must be).
void AppendCsvField(absl::string_view s, std::string* out);

}  // namespace polmatch

#endif  // POLMATCH_UTIL_CSV_FIELD_H_
