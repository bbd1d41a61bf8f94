// File: taxonomy.h
//
// Taxonomy is the loaded tag library of rules/taxonomy/: tags (with hierarchy and
// actionability), numeric facts (with units), GB/T 2260 region codes and GB/T 4754-2017 industry
// codes. Rules resolve identifiers against it and ingestion validates firm records with it.
// Immutable once loaded and safe to share between threads.
//
// Example:
//   Diagnostics diags;
//   absl::StatusOr<Taxonomy> tax = Taxonomy::LoadDir("rules/taxonomy", &diags);
//   std::optional<TagId> t = tax->FindTag("高新技术企业");   // == FindTag("qual.hitech")
#ifndef POLMATCH_TAXONOMY_TAXONOMY_H_
#define POLMATCH_TAXONOMY_TAXONOMY_H_

#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/util/diagnostics.h"
#include "engine/util/rule_limits.h"
#include "engine/util/strong_id.h"
#include "proto/polmatch.pb.h"

namespace polmatch {

struct TagInfo {
  std::string id;
  std::string name;
  std::optional<TagId> parent;
  bool actionable = true;
  std::string held_zh;             // "已入库" (empty: "属于"); see TagDef
  std::string not_held_zh;         // "未入库" (empty: "不属于")
  std::vector<TagId> ancestors;    // self first, then parent, grandparent, …
  std::vector<TagId> descendants;  // self and every descendant
};

struct FactInfo {
  std::string id;
  std::string name;
  Unit unit = UNIT_NONE;
  bool actionable = true;
};

class Taxonomy {
 public:
  // Loads tags.textproto, regions.textproto and industries.textproto from `dir`. Every problem is
  // added to `diags` (with file:line:col); the result is an error if any was an error.
  // A duplicate tag or fact id, a cycle and a parent chain deeper than limits.max_tag_depth are
  // errors at the tag's line.
  static absl::StatusOr<Taxonomy> LoadDir(const std::string& dir, Diagnostics* diags,
                                          const RuleLimits& limits = {});
  // Builds from messages (tests, fuzzers). `file` names the tag library in messages.
  static absl::StatusOr<Taxonomy> FromProtos(const TagLibrary& tags, const CodeList& regions,
                                             const CodeList& industries, Diagnostics* diags,
                                             const std::string& file = "<tags>",
                                             const RuleLimits& limits = {});

  int num_tags() const { return static_cast<int>(tags_.size()); }
  int num_facts() const { return static_cast<int>(facts_.size()); }
  const TagInfo& tag(TagId id) const { return tags_[id.value]; }
  const FactInfo& fact(FactId id) const { return facts_[id.value]; }
  const std::vector<Ladder>& ladders() const { return ladders_; }

  // By id, Chinese name or alias.
  std::optional<TagId> FindTag(absl::string_view name) const;
  std::optional<FactId> FindFact(absl::string_view name) const;

  // Region codes: six digits whose province is listed. Known = listed itself.
  bool IsValidRegion(absl::string_view code) const;
  bool IsKnownRegion(absl::string_view code) const { return region_names_.contains(code); }
  absl::string_view RegionName(absl::string_view code) const;
  // Industry codes: a section letter, optionally followed by a listed division and 1-2 further
  // digits ("I", "I65", "I651", "I6513"). Known = listed itself.
  bool IsValidIndustry(absl::string_view code) const;
  bool IsKnownIndustry(absl::string_view code) const { return industry_names_.contains(code); }
  absl::string_view IndustryName(absl::string_view code) const;
  // Every listed code, sorted (generators and tools enumerate the classifications).
  std::vector<std::string> RegionCodes() const;
  std::vector<std::string> IndustryCodes() const;

  // Structural hierarchy tests (SPEC §3 `under`): 440802 is under 440800 and 440000; I6513 is
  // under I651, I65 and I. A code is under itself.
  static bool RegionUnder(absl::string_view code, absl::string_view ancestor);
  static bool IndustryUnder(absl::string_view code, absl::string_view ancestor);

 private:
  friend struct TaxonomyBuilder;
  std::vector<TagInfo> tags_;
  std::vector<FactInfo> facts_;
  std::vector<Ladder> ladders_;
  absl::flat_hash_map<std::string, TagId> tag_by_name_;
  absl::flat_hash_map<std::string, FactId> fact_by_name_;
  absl::flat_hash_map<std::string, std::string> region_names_;
  absl::flat_hash_map<std::string, std::string> industry_names_;
};

}  // namespace polmatch

#endif  // POLMATCH_TAXONOMY_TAXONOMY_H_
