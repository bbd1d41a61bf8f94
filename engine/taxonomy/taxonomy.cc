#include "engine/taxonomy/taxonomy.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/graph/tag_hierarchy.h"
#include "engine/util/textproto.h"
#include "re2/re2.h"

namespace polmatch {
namespace {

using google::protobuf::TextFormat;

// 1-based (line, column) of the index-th occurrence of `field` in `tree` ({0, 0} if unknown).
std::pair<int, int> PosOf(const TextFormat::ParseInfoTree* tree,
                          const google::protobuf::Message& msg, const char* field, int index) {
  if (tree == nullptr) return {0, 0};
  const auto* fd = msg.GetDescriptor()->FindFieldByName(field);
  auto loc = tree->GetLocation(fd, index);
  return loc.line < 0 ? std::pair<int, int>{0, 0} : std::pair<int, int>{loc.line + 1, loc.column + 1};
}

int LineOf(const TextFormat::ParseInfoTree* tree, const google::protobuf::Message& msg,
           const char* field, int index) {
  return PosOf(tree, msg, field, index).first;
}

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

// Fills a Taxonomy's private fields (a friend of Taxonomy).
struct TaxonomyBuilder {
  static absl::StatusOr<Taxonomy> Run(const TagLibrary& lib, const CodeList& regions,
                                      const CodeList& industries, Diagnostics* diags,
                                      const std::string& tag_file, const std::string& region_file,
                                      const std::string& industry_file,
                                      const TextFormat::ParseInfoTree* tag_tree,
                                      const TextFormat::ParseInfoTree* region_tree,
                                      const TextFormat::ParseInfoTree* industry_tree,
                                      const RuleLimits& limits);
};

absl::StatusOr<Taxonomy> Taxonomy::LoadDir(const std::string& dir, Diagnostics* diags,
                                           const RuleLimits& limits) {
  const std::string tag_file = dir + "/tags.textproto";
  const std::string region_file = dir + "/regions.textproto";
  const std::string industry_file = dir + "/industries.textproto";
  TagLibrary lib;
  CodeList regions, industries;
  TextFormat::ParseInfoTree tag_tree, region_tree, industry_tree;
  bool ok = true;
  auto load = [&](const std::string& file, google::protobuf::Message* msg,
                  TextFormat::ParseInfoTree* tree) {
    absl::StatusOr<std::string> text = ReadFileToString(file);
    if (!text.ok()) {
      diags->Error(file, 0, 0, "cannot read file");
      ok = false;
      return;
    }
    ok = ParseTextProto(file, *text, msg, diags, tree) && ok;
  };
  load(tag_file, &lib, &tag_tree);
  load(region_file, &regions, &region_tree);
  load(industry_file, &industries, &industry_tree);
  if (!ok) return diags->ToStatus();
  return TaxonomyBuilder::Run(lib, regions, industries, diags, tag_file, region_file, industry_file, &tag_tree,
               &region_tree, &industry_tree, limits);
}

absl::StatusOr<Taxonomy> Taxonomy::FromProtos(const TagLibrary& tags, const CodeList& regions,
                                              const CodeList& industries, Diagnostics* diags,
                                              const std::string& file, const RuleLimits& limits) {
  return TaxonomyBuilder::Run(tags, regions, industries, diags, file, "<regions>", "<industries>", nullptr,
               nullptr, nullptr, limits);
}

absl::StatusOr<Taxonomy> TaxonomyBuilder::Run(
    const TagLibrary& lib, const CodeList& regions, const CodeList& industries,
    Diagnostics* diags, const std::string& tag_file, const std::string& region_file,
    const std::string& industry_file, const TextFormat::ParseInfoTree* tag_tree,
    const TextFormat::ParseInfoTree* region_tree,
    const TextFormat::ParseInfoTree* industry_tree, const RuleLimits& limits) {
  static const LazyRE2 kIdRe = {R"([a-z][a-z0-9_]*(\.[a-z0-9_]+)*)"};
  static const LazyRE2 kNameRe = {R"([\p{L}_][\p{L}\p{N}_.]*)"};
  const int errors_before = diags->error_count();
  Taxonomy t;
  absl::flat_hash_map<std::string, std::string> owner;  // name → "tag x" / "fact y"
  absl::flat_hash_map<std::string, int> id_line;        // tag or fact id → its line
  // A tag or fact id declared twice: an error at the second (the first one stands).
  auto duplicate_id = [&](const std::string& id, const char* kind, std::pair<int, int> pos) {
    auto [it, inserted] = id_line.emplace(absl::StrCat(kind, " ", id), pos.first);
    if (inserted) return false;
    diags->Error(tag_file, pos.first, pos.second,
                 absl::StrCat("duplicate ", kind, " id \"", id, "\" (first declared at line ",
                              it->second, ")"));
    return true;
  };
  auto add_name = [&](const std::string& name, const std::string& what, int line,
                      bool must_be_ident) {
    if (name.empty()) return false;
    if (must_be_ident && !RE2::FullMatch(name, *kNameRe)) {
      diags->Warning(tag_file, line, 0,
                     absl::StrCat("name \"", name, "\" of ", what,
                                  " is not an identifier and cannot be used in rules"));
      return false;
    }
    auto [it, inserted] = owner.emplace(name, what);
    if (!inserted && it->second != what) {
      diags->Error(tag_file, line, 0,
                   absl::StrCat("name \"", name, "\" of ", what, " is already used by ", it->second));
      return false;
    }
    return inserted;
  };
  // Tags.
  for (int i = 0; i < lib.tag_size(); ++i) {
    const TagDef& def = lib.tag(i);
    const std::pair<int, int> pos = PosOf(tag_tree, lib, "tag", i);
    const int line = pos.first;
    const std::string what = absl::StrCat("tag ", def.id());
    if (!RE2::FullMatch(def.id(), *kIdRe)) {
      diags->Error(tag_file, line, 0, absl::StrCat("bad tag id \"", def.id(), "\" (want a.b_c)"));
      continue;
    }
    if (duplicate_id(def.id(), "tag", pos)) continue;
    if (!add_name(def.id(), what, line, false)) continue;
    const TagId id(static_cast<uint32_t>(t.tags_.size()));
    TagInfo info;
    info.id = def.id();
    info.name = def.name();
    info.actionable = def.actionable();
    info.held_zh = def.held_zh();
    info.not_held_zh = def.not_held_zh();
    t.tags_.push_back(std::move(info));
    t.tag_by_name_[def.id()] = id;
    if (add_name(def.name(), what, line, true)) t.tag_by_name_[def.name()] = id;
    for (const std::string& alias : def.alias()) {
      if (add_name(alias, what, line, true)) t.tag_by_name_[alias] = id;
    }
  }
  // Parents (second pass, so a parent may be declared after its child).
  std::vector<std::optional<uint32_t>> parents(t.tags_.size());
  std::vector<int> tag_line(t.tags_.size(), 0);  // by TagId
  for (int i = 0; i < lib.tag_size(); ++i) {
    const TagDef& def = lib.tag(i);
    auto self = t.tag_by_name_.find(def.id());
    if (self == t.tag_by_name_.end() || t.tags_[self->second.value].id != def.id()) continue;
    if (tag_line[self->second.value] != 0) continue;  // a duplicate, reported above
    tag_line[self->second.value] = LineOf(tag_tree, lib, "tag", i);
    if (def.parent().empty()) continue;
    auto parent = t.tag_by_name_.find(def.parent());
    if (parent == t.tag_by_name_.end()) {
      diags->Error(tag_file, LineOf(tag_tree, lib, "tag", i), 0,
                   absl::StrCat("tag ", def.id(), ": unknown parent \"", def.parent(), "\""));
      continue;
    }
    parents[self->second.value] = parent->second.value;
    t.tags_[self->second.value].parent = parent->second;
  }
  absl::StatusOr<TagHierarchy> h = BuildTagHierarchy(parents, limits.max_tag_depth);
  if (!h.ok()) {
    uint32_t at = 0;
    const absl::string_view what = h.status().message();  // "cycle:<index>" / "deep:<index>"
    (void)absl::SimpleAtoi(what.substr(what.find(':') + 1), &at);
    std::string chain = t.tags_[at].id;
    if (absl::IsOutOfRange(h.status())) {
      int shown = 0;
      for (std::optional<uint32_t> c = parents[at]; c && shown < 3; c = parents[*c], ++shown) {
        absl::StrAppend(&chain, " → ", t.tags_[*c].id);
      }
      diags->Error(tag_file, tag_line[at], 0,
                   absl::StrCat("tag ", t.tags_[at].id, ": its parent chain is longer than ",
                                limits.max_tag_depth, " tags (", chain,
                                " → …): the tag hierarchy is too deep"));
    } else {
      for (uint32_t c = *parents[at]; c != at; c = *parents[c]) {
        absl::StrAppend(&chain, " → ", t.tags_[c].id);
      }
      absl::StrAppend(&chain, " → ", t.tags_[at].id);
      diags->Error(tag_file, tag_line[at], 0, absl::StrCat("tag hierarchy has a cycle: ", chain));
    }
  } else {
    for (size_t i = 0; i < t.tags_.size(); ++i) {
      for (uint32_t a : h->ancestors[i]) t.tags_[i].ancestors.push_back(TagId(a));
      for (uint32_t d : h->descendants[i]) t.tags_[i].descendants.push_back(TagId(d));
    }
  }
  // Facts.
  for (int i = 0; i < lib.fact_size(); ++i) {
    const FactDef& def = lib.fact(i);
    const std::pair<int, int> pos = PosOf(tag_tree, lib, "fact", i);
    const int line = pos.first;
    const std::string what = absl::StrCat("fact ", def.id());
    if (!RE2::FullMatch(def.id(), *kIdRe)) {
      diags->Error(tag_file, line, 0, absl::StrCat("bad fact id \"", def.id(), "\""));
      continue;
    }
    static const char* kReserved[] = {"region", "industry", "founded", "as_of", "credit_code",
                                      "name", "tags", "true", "false", "and", "or", "not",
                                      "in", "under"};
    bool reserved = false;
    for (const char* r : kReserved) reserved = reserved || def.id() == r;
    if (reserved) {
      diags->Error(tag_file, line, 0, absl::StrCat("fact id \"", def.id(), "\" is reserved"));
      continue;
    }
    if (duplicate_id(def.id(), "fact", pos)) continue;
    if (!add_name(def.id(), what, line, false)) continue;
    const FactId id(static_cast<uint32_t>(t.facts_.size()));
    t.facts_.push_back({def.id(), def.name(), def.unit(), def.actionable()});
    t.fact_by_name_[def.id()] = id;
    if (add_name(def.name(), what, line, true)) t.fact_by_name_[def.name()] = id;
    for (const std::string& alias : def.alias()) {
      if (add_name(alias, what, line, true)) t.fact_by_name_[alias] = id;
    }
  }
  for (int i = 0; i < lib.ladder_size(); ++i) {
    for (const std::string& step : lib.ladder(i).step()) {
      if (!t.tag_by_name_.contains(step)) {
        diags->Error(tag_file, LineOf(tag_tree, lib, "ladder", i), 0,
                     absl::StrCat("ladder ", lib.ladder(i).id(), ": unknown tag \"", step, "\""));
      }
    }
    t.ladders_.push_back(lib.ladder(i));
  }
  // Regions.
  for (int i = 0; i < regions.code_size(); ++i) {
    const CodeDef& c = regions.code(i);
    const int line = LineOf(region_tree, regions, "code", i);
    if (c.code().size() != 6 || !AllDigits(c.code())) {
      diags->Error(region_file, line, 0, absl::StrCat("bad region code \"", c.code(), "\""));
      continue;
    }
    if (!t.region_names_.emplace(c.code(), c.name()).second) {
      diags->Error(region_file, line, 0, absl::StrCat("duplicate region code ", c.code()));
    }
  }
  for (const auto& [code, name] : t.region_names_) {
    std::string province = code.substr(0, 2) + "0000";
    std::string city = code.substr(0, 4) + "00";
    if (!t.region_names_.contains(province) ||
        (code.substr(4) != "00" && !t.region_names_.contains(city))) {
      diags->Error(region_file, 0, 0,
                   absl::StrCat("region ", code, " (", name, ") has no parent code listed"));
    }
  }
  // Industries.
  for (int i = 0; i < industries.code_size(); ++i) {
    const CodeDef& c = industries.code(i);
    const int line = LineOf(industry_tree, industries, "code", i);
    const std::string& code = c.code();
    const bool shape = !code.empty() && code[0] >= 'A' && code[0] <= 'T' &&
                       (code.size() == 1 || (code.size() >= 3 && code.size() <= 5)) &&
                       AllDigits(absl::string_view(code).substr(1));
    if (!shape) {
      diags->Error(industry_file, line, 0, absl::StrCat("bad industry code \"", code, "\""));
      continue;
    }
    if (!t.industry_names_.emplace(code, c.name()).second) {
      diags->Error(industry_file, line, 0, absl::StrCat("duplicate industry code ", code));
    }
  }
  for (const auto& [code, name] : t.industry_names_) {
    if (code.size() > 1 && !t.industry_names_.contains(code.substr(0, code.size() == 3 ? 1 : 3))) {
      diags->Error(industry_file, 0, 0,
                   absl::StrCat("industry ", code, " (", name, ") has no parent code listed"));
    }
  }
  if (diags->error_count() > errors_before) return diags->ToStatus();
  return t;
}

std::optional<TagId> Taxonomy::FindTag(absl::string_view name) const {
  auto it = tag_by_name_.find(name);
  if (it == tag_by_name_.end()) return std::nullopt;
  return it->second;
}

std::optional<FactId> Taxonomy::FindFact(absl::string_view name) const {
  auto it = fact_by_name_.find(name);
  if (it == fact_by_name_.end()) return std::nullopt;
  return it->second;
}

bool Taxonomy::IsValidRegion(absl::string_view code) const {
  if (code.size() != 6 || !AllDigits(code)) return false;
  return region_names_.contains(absl::StrCat(code.substr(0, 2), "0000"));
}

absl::string_view Taxonomy::RegionName(absl::string_view code) const {
  auto it = region_names_.find(code);
  return it == region_names_.end() ? absl::string_view() : absl::string_view(it->second);
}

bool Taxonomy::IsValidIndustry(absl::string_view code) const {
  if (code.empty() || code[0] < 'A' || code[0] > 'T') return false;
  if (code.size() == 1) return industry_names_.contains(code);
  if (code.size() < 3 || code.size() > 5 || !AllDigits(code.substr(1))) return false;
  return industry_names_.contains(code.substr(0, 3));
}

absl::string_view Taxonomy::IndustryName(absl::string_view code) const {
  auto it = industry_names_.find(code);
  return it == industry_names_.end() ? absl::string_view() : absl::string_view(it->second);
}

std::vector<std::string> Taxonomy::RegionCodes() const {
  std::vector<std::string> codes;
  codes.reserve(region_names_.size());
  for (const auto& [code, name] : region_names_) codes.push_back(code);
  std::sort(codes.begin(), codes.end());
  return codes;
}

std::vector<std::string> Taxonomy::IndustryCodes() const {
  std::vector<std::string> codes;
  codes.reserve(industry_names_.size());
  for (const auto& [code, name] : industry_names_) codes.push_back(code);
  std::sort(codes.begin(), codes.end());
  return codes;
}

bool Taxonomy::RegionUnder(absl::string_view code, absl::string_view ancestor) {
  if (code.size() != 6 || ancestor.size() != 6) return false;
  if (ancestor.substr(2) == "0000") return code.substr(0, 2) == ancestor.substr(0, 2);
  if (ancestor.substr(4) == "00") return code.substr(0, 4) == ancestor.substr(0, 4);
  return code == ancestor;
}

bool Taxonomy::IndustryUnder(absl::string_view code, absl::string_view ancestor) {
  // Levels: section (1 char), division (3), group (4), class (5).
  if (ancestor.empty() || ancestor.size() == 2 || ancestor.size() > 5) return false;
  return code.size() >= ancestor.size() && code.substr(0, ancestor.size()) == ancestor;
}

}  // namespace polmatch
