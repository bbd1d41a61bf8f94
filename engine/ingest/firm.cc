#include "engine/ingest/firm.h"

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/ingest/firm_sources.h"
#include "engine/ingest/credit_code.h"
#include "engine/util/dates.h"
#include "engine/util/status_macros.h"

namespace polmatch {
namespace {

absl::Status Annotate(const absl::Status& s, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", s.message()));
}

// A name or source must not carry control characters (a raw NUL would end up in grants.csv);
// tab and line breaks are allowed (a CSV cell may hold them, quoted).
absl::Status CheckText(absl::string_view text, absl::string_view what) {
  int character = 0;
  for (const char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) != 0x80) ++character;
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: control character U+%04X at character %d", what, c, character));
    }
  }
  return absl::OkStatus();
}

// Why a fact value that is not a plain decimal was refused, when it is in exponent notation.
std::string ExponentReason(absl::string_view key, absl::string_view text) {
  std::string expanded;
  switch (ingest_internal::ExpandJsonExponent(text, &expanded)) {
    case ingest_internal::ExponentForm::kOutOfRange:
      return absl::StrCat("fact ", key, ": ", text, " is out of range (|x| ≤ 9e12)");
    case ingest_internal::ExponentForm::kTooPrecise:
      return absl::StrCat("fact ", key, ": ", text,
                          " has more than 6 fractional digits, which cannot be held exactly");
    case ingest_internal::ExponentForm::kExpanded:
      return absl::StrCat("fact ", key, ": \"", text,
                          "\" is exponent notation, read only as a JSON number (a spreadsheet "
                          "writes large numbers so, rounded: format the column as a number)");
    case ingest_internal::ExponentForm::kNotExponent:
      break;
  }
  return "";
}

// `source_record`: a record of a firm source (FirmFromRecord), which may be partial and whose
// counts must not be negative.
absl::StatusOr<Firm> Convert(const FirmProfile& p, const Taxonomy& tax, bool source_record) {
  Firm f;
  RETURN_IF_ERROR(ValidateCreditCode(p.credit_code()));
  f.credit_code = p.credit_code();
  RETURN_IF_ERROR(CheckText(p.name(), "name"));
  f.name = p.name();
  if (!(source_record && p.region().empty()) && !tax.IsValidRegion(p.region())) {
    return absl::InvalidArgumentError(
        p.region().empty() ? "missing region"
                           : absl::StrCat("region \"", p.region(), "\" is not a GB/T 2260 code"));
  }
  f.region = p.region();
  if (!p.industry().empty() && !tax.IsValidIndustry(p.industry())) {
    return absl::InvalidArgumentError(
        absl::StrCat("industry \"", p.industry(), "\" is not a GB/T 4754-2017 code"));
  }
  f.industry = p.industry();
  if (!p.founded().empty()) {
    absl::StatusOr<absl::CivilDay> d = ParseDate(p.founded());
    if (!d.ok()) return Annotate(d.status(), "founded");
    f.founded = *d;
  }
  f.facts.assign(tax.num_facts(), std::nullopt);
  // Map iteration order is unspecified; visit keys in order so the first problem reported, and
  // which of two names of one fact is named in the error, are deterministic.
  using FactEntry = google::protobuf::MapPair<std::string, std::string>;
  std::vector<const FactEntry*> entries;
  entries.reserve(p.facts().size());
  for (const FactEntry& entry : p.facts()) entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(),
            [](const FactEntry* a, const FactEntry* b) { return a->first < b->first; });
  std::vector<const std::string*> given_as(tax.num_facts(), nullptr);
  for (const FactEntry* entry : entries) {
    const std::string& key = entry->first;
    std::optional<FactId> id = tax.FindFact(key);
    if (!id) return absl::InvalidArgumentError(absl::StrCat("unknown fact id \"", key, "\""));
    // An id and its Chinese name (or two aliases) in one record: which value is meant?
    if (given_as[id->value] != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("fact \"", *given_as[id->value],
                                                     "\" is given twice (also as \"", key,
                                                     "\")"));
    }
    given_as[id->value] = &key;
    const std::string& text = entry->second;
    if (text.empty()) continue;  // empty = unknown
    absl::StatusOr<Decimal> value = Decimal::Parse(text);
    if (!value.ok()) {
      const std::string exponent = ExponentReason(key, text);
      if (!exponent.empty()) return absl::InvalidArgumentError(exponent);
      return Annotate(value.status(), absl::StrCat("fact ", key));
    }
    const Unit unit = tax.fact(*id).unit;
    if (source_record && value->is_negative() && (unit == PERSONS || unit == COUNT)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "fact ", key, ": ", text, " is negative, but it counts ",
          unit == PERSONS ? "persons" : "items"));
    }
    f.facts[id->value] = *value;
  }
  for (const TagGrant& g : p.tags()) {
    std::optional<TagId> id = tax.FindTag(g.id());
    if (!id) return absl::InvalidArgumentError(absl::StrCat("unknown tag id \"", g.id(), "\""));
    TagGrantRecord r;
    r.tag = *id;
    RETURN_IF_ERROR(CheckText(g.source(), absl::StrCat("tag ", g.id(), " source")));
    r.source = g.source();
    if (!g.valid_from().empty()) {
      absl::StatusOr<absl::CivilDay> d = ParseDate(g.valid_from());
      if (!d.ok()) return Annotate(d.status(), absl::StrCat("tag ", g.id(), " valid_from"));
      r.valid_from = *d;
    }
    if (!g.valid_to().empty()) {
      absl::StatusOr<absl::CivilDay> d = ParseDate(g.valid_to());
      if (!d.ok()) return Annotate(d.status(), absl::StrCat("tag ", g.id(), " valid_to"));
      r.valid_to = *d;
    }
    if (r.valid_from && r.valid_to && *r.valid_to < *r.valid_from) {
      return absl::InvalidArgumentError(
          absl::StrCat("tag ", g.id(), ": valid_to is before valid_from"));
    }
    f.tags.push_back(std::move(r));
  }
  return f;
}

}  // namespace

