// File: kept_rules.h
//
// What a grant keeps of the rules that decided it, so that `grants audit` can replay it years
// later whatever the catalog has become: the policy's text (protobuf text format) and the tag
// library (tags, regions, industries) by their SHA-256 digests, and the firm's data the policy
// read (a FirmProfile as JSON: its region, industry, founding date, tags, and the facts the
// policy's expressions name).
#ifndef POLMATCH_LEDGER_KEPT_RULES_H_
#define POLMATCH_LEDGER_KEPT_RULES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/catalog/catalog.h"
#include "engine/ingest/firm.h"
#include "engine/ledger/ledger_store.h"

namespace polmatch {

// Lower-case hex SHA-256 (OpenSSL libcrypto).
std::string Sha256Hex(absl::string_view bytes);

// The policy as kept: its message in protobuf text format.
std::string PolicyText(const Policy& policy);

// The tag library's three files, read from RULES_DIR/taxonomy.
struct TaxonomyTexts {
  std::string tags, regions, industries;
};
absl::StatusOr<TaxonomyTexts> ReadTaxonomyTexts(const std::string& taxonomy_dir);

// Stores the three files (once each) and an index text naming their digests; returns the index's
// digest (what a grant records).
absl::StatusOr<std::string> KeepTaxonomy(LedgerTransaction& txn, const TaxonomyTexts& texts);
// The tag library a grant recorded.
absl::StatusOr<Taxonomy> LoadKeptTaxonomy(LedgerTransaction& txn, const std::string& digest);

// The firm's data that `policy` reads, as FirmProfile JSON (facts the policy does not name are
// left out; tags are all kept, since a tag is held through its descendants). The credit code and
// the name are left out too: the grant keeps them in its own fields (ledgers written before kept
// them here as well; `grants audit` reads both).
std::string FirmDataJson(const Firm& firm, const CompiledPolicy& policy, const Taxonomy& taxonomy);

// The same in two steps, for many grants: the facts a policy reads (its eligibility and benefit,
// in FactId order), found once per policy; then the JSON of one firm, written directly (the same
// FirmProfile JSON as protobuf's printer, without building a FirmProfile) and appended to `out`.
std::vector<FactId> FactsRead(const CompiledPolicy& policy);
void AppendFirmDataJson(const Firm& firm, const std::vector<FactId>& facts, const Taxonomy& taxonomy,
                        std::string* out);

}  // namespace polmatch

#endif  // POLMATCH_LEDGER_KEPT_RULES_H_
