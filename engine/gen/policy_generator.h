// File: policy_generator.h
//
// GeneratePolicyCatalog makes a synthetic policy catalog for demos and benchmarks (`polmatch gen
// --policies`), shaped like the catalogs of a province's bureaus (bench/README.md):
//  * scope: ~70% one city or county (`region under "440800"`), ~25% one province, ~5% national;
//  * each policy has a theme (高企认定奖励, 研发费用补助, 规上企业增长奖励, 科技创新券, …) that fixes
//    its core conditions and benefit, plus filler conditions up to 2–8 top-level `and` terms:
//    tags, `industry under`, thresholds on facts at the documents' round numbers (500万, 1000万,
//    employees <= 500, rd_expense / revenue >= 3%), `or` and `not` (`not credit.blacklist`),
//    `years_between(founded, as_of)`, `valid_from/valid_to(qual.hitech)`;
//  * ~30% AUTO_GRANT (免申即享); benefits fixed (`50万`), ratio with cap
//    (`min(rd_expense * 10%, 100万)`) or tiered (`tier(revenue, 1000万, 10万, …)`), and every fact
//    a benefit reads is bounded by a condition, so an eligible firm's amount is known;
//  * ~10% in exclusive groups of 2–3 (就高不重复: the same theme at county, city and province);
//  * a few with `limit` and `rank_by`; validity windows around as_of, some expired or not yet
//    in force.
// Ids are "gen-000001", "gen-000002", …; every identifier and code is taken from the tag library,
// so the catalog passes Catalog::FromProtos / LoadDir without diagnostics.
//
// Example:
//   ASSIGN_OR_RETURN(PolicyCatalog catalog, GeneratePolicyCatalog(taxonomy, 1000, options));
//   std::string text = PolicyCatalogToText(catalog);   // rules/policies/generated.textproto
#ifndef POLMATCH_GEN_POLICY_GENERATOR_H_
#define POLMATCH_GEN_POLICY_GENERATOR_H_

#include <string>

#include "absl/status/statusor.h"
#include "engine/gen/options.h"
#include "engine/taxonomy/taxonomy.h"
#include "proto/polmatch.pb.h"

namespace polmatch::gen {

// `count` policies (≥ 0). Fails when a region is unknown or the tag library lacks an identifier
// the themes use.
absl::StatusOr<PolicyCatalog> GeneratePolicyCatalog(const Taxonomy& taxonomy, int count,
                                                    const GenOptions& options);

// Protobuf text format with UTF-8 strings unescaped, after a `# proto-file` header.
std::string PolicyCatalogToText(const PolicyCatalog& catalog);

}  // namespace polmatch::gen

#endif  // POLMATCH_GEN_POLICY_GENERATOR_H_
