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

std::string NoneAccepted(const IngestStats& stats) {
  if (stats.accepted > 0) return "";
  if (stats.records == 0) return "no firm record accepted: the firm data holds no records";
  return absl::StrCat("no firm record accepted: all ", stats.records,
                      " records were rejected (see the reasons above)");
}

namespace ingest_internal {

absl::Status ReadRecords(std::istream& in, const std::string& name, FirmFormat format,
                         InputEncoding encoding, const Taxonomy& taxonomy, const RecordSink& sink,
                         std::vector<Rejection>* rejects, IngestStats* stats,
                         const RecordOwner& owner) {
  LineReader lines(in, encoding);
  if (format == FirmFormat::kAuto) format = FormatByExtension(name);
  if (format == FirmFormat::kAuto) format = SniffFormat(lines);
  IngestTally tally(name, rejects, stats, owner ? &owner : nullptr);
  absl::Status status = format == FirmFormat::kCsv
                            ? ReadCsv(lines, tally, taxonomy, sink)
                            : ReadJsonLines(lines, tally, taxonomy, sink);
  if (lines.gb18030_line() != 0) return Gb18030Refusal(name, lines.gb18030_line());
  if (absl::IsDataLoss(status)) {
    return absl::DataLossError(absl::StrCat(name, ": ", status.message()));
  }
  return status;
}

}  // namespace ingest_internal

std::optional<InputEncoding> ParseInputEncoding(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "utf-8" || lower == "utf8") return InputEncoding::kUtf8;
  if (lower == "gb18030" || lower == "gbk" || lower == "gb2312") return InputEncoding::kGb18030;
  return std::nullopt;
}

absl::Status ReadFirms(std::istream& in, const std::string& name, FirmFormat format,
                       const Taxonomy& taxonomy, const FirmSink& sink,
                       std::vector<Rejection>* rejects, IngestStats* stats,
                       InputEncoding encoding) {
  return ingest_internal::ReadRecords(
      in, name, format, encoding, taxonomy,
      [&](Firm&& firm, int line) {
        sink(std::move(firm), line);
        return absl::OkStatus();
      },
      rejects, stats);
}

namespace {

// Opens a firm file for reading; errors as ReadFirms words them.
absl::Status OpenFirmFile(const std::string& path, std::ifstream* in) {
  // A FIFO, a device or a directory is refused, never read (it would hang or never end).
  if (absl::Status regular = CheckRegularFile(path); !regular.ok()) return regular;
  errno = 0;
  in->open(path, std::ios::in | std::ios::binary);
  if (!in->is_open()) return OpenError(path, errno != 0 ? errno : ENOENT);
  return absl::OkStatus();
}

}  // namespace

absl::Status ingest_internal::ReadRecordsFromFile(const std::string& path, FirmFormat format,
                                                  InputEncoding encoding,
                                                  const Taxonomy& taxonomy,
                                                  const RecordSink& sink,
                                                  std::vector<Rejection>* rejects,
                                                  IngestStats* stats, const RecordOwner& owner) {
  std::ifstream in;
  RETURN_IF_ERROR(OpenFirmFile(path, &in));
  return ReadRecords(in, path, format, encoding, taxonomy, sink, rejects, stats, owner);
}

absl::Status ReadFirms(const std::string& path, FirmFormat format, const Taxonomy& taxonomy,
                       const FirmSink& sink, std::vector<Rejection>* rejects,
                       IngestStats* stats, InputEncoding encoding) {
  std::ifstream in;
  RETURN_IF_ERROR(OpenFirmFile(path, &in));
  return ReadFirms(in, path, format, taxonomy, sink, rejects, stats, encoding);
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
                                            IngestStats* stats, InputEncoding encoding) {
  std::vector<Firm> firms;
  // Where each firm is, and the file (its index in `paths`) and line that last gave a record of it.
  struct Seen {
    size_t position;
    size_t file;
    int line;
  };
  absl::flat_hash_map<CreditCodeKey, Seen> index;
  size_t file = 0;
  const ingest_internal::RecordSink sink = [&](Firm&& firm, int line) -> absl::Status {
    const CreditCodeKey key = KeyOf(firm.credit_code);
    auto it = index.find(key);
    if (it == index.end()) {
      if (firm.partial()) return absl::InvalidArgumentError(ingest_internal::kNoBaseRecord);
      index.emplace(key, Seen{firms.size(), file, line});
      firms.push_back(std::move(firm));
      return absl::OkStatus();
    }
    if (it->second.file == file) {
      return absl::InvalidArgumentError(ingest_internal::DuplicateCode(it->second.line));
    }
    it->second.file = file;
    it->second.line = line;
    MergeFirm(&firms[it->second.position], std::move(firm));
    if (stats != nullptr) ++stats->merged;
    return absl::OkStatus();
  };
  for (; file < paths.size(); ++file) {
    RETURN_IF_ERROR(ingest_internal::ReadRecordsFromFile(paths[file], FirmFormat::kAuto, encoding,
                                                         taxonomy, sink, rejects, stats));
  }
  // Sorting the keys (inline bytes) and moving each firm once is several times faster than
  // sorting the firms by their heap-allocated code strings.
  std::vector<std::pair<CreditCodeKey, size_t>> order;
  order.reserve(index.size());
  for (const auto& [key, seen] : index) order.emplace_back(key, seen.position);
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
