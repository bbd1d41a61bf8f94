#include "engine/catalog/catalog.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "engine/expr/parser.h"
#include "engine/util/dates.h"
#include "engine/util/textproto.h"
#include "re2/re2.h"

namespace polmatch {
namespace {

using google::protobuf::TextFormat;

struct PolicySource {
  const std::string* file = nullptr;
  const std::string* text = nullptr;              // null when built from messages
  const TextFormat::ParseInfoTree* tree = nullptr;  // the policy's subtree
  int line = 0;
};

// Position (line, col) of byte `offset` of string field `field` of a policy.
std::pair<int, int> FieldPos(const PolicySource& src, const Policy& p, const char* field,
                             size_t offset) {
  if (src.text == nullptr || src.tree == nullptr) return {src.line, 0};
  const auto* fd = p.GetDescriptor()->FindFieldByName(field);
  auto loc = src.tree->GetLocation(fd, -1);
  if (loc.line < 0) return {src.line, 0};
  return LocateStringValue(*src.text, loc.line, loc.column).At(offset);
}

void CompileField(CompiledPolicy& cp, const PolicySource& src, const Taxonomy& tax,
                  const RuleLimits& limits, const char* field, const std::string& text, Type type,
                  std::unique_ptr<Node>* out, Diagnostics* diags) {
  ExprError err;
  absl::StatusOr<std::unique_ptr<Node>> node = CompileExpr(text, tax, type, &err, limits);
  if (!node.ok()) {
    auto [line, col] = FieldPos(src, cp.policy, field, err.offset);
    diags->Error(*src.file, line, col,
                 absl::StrCat("policy ", cp.id(), ": ", field, ": ", err.message));
    return;
  }
  *out = std::move(*node);
}

void CompilePolicy(CompiledPolicy& cp, const PolicySource& src, const Taxonomy& tax,
                   const RuleLimits& limits, Diagnostics* diags) {
  const Policy& p = cp.policy;
  const std::string& file = *src.file;
  static const LazyRE2 kIdRe = {"[a-z0-9._-]+"};
  auto error = [&](const char* field, std::string msg) {
    auto [line, col] = field ? FieldPos(src, p, field, 0) : std::pair<int, int>{src.line, 0};
    diags->Error(file, line, col, absl::StrCat("policy ", p.id().empty() ? "(no id)" : p.id(), ": ", msg));
  };
  if (!RE2::FullMatch(p.id(), *kIdRe)) error(nullptr, "id must match [a-z0-9._-]+");
  if (p.title().empty()) error(nullptr, "missing title");
  if (p.eligibility().empty()) {
    error(nullptr, "empty eligibility expression");
  } else {
    CompileField(cp, src, tax, limits, "eligibility", p.eligibility(), Type::kBool, &cp.eligibility, diags);
  }
  if (!p.benefit().empty()) {
    CompileField(cp, src, tax, limits, "benefit", p.benefit(), Type::kNumber, &cp.benefit, diags);
  } else if (p.mode() == Policy::AUTO_GRANT && p.benefit_note().empty()) {
    // A non-monetary grant (e.g. entry into a cultivation list) states what it grants instead.
    error("mode", "AUTO_GRANT (免申即享) needs a benefit expression, or a benefit_note for a "
                  "non-monetary grant");
  }
  if (p.limit() < 0) error("limit", "limit must be ≥ 0");
  if (p.limit() > 0 && p.rank_by().empty()) error("limit", "limit needs rank_by to choose the firms");
  if (!p.rank_by().empty()) {
    CompileField(cp, src, tax, limits, "rank_by", p.rank_by(), Type::kNumber, &cp.rank_by, diags);
    if (p.limit() == 0) error("rank_by", "rank_by without a limit has no effect");
  }
  auto date = [&](const char* field, const std::string& text, std::optional<absl::CivilDay>* out) {
    if (text.empty()) return;
    absl::StatusOr<absl::CivilDay> d = ParseDate(text);
    if (!d.ok()) {
      error(field, std::string(d.status().message()));
    } else {
      *out = *d;
    }
  };
  date("valid_from", p.valid_from(), &cp.valid_from);
  date("valid_to", p.valid_to(), &cp.valid_to);
  if (cp.valid_from && cp.valid_to && *cp.valid_to < *cp.valid_from) {
    error("valid_to", "valid_to is before valid_from");
  }
  // The grant ledger's fields (SPEC §3) belong to 免申即享 policies only.
  if (p.mode() != Policy::AUTO_GRANT) {
    if (p.grant_period() != ONCE) error("grant_period", "grant_period is for AUTO_GRANT (免申即享) policies only");
    if (!p.cap_group().empty()) error("cap_group", "cap_group is for AUTO_GRANT (免申即享) policies only");
    if (p.publicity_days() != 0) error("publicity_days", "publicity_days is for AUTO_GRANT (免申即享) policies only");
    if (p.requires_confirmation()) {
      error("requires_confirmation", "requires_confirmation is for AUTO_GRANT (免申即享) policies only");
    }
  }
  if (p.publicity_days() < 0) error("publicity_days", "publicity_days must be ≥ 0");
  if (cp.eligibility) {
    cp.conditions = TopLevelConditions(*cp.eligibility);
    for (const Node* c : cp.conditions) cp.condition_actionable.push_back(IsActionable(*c, tax));
  }
}

// A catalog's grant_cap entries: an id like a policy's, and an amount in the rule language's
// number syntax ("100万", "50000.00").
void CompileCaps(const PolicyCatalog& catalog, const std::string& file,
                 const TextFormat::ParseInfoTree* tree, const Taxonomy& tax,
                 std::vector<CompiledGrantCap>* out, Diagnostics* diags) {
  static const LazyRE2 kIdRe = {"[a-z0-9._-]+"};
  const auto* cap_field = catalog.GetDescriptor()->FindFieldByName("grant_cap");
  for (int i = 0; i < catalog.grant_cap_size(); ++i) {
    CompiledGrantCap c;
    c.cap = catalog.grant_cap(i);
    c.file = file;
    c.line = tree == nullptr ? 0 : tree->GetLocation(cap_field, i).line + 1;
    auto error = [&](const std::string& msg) {
      diags->Error(file, c.line, 0,
                   absl::StrCat("grant_cap ", c.cap.id().empty() ? "(no id)" : c.cap.id(), ": ", msg));
    };
    if (!RE2::FullMatch(c.cap.id(), *kIdRe)) error("id must match [a-z0-9._-]+");
    ExprError err;
    absl::StatusOr<std::unique_ptr<Node>> amount =
        CompileExpr(c.cap.max_yuan_per_firm(), tax, Type::kNumber, &err);
    if (!amount.ok() || (*amount)->kind != NodeKind::kNumber) {
      error(absl::StrCat("max_yuan_per_firm \"", c.cap.max_yuan_per_firm(),
                         "\" is not an amount (e.g. \"100万\" or \"50000.00\")"));
    } else if ((*amount)->number.is_negative() || (*amount)->number.is_zero()) {
      error("max_yuan_per_firm must be positive");
    } else {
      c.max_yuan = (*amount)->number;
    }
    out->push_back(std::move(c));
  }
}

}  // namespace

// Completes a Catalog from compiled policies (a friend of Catalog through this struct).
struct CatalogBuilder {
  static absl::StatusOr<Catalog> Run(std::shared_ptr<const Taxonomy> taxonomy,
                                     std::vector<CompiledPolicy> policies,
                                     std::vector<CompiledGrantCap> caps, Diagnostics* diags,
                                     int errors_before) {
    Catalog c;
    c.taxonomy_ = std::move(taxonomy);
    for (CompiledGrantCap& cap : caps) {
      const std::string id = cap.cap.id();
      if (const auto it = c.caps_.find(id); it != c.caps_.end()) {
        diags->Error(cap.file, cap.line, 0,
                     absl::StrCat("duplicate grant_cap id \"", id, "\" (first at ", it->second.file,
                                  ":", it->second.line, ")"));
        continue;
      }
      c.caps_.emplace(id, std::move(cap));
    }
    std::stable_sort(policies.begin(), policies.end(),
                     [](const CompiledPolicy& a, const CompiledPolicy& b) { return a.id() < b.id(); });
    for (size_t i = 0; i < policies.size(); ++i) {
      const CompiledPolicy& p = policies[i];
      auto [it, inserted] = c.by_id_.emplace(p.id(), static_cast<int>(i));
      if (!inserted) {
        const CompiledPolicy& first = policies[it->second];
        diags->Error(p.file, p.line, 0,
                     absl::StrCat("duplicate policy id \"", p.id(), "\" (first at ", first.file,
                                  ":", first.line, ")"));
      }
      if (!p.policy.exclusive_group().empty()) {
        c.groups_[p.policy.exclusive_group()].push_back(static_cast<int>(i));
      }
      if (!p.policy.cap_group().empty() && !c.caps_.contains(p.policy.cap_group())) {
        diags->Error(p.file, p.line, 0,
                     absl::StrCat("policy ", p.id(), ": cap_group \"", p.policy.cap_group(),
                                  "\" names no grant_cap"));
      }
    }
    c.policies_ = std::move(policies);
    if (diags->error_count() > errors_before) return diags->ToStatus();
    return c;
  }
};

absl::Status CheckRulesDir(const std::string& rules_dir) {
  std::error_code ec;
  for (const char* sub : {"", "/taxonomy", "/policies"}) {
    if (!std::filesystem::is_directory(rules_dir + sub, ec)) {
      return absl::InvalidArgumentError(absl::StrCat(
          rules_dir, sub, ": not a directory (a rules directory holds taxonomy/ and policies/)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Catalog> Catalog::LoadDir(const std::string& rules_dir, Diagnostics* diags,
                                         const RuleLimits& limits) {
  const int errors_before = diags->error_count();
  absl::StatusOr<Taxonomy> tax = Taxonomy::LoadDir(rules_dir + "/taxonomy", diags, limits);
  if (!tax.ok()) return tax.status();
  auto taxonomy = std::make_shared<const Taxonomy>(std::move(*tax));

  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  const fs::path dir = fs::path(rules_dir) / "policies";
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".textproto") files.push_back(it->path().string());
  }
  if (ec) {
    diags->Error(dir.string(), 0, 0, absl::StrCat("cannot list policies: ", ec.message()));
    return diags->ToStatus();
  }
  std::sort(files.begin(), files.end());
  std::vector<CompiledPolicy> policies;
  std::vector<CompiledGrantCap> caps;
  for (const std::string& file : files) {
    absl::StatusOr<std::string> text = ReadFileToString(file);
    if (!text.ok()) {
      diags->Error(file, 0, 0, "cannot read file");
      continue;
    }
    PolicyCatalog catalog;
    TextFormat::ParseInfoTree tree;
    if (!ParseTextProto(file, *text, &catalog, diags, &tree)) continue;
    CompileCaps(catalog, file, &tree, *taxonomy, &caps, diags);
    const auto* policy_field = catalog.GetDescriptor()->FindFieldByName("policy");
    for (int i = 0; i < catalog.policy_size(); ++i) {
      CompiledPolicy cp;
      cp.policy = catalog.policy(i);
      cp.file = file;
      auto loc = tree.GetLocation(policy_field, i);
      cp.line = loc.line + 1;
      PolicySource src{&cp.file, &*text, tree.GetTreeForNested(policy_field, i), cp.line};
      CompilePolicy(cp, src, *taxonomy, limits, diags);
      policies.push_back(std::move(cp));
    }
  }
  return CatalogBuilder::Run(std::move(taxonomy), std::move(policies), std::move(caps), diags,
                             errors_before);
}

absl::StatusOr<Catalog> Catalog::FromProtos(std::shared_ptr<const Taxonomy> taxonomy,
                                            const std::vector<PolicyCatalog>& catalogs,
                                            Diagnostics* diags,
                                            const std::vector<std::string>& files,
                                            const RuleLimits& limits) {
  const int errors_before = diags->error_count();
  std::vector<CompiledPolicy> policies;
  std::vector<CompiledGrantCap> caps;
  for (size_t c = 0; c < catalogs.size(); ++c) {
    const std::string file = c < files.size() ? files[c] : absl::StrCat("<catalog ", c, ">");
    CompileCaps(catalogs[c], file, nullptr, *taxonomy, &caps, diags);
    for (int i = 0; i < catalogs[c].policy_size(); ++i) {
      CompiledPolicy cp;
      cp.policy = catalogs[c].policy(i);
      cp.file = file;
      cp.line = 0;
      PolicySource src{&cp.file, nullptr, nullptr, 0};
      CompilePolicy(cp, src, *taxonomy, limits, diags);
      policies.push_back(std::move(cp));
    }
  }
  return CatalogBuilder::Run(std::move(taxonomy), std::move(policies), std::move(caps), diags,
                             errors_before);
}

const CompiledGrantCap* Catalog::FindCap(absl::string_view id) const {
  auto it = caps_.find(id);
  return it == caps_.end() ? nullptr : &it->second;
}

const CompiledPolicy* Catalog::Find(absl::string_view id) const {
  int i = IndexOf(id);
  return i < 0 ? nullptr : &policies_[i];
}

int Catalog::IndexOf(absl::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? -1 : it->second;
}

}  // namespace polmatch