absl::StatusOr<Firm> FirmFromProfile(const FirmProfile& p, const Taxonomy& tax) {
  return Convert(p, tax, /*source_record=*/false);
}

absl::StatusOr<Firm> FirmFromRecord(const FirmProfile& p, const Taxonomy& tax) {
  return Convert(p, tax, /*source_record=*/true);
}

FirmProfile FirmToProfile(const Firm& f, const Taxonomy& tax) {
  FirmProfile p;
  p.set_credit_code(f.credit_code);
  p.set_name(f.name);
  p.set_region(f.region);
  p.set_industry(f.industry);
  if (f.founded) p.set_founded(FormatDate(*f.founded));
  for (size_t i = 0; i < f.facts.size(); ++i) {
    if (f.facts[i]) (*p.mutable_facts())[tax.fact(FactId(i)).id] = f.facts[i]->ToString();
  }
  for (const TagGrantRecord& r : f.tags) {
    TagGrant* g = p.add_tags();
    g->set_id(tax.tag(r.tag).id);
    if (r.valid_from) g->set_valid_from(FormatDate(*r.valid_from));
    if (r.valid_to) g->set_valid_to(FormatDate(*r.valid_to));
    g->set_source(r.source);
  }
  return p;
}

const TagGrantRecord* FirmView::HoldingGrant(TagId id) const {
  const TagGrantRecord* best = nullptr;
  const auto& descendants = tax_.tag(id).descendants;
  for (const TagGrantRecord& g : firm_.tags) {
    if (!g.HeldOn(as_of_)) continue;
    if (std::find(descendants.begin(), descendants.end(), g.tag) == descendants.end()) continue;
    if (best == nullptr) {
      best = &g;
      continue;
    }
    // Ends later (open = latest) wins; then starts earlier (open = earliest).
    const bool g_open_end = !g.valid_to, b_open_end = !best->valid_to;
    if (g_open_end != b_open_end) {
      if (g_open_end) best = &g;
      continue;
    }
    if (!g_open_end && *g.valid_to != *best->valid_to) {
      if (*g.valid_to > *best->valid_to) best = &g;
      continue;
    }
    const bool g_open_start = !g.valid_from, b_open_start = !best->valid_from;
    if (g_open_start != b_open_start) {
      if (g_open_start) best = &g;
      continue;
    }
    if (!g_open_start && *g.valid_from < *best->valid_from) best = &g;
  }
  return best;
}

std::optional<absl::CivilDay> FirmView::TagValidFrom(TagId id) const {
  const TagGrantRecord* g = HoldingGrant(id);
  return g ? g->valid_from : std::nullopt;
}

std::optional<absl::CivilDay> FirmView::TagValidTo(TagId id) const {
  const TagGrantRecord* g = HoldingGrant(id);
  return g ? g->valid_to : std::nullopt;
}

}  // namespace polmatch
