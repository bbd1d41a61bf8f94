// File: catalog.h
//
// Catalog is a loaded rules directory: the tag library (taxonomy/) and every policy of
// policies/*.textproto, each with its eligibility, benefit and rank_by compiled and checked.
// Errors point into the .textproto files as file:line:col. Immutable once loaded; share it.
//
// Example:
//   Diagnostics diags;
//   absl::StatusOr<Catalog> catalog = Catalog::LoadDir("rules", &diags);
//   const CompiledPolicy* p = catalog->Find("shanwei-2021.4.4");
#ifndef POLMATCH_CATALOG_CATALOG_H_
#define POLMATCH_CATALOG_CATALOG_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "engine/expr/ast.h"
#include "engine/taxonomy/taxonomy.h"
#include "engine/util/diagnostics.h"
#include "engine/util/rule_limits.h"
#include "proto/polmatch.pb.h"

namespace polmatch {

struct CompiledPolicy {
  Policy policy;                          // as written
  std::string file;                       // where it was written
  int line = 0;
  std::unique_ptr<Node> eligibility;
  std::unique_ptr<Node> benefit;          // null when the policy states no amount
  std::unique_ptr<Node> rank_by;          // null when no limit
  std::vector<const Node*> conditions;    // top-level `and` terms of eligibility
  std::vector<bool> condition_actionable;
  std::optional<absl::CivilDay> valid_from, valid_to;

  const std::string& id() const { return policy.id(); }
  bool auto_grant() const { return policy.mode() == Policy::AUTO_GRANT; }
  bool ActiveOn(absl::CivilDay day) const {
    return (!valid_from || *valid_from <= day) && (!valid_to || day <= *valid_to);
  }
  // The source text of a node of this policy's eligibility.
  absl::string_view EligibilityText(const Node& n) const {
    return absl::string_view(policy.eligibility()).substr(n.begin, n.end - n.begin);
  }
};

// A catalog-level grant_cap (SPEC §3): what one firm may receive per period over every policy of
// its cap_group.
struct CompiledGrantCap {
  GrantCap cap;      // as written
  Decimal max_yuan;  // max_yuan_per_firm, parsed
  std::string file;
  int line = 0;
};

// Ok when `rules_dir`, `rules_dir`/taxonomy and `rules_dir`/policies are directories; otherwise
// InvalidArgument "DIR: not a directory (a rules directory holds taxonomy/ and policies/)".
absl::Status CheckRulesDir(const std::string& rules_dir);

class Catalog {
 public:
  // Loads `rules_dir`/taxonomy and every `rules_dir`/policies/*.textproto (in name order).
  // `limits` bounds each expression and the tag hierarchy (a rule past them is an error at its
  // file:line:col).
  static absl::StatusOr<Catalog> LoadDir(const std::string& rules_dir, Diagnostics* diags,
                                         const RuleLimits& limits = {});
  // From an already loaded taxonomy and catalog messages (tests, fuzzers, generated catalogs).
  // `files` names each catalog in messages.
  static absl::StatusOr<Catalog> FromProtos(std::shared_ptr<const Taxonomy> taxonomy,
                                            const std::vector<PolicyCatalog>& catalogs,
                                            Diagnostics* diags,
                                            const std::vector<std::string>& files = {},
                                            const RuleLimits& limits = {});

  const Taxonomy& taxonomy() const { return *taxonomy_; }
  std::shared_ptr<const Taxonomy> shared_taxonomy() const { return taxonomy_; }
  // Policies in id order; index = PolicyIndex.
  const std::vector<CompiledPolicy>& policies() const { return policies_; }
  const CompiledPolicy* Find(absl::string_view id) const;
  int IndexOf(absl::string_view id) const;  // -1 if unknown
  // Exclusive groups: name → policy indexes (ascending).
  const absl::flat_hash_map<std::string, std::vector<int>>& groups() const { return groups_; }
  // The grant caps of every catalog, by id; every policy's cap_group names one of them.
  const absl::flat_hash_map<std::string, CompiledGrantCap>& grant_caps() const { return caps_; }
  const CompiledGrantCap* FindCap(absl::string_view id) const;

 private:
  friend struct CatalogBuilder;
  std::shared_ptr<const Taxonomy> taxonomy_;
  std::vector<CompiledPolicy> policies_;
  absl::flat_hash_map<std::string, int> by_id_;
  absl::flat_hash_map<std::string, std::vector<int>> groups_;
  absl::flat_hash_map<std::string, CompiledGrantCap> caps_;
};

}  // namespace polmatch

#endif  // POLMATCH_CATALOG_CATALOG_H_
