#include "engine/ledger/kept_rules.h"

#include <openssl/evp.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/util/dates.h"
#include "engine/util/status_macros.h"
#include "engine/util/textproto.h"
#include "google/protobuf/text_format.h"

namespace polmatch {
namespace {

void CollectFacts(const Node& node, std::vector<bool>* facts) {
  if (node.kind == NodeKind::kFact) {
    if (node.fact.value >= facts->size()) facts->resize(node.fact.value + 1, false);
    (*facts)[node.fact.value] = true;
  }
  for (const auto& child : node.children) CollectFacts(*child, facts);
}

constexpr char kTaxonomyKinds[3][11] = {"tags", "regions", "industries"};

// A JSON string: quote, backslash and control characters escaped; UTF-8 kept as it is.
void AppendJsonString(std::string* out, absl::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (c < 0x20) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(ch);
    }
  }
  out->push_back('"');
}

}  // namespace

std::string Sha256Hex(absl::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string PolicyText(const Policy& policy) {
  std::string out;
  google::protobuf::TextFormat::PrintToString(policy, &out);
  return out;
}

absl::StatusOr<TaxonomyTexts> ReadTaxonomyTexts(const std::string& taxonomy_dir) {
  TaxonomyTexts t;
  ASSIGN_OR_RETURN(t.tags, ReadFileToString(taxonomy_dir + "/tags.textproto"));
  ASSIGN_OR_RETURN(t.regions, ReadFileToString(taxonomy_dir + "/regions.textproto"));
  ASSIGN_OR_RETURN(t.industries, ReadFileToString(taxonomy_dir + "/industries.textproto"));
  return t;
}

absl::StatusOr<std::string> KeepTaxonomy(LedgerTransaction& txn, const TaxonomyTexts& texts) {
  const std::string* parts[3] = {&texts.tags, &texts.regions, &texts.industries};
  std::string index;
  for (int i = 0; i < 3; ++i) {
    const std::string digest = Sha256Hex(*parts[i]);
    RETURN_IF_ERROR(txn.PutText(StoredText{digest, kTaxonomyKinds[i], *parts[i]}));
    absl::StrAppend(&index, kTaxonomyKinds[i], " ", digest, "\n");
  }
  const std::string digest = Sha256Hex(index);
  RETURN_IF_ERROR(txn.PutText(StoredText{digest, "taxonomy", index}));
  return digest;
}

absl::StatusOr<Taxonomy> LoadKeptTaxonomy(LedgerTransaction& txn, const std::string& digest) {
  ASSIGN_OR_RETURN(std::optional<StoredText> index, txn.Text(digest));
  if (!index || index->kind != "taxonomy") {
    return absl::NotFoundError(absl::StrCat("the ledger keeps no tag library ", digest));
  }
  TagLibrary tags;
  CodeList regions, industries;
  google::protobuf::Message* messages[3] = {&tags, &regions, &industries};
  int found = 0;
  for (absl::string_view line : absl::StrSplit(index->text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(line, ' ');
    for (int i = 0; i < 3; ++i) {
      if (kv.size() != 2 || kv[0] != kTaxonomyKinds[i]) continue;
      ASSIGN_OR_RETURN(std::optional<StoredText> text, txn.Text(kv[1]));
      if (!text) return absl::NotFoundError(absl::StrCat("the ledger keeps no ", kv[0], " ", kv[1]));
      Diagnostics diags;
      if (!ParseTextProto(kv[0], text->text, messages[i], &diags)) return diags.ToStatus();
      ++found;
    }
  }
  if (found != 3) return absl::DataLossError(absl::StrCat("tag library ", digest, " is incomplete"));
  Diagnostics diags;
  return Taxonomy::FromProtos(tags, regions, industries, &diags, "tags (kept in the ledger)");
}

std::vector<FactId> FactsRead(const CompiledPolicy& policy) {
  std::vector<bool> read;
  for (const Node* n : {policy.eligibility.get(), policy.benefit.get()}) {
    if (n != nullptr) CollectFacts(*n, &read);
  }
  std::vector<FactId> out;
  for (size_t i = 0; i < read.size(); ++i) {
    if (read[i]) out.push_back(FactId(static_cast<uint32_t>(i)));
  }
  return out;
}

void AppendFirmDataJson(const Firm& firm, const std::vector<FactId>& facts, const Taxonomy& taxonomy,
                        std::string* out) {
  // proto3 JSON as google::protobuf::util::MessageToJsonString prints a FirmProfile with
  // preserve_proto_field_names: fields in number order, empty strings, maps and lists left out.
  bool first = true;
  auto field = [&](absl::string_view name) {
    out->append(first ? "{\"" : ",\"");
    first = false;
    out->append(name.data(), name.size());
    out->append("\":");
  };
  auto text_field = [&](absl::string_view name, absl::string_view value) {
    if (value.empty()) return;
    field(name);
    AppendJsonString(out, value);
  };
  // The credit code and the name are the grant's own columns: not repeated here.
  text_field("region", firm.region);
  text_field("industry", firm.industry);
  if (firm.founded) text_field("founded", FormatDate(*firm.founded));
  bool any_fact = false;
  for (FactId f : facts) {
    if (f.value >= firm.facts.size() || !firm.facts[f.value]) continue;
    if (!any_fact) field("facts");
    out->push_back(any_fact ? ',' : '{');
    any_fact = true;
    AppendJsonString(out, taxonomy.fact(f).id);
    out->push_back(':');
    AppendJsonString(out, firm.facts[f.value]->ToString());
  }
  if (any_fact) out->push_back('}');
  bool any_tag = false;
  for (const TagGrantRecord& r : firm.tags) {
    if (!any_tag) field("tags");
    out->push_back(any_tag ? ',' : '[');
    any_tag = true;
    out->append("{\"id\":");
    AppendJsonString(out, taxonomy.tag(r.tag).id);
    if (r.valid_from) {
      out->append(",\"valid_from\":");
      AppendJsonString(out, FormatDate(*r.valid_from));
    }
    if (r.valid_to) {
      out->append(",\"valid_to\":");
      AppendJsonString(out, FormatDate(*r.valid_to));
    }
    if (!r.source.empty()) {
      out->append(",\"source\":");
      AppendJsonString(out, r.source);
    }
    out->push_back('}');
  }
  if (any_tag) out->push_back(']');
  out->append(first ? "{}" : "}");
}

std::string FirmDataJson(const Firm& firm, const CompiledPolicy& policy, const Taxonomy& taxonomy) {
  std::string out;
  AppendFirmDataJson(firm, FactsRead(policy), taxonomy, &out);
  return out;
}

}  // namespace polmatch
