// File: policy_locations.h
//
// Where each field of a loaded policy was written: the rule checks report findings as
// `file:line:col` pointing into the .textproto (at the offending condition inside an eligibility
// string, at a valid_to, at an exclusive_group). Catalog keeps only each policy's first line, so
// this re-reads the catalog files once and records where each field starts; the position of a byte
// inside a field's value is worked out only when asked for (a catalog of 10,000 policies has
// 80,000 fields but few findings).
//
// Example:
//   PolicyLocations where(catalog);
//   SourcePosition pos = where.Of(policy, "eligibility", condition->begin);
#ifndef POLMATCH_ANALYSIS_POLICY_LOCATIONS_H_
#define POLMATCH_ANALYSIS_POLICY_LOCATIONS_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "engine/catalog/catalog.h"
#include "engine/util/textproto.h"

namespace polmatch {

struct SourcePosition {
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based, in characters; 0 = whole line
};

class PolicyLocations {
 public:
  // Reads the files of `catalog`'s policies. Policies built from messages (line 0), and files
  // that no longer read or parse, get their policy's line only.
  explicit PolicyLocations(const Catalog& catalog);

  // Byte `offset` of string field `field` of `policy` ("eligibility", "benefit", "rank_by",
  // "valid_from", "valid_to", "exclusive_group", …); the policy's own line when the field is
  // not written.
  SourcePosition Of(const CompiledPolicy& policy, absl::string_view field, size_t offset = 0) const;

 private:
  struct File {
    std::string text;
    std::vector<size_t> line_starts;  // byte offset of each 0-based line
  };
  // The field's name as ParseInfoTree reports it: 0-based line and column.
  struct FieldStart {
    const File* file;
    int line;
    int column;
  };
  std::map<std::string, std::unique_ptr<File>> files_;
  // (file, policy line) → field name → where the field starts.
  std::map<std::pair<std::string, int>, std::map<std::string, FieldStart, std::less<>>> fields_;
  // Positions of each field's value bytes, worked out on first use (so Of is not thread-safe).
  mutable std::map<const FieldStart*, SourceSpan> spans_;
};

}  // namespace polmatch

#endif  // POLMATCH_ANALYSIS_POLICY_LOCATIONS_H_
