// File: catalog_edit.h
//
// New catalogs made from a loaded one, sharing its tag library: a selection of its policies (to
// match only what an analysis needs), and a reform (policies replaced or added, for what-if
// simulation). The policies are recompiled from their Policy messages, so errors in a reform are
// reported like the loader's, naming the reform's file.
//
// Example:
//   Diagnostics diags;
//   absl::StatusOr<Catalog> one = SelectPolicies(catalog, {"shanwei-2021.4.4"}, &diags);
#ifndef POLMATCH_ANALYSIS_CATALOG_EDIT_H_
#define POLMATCH_ANALYSIS_CATALOG_EDIT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/catalog/catalog.h"
#include "engine/util/diagnostics.h"

namespace polmatch {

// The policies of `base` with the given ids (unknown ids are an error).
absl::StatusOr<Catalog> SelectPolicies(const Catalog& base, const std::vector<std::string>& ids,
                                       Diagnostics* diags);

// `base` with each policy of `reform` replacing the policy of the same id, or added when the id is
// new. `reform_file` names the reform in messages. `changed` gets the reform's ids.
absl::StatusOr<Catalog> ApplyReform(const Catalog& base, const PolicyCatalog& reform,
                                    const std::string& reform_file, Diagnostics* diags,
                                    std::vector<std::string>* changed);

// Reads a catalog fragment (protobuf text format, message PolicyCatalog) from `path`.
absl::StatusOr<PolicyCatalog> ReadReformFile(const std::string& path, Diagnostics* diags);

}  // namespace polmatch

#endif  // POLMATCH_ANALYSIS_CATALOG_EDIT_H_
