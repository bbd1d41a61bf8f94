#include "engine/ledger/kept_rules.h"

#include <openssl/evp.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/util/status_macros.h"
#include "engine/util/textproto.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"

namespace polmatch {
namespace {

void CollectFacts(const Node& node, std::vector<bool>* facts) {
  if (node.kind == NodeKind::kFact && node.fact.value < facts->size()) {
    (*facts)[node.fact.value] = true;
  }
  for (const auto& child : node.children) CollectFacts(*child, facts);
}

constexpr char kTaxonomyKinds[3][11] = {"tags", "regions", "industries"};

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

std::string FirmDataJson(const Firm& firm, const CompiledPolicy& policy, const Taxonomy& taxonomy) {
  std::vector<bool> read(firm.facts.size(), false);
  for (const Node* n : {policy.eligibility.get(), policy.benefit.get()}) {
    if (n != nullptr) CollectFacts(*n, &read);
  }
  Firm kept = firm;
  for (size_t i = 0; i < kept.facts.size(); ++i) {
    if (!read[i]) kept.facts[i].reset();
  }
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(FirmToProfile(kept, taxonomy), &out, opts);
  return out;
}

}  // namespace polmatch
