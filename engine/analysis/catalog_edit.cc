#include "engine/analysis/catalog_edit.h"

#include <map>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/util/textproto.h"

namespace polmatch {
namespace {

// Groups policy messages by the file they came from (FromProtos names each group by its file).
struct CatalogsByFile {
  std::map<std::string, PolicyCatalog> by_file;
  void Add(const std::string& file, const Policy& p) { *by_file[file].add_policy() = p; }
  absl::StatusOr<Catalog> Build(const Catalog& base, Diagnostics* diags) const {
    std::vector<PolicyCatalog> catalogs;
    std::vector<std::string> files;
    for (const auto& [file, catalog] : by_file) {
      files.push_back(file);
      catalogs.push_back(catalog);
    }
    return Catalog::FromProtos(base.shared_taxonomy(), catalogs, diags, files);
  }
};

}  // namespace

absl::StatusOr<Catalog> SelectPolicies(const Catalog& base, const std::vector<std::string>& ids,
                                       Diagnostics* diags) {
  CatalogsByFile out;
  for (const std::string& id : ids) {
    const CompiledPolicy* p = base.Find(id);
    if (p == nullptr) return absl::NotFoundError(absl::StrCat("unknown policy ", id));
    out.Add(p->file, p->policy);
  }
  return out.Build(base, diags);
}

absl::StatusOr<Catalog> ApplyReform(const Catalog& base, const PolicyCatalog& reform,
                                    const std::string& reform_file, Diagnostics* diags,
                                    std::vector<std::string>* changed) {
  absl::flat_hash_set<std::string> replaced;
  for (const Policy& p : reform.policy()) {
    if (!replaced.insert(p.id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(reform_file, ": policy ", p.id(), " is given twice"));
    }
    changed->push_back(p.id());
  }
  CatalogsByFile out;
  for (const CompiledPolicy& p : base.policies()) {
    if (!replaced.contains(p.id())) out.Add(p.file, p.policy);
  }
  for (const Policy& p : reform.policy()) out.Add(reform_file, p);
  return out.Build(base, diags);
}

absl::StatusOr<PolicyCatalog> ReadReformFile(const std::string& path, Diagnostics* diags) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  PolicyCatalog catalog;
  if (!ParseTextProto(path, *text, &catalog, diags)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a PolicyCatalog in text format"));
  }
  return catalog;
}

}  // namespace polmatch
