// File: status_macros.h
//
// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status and absl::StatusOr. Debian's Abseil
// (20220623) ships neither, so polmatch keeps this one small header.
//
// Example:
//   ASSIGN_OR_RETURN(Taxonomy taxonomy, Taxonomy::Load(dir));
//   RETURN_IF_ERROR(Validate(taxonomy));
#ifndef POLMATCH_UTIL_STATUS_MACROS_H_
#define POLMATCH_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define POLMATCH_CONCAT_INNER_(a, b) a##b
#define POLMATCH_CONCAT_(a, b) POLMATCH_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    ::absl::Status polmatch_status_ = (expr);              \
    if (!polmatch_status_.ok()) return polmatch_status_;   \
  } while (0)

#define POLMATCH_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return std::move(tmp).status();        \
  lhs = std::move(*tmp)

#define ASSIGN_OR_RETURN(lhs, expr) \
  POLMATCH_ASSIGN_OR_RETURN_IMPL_(POLMATCH_CONCAT_(polmatch_statusor_, __LINE__), lhs, expr)

#endif  // POLMATCH_UTIL_STATUS_MACROS_H_
