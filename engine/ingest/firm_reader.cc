#include "engine/ingest/firm_reader.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/ingest/csv_reader.h"
#include "engine/ingest/firm_sources.h"
#include "engine/ingest/jsonl_reader.h"
#include "engine/util/input_file.h"
#include "engine/util/status_macros.h"

namespace polmatch {
namespace {

using ingest_internal::IngestTally;
using ingest_internal::LineReader;

// JSON Lines if the first non-blank byte is '{', else CSV. Leading blank lines are consumed (both
// readers skip them); the first non-blank line is left to be read again.
FirmFormat SniffFormat(LineReader& lines) {
  absl::string_view line;
  while (lines.Next(&line)) {
    if (ingest_internal::IsBlank(line)) continue;
    lines.Unread();
    return line[line.find_first_not_of(" \t\r")] == '{' ? FirmFormat::kJsonLines
                                                         : FirmFormat::kCsv;
  }
  return FirmFormat::kCsv;
}

absl::Status OpenError(const std::string& path, int error) {
  const std::string message = absl::StrCat(path, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::UnavailableError(message);
  }
}

bool SameGrant(const TagGrantRecord& a, const TagGrantRecord& b) {
  return a.tag == b.tag && a.valid_from == b.valid_from && a.valid_to == b.valid_to &&
         a.source == b.source;
}

// Credit codes are validated to 18 characters; a fixed-size key avoids a heap string per firm.
using CreditCodeKey = std::array<char, 18>;

CreditCodeKey KeyOf(const std::string& code) {
  CreditCodeKey key{};
  std::memcpy(key.data(), code.data(), std::min(code.size(), key.size()));
  return key;
}

}  // namespace

FirmFormat FormatByExtension(absl::string_view name) {
  const size_t dot = name.rfind('.');
  const size_t slash = name.rfind('/');
  if (dot == absl::string_view::npos || (slash != absl::string_view::npos && dot < slash)) {
    return FirmFormat::kAuto;
  }
  const std::string ext = absl::AsciiStrToLower(name.substr(dot + 1));
  if (ext == "jsonl" || ext == "ndjson" || ext == "json") return FirmFormat::kJsonLines;
  if (ext == "csv") return FirmFormat::kCsv;
  return FirmFormat::kAuto;
}

std::string Rejection::ToString() const { return absl::StrCat(file, ":", line, ": ", reason); }

absl::Status ReadFirms(std::istream& in, const std::string& name, FirmFormat format,
                       const Taxonomy& taxonomy, const FirmSink& sink,
                       std::vector<Rejection>* rejects, IngestStats* stats) {
  LineReader lines(in);
  if (format == FirmFormat::kAuto) format = FormatByExtension(name);
  if (format == FirmFormat::kAuto) format = SniffFormat(lines);
  IngestTally tally(name, rejects, stats);
  absl::Status status = format == FirmFormat::kCsv
                            ? ingest_internal::ReadCsv(lines, tally, taxonomy, sink)
                            : ingest_internal::ReadJsonLines(lines, tally, taxonomy, sink);
  if (absl::IsDataLoss(status)) {
    return absl::DataLossError(absl::StrCat(name, ": ", status.message()));
  }
  return status;
}

absl::Status ReadFirms(const std::string& path, FirmFormat format, const Taxonomy& taxonomy,
                       const FirmSink& sink, std::vector<Rejection>* rejects,
                       IngestStats* stats) {
  // A FIFO, a device or a directory is refused, never read (it would hang or never end).
  if (absl::Status regular = CheckRegularFile(path); !regular.ok()) return regular;
  errno = 0;
  std::ifstream in(path, std::ios::in | std::ios::binary);
  if (!in.is_open()) return OpenError(path, errno != 0 ? errno : ENOENT);
  return ReadFirms(in, path, format, taxonomy, sink, rejects, stats);
}

void MergeFirm(Firm* into, Firm&& later) {
  if (!later.name.empty()) into->name = std::move(later.name);
  if (!later.region.empty()) into->region = std::move(later.region);
  if (!later.industry.empty()) into->industry = std::move(later.industry);
  if (later.founded) into->founded = later.founded;
  if (into->facts.size() < later.facts.size()) into->facts.resize(later.facts.size());
  for (size_t i = 0; i < later.facts.size(); ++i) {
    if (later.facts[i]) into->facts[i] = later.facts[i];
  }
  for (TagGrantRecord& grant : later.tags) {
    const bool held = std::any_of(into->tags.begin(), into->tags.end(),
                                  [&](const TagGrantRecord& g) { return SameGrant(g, grant); });
    if (!held) into->tags.push_back(std::move(grant));
  }
}

absl::StatusOr<std::vector<Firm>> LoadFirms(const std::vector<std::string>& paths,
                                            const Taxonomy& taxonomy,
                                            std::vector<Rejection>* rejects,
                                            IngestStats* stats) {
  std::vector<Firm> firms;
  absl::flat_hash_map<CreditCodeKey, size_t> index;  // credit code → position in `firms`
  const FirmSink sink = [&](Firm&& firm, int /*line*/) {
    auto [it, inserted] = index.try_emplace(KeyOf(firm.credit_code), firms.size());
    if (inserted) {
      firms.push_back(std::move(firm));
      return;
    }
    MergeFirm(&firms[it->second], std::move(firm));
    if (stats != nullptr) ++stats->merged;
  };
  for (const std::string& path : paths) {
    RETURN_IF_ERROR(ReadFirms(path, FirmFormat::kAuto, taxonomy, sink, rejects, stats));
  }
  // Sorting the keys (inline bytes) and moving each firm once is several times faster than
  // sorting the firms by their heap-allocated code strings.
  std::vector<std::pair<CreditCodeKey, size_t>> order(index.begin(), index.end());
  index.clear();
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return std::memcmp(a.first.data(), b.first.data(), a.first.size()) < 0;
  });
  std::vector<Firm> sorted;
  sorted.reserve(firms.size());
  for (const auto& [key, position] : order) sorted.push_back(std::move(firms[position]));
  return sorted;
}

}  // namespace polmatch
