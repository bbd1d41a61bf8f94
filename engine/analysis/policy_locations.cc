#include "engine/analysis/policy_locations.h"

#include <set>

namespace polmatch {

PolicyLocations::PolicyLocations(const Catalog& catalog) {
  static constexpr const char* kFields[] = {"id",       "eligibility",     "benefit",
                                            "rank_by",  "valid_from",      "valid_to",
                                            "exclusive_group", "title"};
  std::set<std::string> files;
  for (const CompiledPolicy& p : catalog.policies()) {
    if (p.line > 0) files.insert(p.file);
  }
  for (const std::string& file : files) {
    absl::StatusOr<std::string> text = ReadFileToString(file);
    if (!text.ok()) continue;
    PolicyCatalog parsed;
    google::protobuf::TextFormat::ParseInfoTree tree;
    Diagnostics ignored;  // the catalog loader has reported these already
    if (!ParseTextProto(file, *text, &parsed, &ignored, &tree)) continue;
    const auto* policy_field = parsed.GetDescriptor()->FindFieldByName("policy");
    const auto* policy_desc = Policy::descriptor();
    for (int i = 0; i < parsed.policy_size(); ++i) {
      const int line = tree.GetLocation(policy_field, i).line + 1;
      const auto* sub = tree.GetTreeForNested(policy_field, i);
      if (sub == nullptr) continue;
      auto& fields = spans_[{file, line}];
      for (const char* name : kFields) {
        auto loc = sub->GetLocation(policy_desc->FindFieldByName(name), -1);
        if (loc.line >= 0) fields[name] = LocateStringValue(*text, loc.line, loc.column);
      }
    }
  }
}

SourcePosition PolicyLocations::Of(const CompiledPolicy& policy, absl::string_view field,
                                   size_t offset) const {
  auto it = spans_.find({policy.file, policy.line});
  if (it != spans_.end()) {
    auto f = it->second.find(field);
    if (f != it->second.end()) {
      auto [line, column] = f->second.At(offset);
      if (line > 0) return {line, column};
    }
  }
  return {policy.line, 0};
}

}  // namespace polmatch
