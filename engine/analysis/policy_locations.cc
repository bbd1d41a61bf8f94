#include "engine/analysis/policy_locations.h"

#include <set>

#include "engine/util/textproto.h"

namespace polmatch {

PolicyLocations::PolicyLocations(const Catalog& catalog) {
  static constexpr const char* kFields[] = {"id",      "title",      "eligibility", "benefit",
                                            "rank_by", "valid_from", "valid_to",    "exclusive_group",
                                            "publicity_days"};
  std::set<std::string> names;
  for (const CompiledPolicy& p : catalog.policies()) {
    if (p.line > 0) names.insert(p.file);
  }
  for (const std::string& name : names) {
    absl::StatusOr<std::string> text = ReadFileToString(name);
    if (!text.ok()) continue;
    auto file = std::make_unique<File>();
    file->text = std::move(*text);
    file->line_starts.push_back(0);
    for (size_t i = 0; i < file->text.size(); ++i) {
      if (file->text[i] == '\n') file->line_starts.push_back(i + 1);
    }
    PolicyCatalog parsed;
    google::protobuf::TextFormat::ParseInfoTree tree;
    Diagnostics ignored;  // the catalog loader has reported these already
    if (!ParseTextProto(name, file->text, &parsed, &ignored, &tree)) continue;
    const auto* policy_field = parsed.GetDescriptor()->FindFieldByName("policy");
    const auto* policy_desc = Policy::descriptor();
    for (int i = 0; i < parsed.policy_size(); ++i) {
      const int line = tree.GetLocation(policy_field, i).line + 1;
      const auto* sub = tree.GetTreeForNested(policy_field, i);
      if (sub == nullptr) continue;
      auto& fields = fields_[{name, line}];
      for (const char* field : kFields) {
        auto loc = sub->GetLocation(policy_desc->FindFieldByName(field), -1);
        if (loc.line >= 0) fields[field] = {file.get(), loc.line, loc.column};
      }
    }
    files_[name] = std::move(file);
  }
}

SourcePosition PolicyLocations::Of(const CompiledPolicy& policy, absl::string_view field,
                                   size_t offset) const {
  auto it = fields_.find({policy.file, policy.line});
  if (it == fields_.end()) return {policy.line, 0};
  auto f = it->second.find(field);
  if (f == it->second.end()) return {policy.line, 0};
  const FieldStart& start = f->second;
  auto span = spans_.find(&start);
  if (span == spans_.end()) {
    // LocateStringValue walks from the top of the text it is given: give it the text from the
    // field's line on and shift the lines back. Walked once per field, however many findings.
    const size_t from = start.file->line_starts[start.line];
    span = spans_
               .emplace(&start, LocateStringValue(absl::string_view(start.file->text).substr(from),
                                                  0, start.column))
               .first;
  }
  auto [line, column] = span->second.At(offset);
  if (line <= 0) return {policy.line, 0};
  return {line + start.line, column};
}

}  // namespace polmatch
