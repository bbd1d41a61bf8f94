#include "engine/output/night_shard.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <queue>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/match/reference.h"
#include "engine/match/semantics.h"
#include "engine/output/push_texts.h"
#include "engine/util/amounts.h"
#include "engine/util/byte_codec.h"
#include "engine/util/framing.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace polmatch {
namespace {

constexpr size_t kCodeLen = NightResult::kCodeLen;
constexpr size_t kRegionLen = 6;
constexpr char kManifestMagic[8] = {'P', 'M', 'S', 'H', 'A', 'R', 'D', '\n'};
constexpr absl::string_view kManifestCorrupt = "shard manifest is corrupt";
constexpr char kSelectionMagic[8] = {'P', 'M', 'S', 'E', 'L', 'E', 'C', '\n'};
constexpr absl::string_view kSelectionCorrupt = "shard selection is corrupt";

// Passes bytes on, counting and checksumming them.
class SummingSink : public ByteSink {
 public:
  explicit SummingSink(ByteSink* next) : next_(next) {}
  absl::Status Write(absl::string_view bytes) override {
    sum_.Update(bytes);
    size_ += bytes.size();
    return next_->Write(bytes);
  }
  ShardFileSum Sum(std::string name) const { return {std::move(name), size_, sum_.Finish()}; }

 private:
  ByteSink* next_;
  Checksum64Stream sum_;
  uint64_t size_ = 0;
};

// Cuts what it is given into whole lines (with their '\n') and hands each to `line`.
class LineSplittingSink : public ByteSink {
 public:
  explicit LineSplittingSink(std::function<absl::Status(absl::string_view)> line) : line_(std::move(line)) {}
  absl::Status Write(absl::string_view bytes) override {
    while (!bytes.empty()) {
      const size_t nl = bytes.find('\n');
      if (nl == absl::string_view::npos) {
        partial_.append(bytes.data(), bytes.size());
        return absl::OkStatus();
      }
      absl::Status s;
      if (partial_.empty()) {
        s = line_(bytes.substr(0, nl + 1));
      } else {
        partial_.append(bytes.data(), nl + 1);
        s = line_(partial_);
        partial_.clear();
      }
      if (!s.ok()) return s;
      bytes.remove_prefix(nl + 1);
    }
    return absl::OkStatus();
  }

 private:
  std::function<absl::Status(absl::string_view)> line_;
  std::string partial_;
};

// The (credit code, policy id) of a pushes.jsonl line: {"credit_code":"…","policy":"…",…
bool PushKey(absl::string_view line, absl::string_view* code, absl::string_view* policy) {
  constexpr absl::string_view kHead = "{\"credit_code\":\"";
  constexpr absl::string_view kMid = "\",\"policy\":\"";
  if (line.size() < kHead.size() + kCodeLen + kMid.size() || line.substr(0, kHead.size()) != kHead ||
      line.substr(kHead.size() + kCodeLen, kMid.size()) != kMid) {
    return false;
  }
  *code = line.substr(kHead.size(), kCodeLen);
  const size_t at = kHead.size() + kCodeLen + kMid.size();
  const size_t end = line.find('"', at);
  if (end == absl::string_view::npos) return false;
  *policy = line.substr(at, end - at);  // ids are [a-z0-9._-]+: never escaped
  return true;
}
// The (policy id, credit code) of a grants.csv / lists.csv row: policy_id,credit_code,…
bool RowKey(absl::string_view line, absl::string_view* policy, absl::string_view* code) {
  const size_t comma = line.find(',');
  if (comma == absl::string_view::npos || line.size() < comma + 1 + kCodeLen) return false;
  *policy = line.substr(0, comma);  // never quoted ([a-z0-9._-]+)
  *code = line.substr(comma + 1, kCodeLen);
  return true;
}

std::string PairKey(absl::string_view code, absl::string_view policy) { return absl::StrCat(code, policy); }

}  // namespace

std::string ShardSpec::ToString() const { return absl::StrCat(index, "/", count); }

uint64_t ShardHash(absl::string_view credit_code) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : credit_code) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

absl::StatusOr<ShardSpec> ParseShardSpec(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, '/');
  uint32_t k = 0, n = 0;
  auto digits = [](absl::string_view s) {
    return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (parts.size() != 2 || !digits(parts[0]) || !digits(parts[1]) || !absl::SimpleAtoi(parts[0], &k) ||
      !absl::SimpleAtoi(parts[1], &n)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not K/N (shard K of N, e.g. 0/4)"));
  }
  if (n < 1 || n > kMaxShards) {
    return absl::InvalidArgumentError(absl::StrCat("N must be 1 to ", kMaxShards, ", not ", n));
  }
  if (k >= n) {
    return absl::InvalidArgumentError(
        absl::StrCat("K must be 0 to ", n - 1, " (shards are numbered from 0), not ", k));
  }
  return ShardSpec{k, n};
}

absl::StatusOr<FirmStore> SelectShard(FirmStore&& store, ShardSpec shard) {
  std::vector<uint32_t> rows;
  std::vector<uint64_t> per_shard(shard.count, 0);
  for (uint32_t row = 0; row < store.num_rows(); ++row) {
    const uint32_t s = ShardOf(store.credit_code(row), shard.count);
    ++per_shard[s];
    if (s == shard.index) rows.push_back(row);
  }
  if (rows.size() == store.num_rows()) return std::move(store);
  if (rows.empty()) {
    for (uint32_t s = 0; s < shard.count; ++s) {
      if (per_shard[s] == store.num_rows()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the snapshot holds only the firms of shard ", ShardSpec{s, shard.count}.ToString(), ", not of ",
            shard.ToString(), " (give the whole snapshot or this shard's own)"));
      }
    }
  }
  // The shard's rows copied column by column: the store `index --shard` builds from its firms.
  const FirmStore whole = std::move(store);
  return whole.SelectRows(rows);
}

std::vector<Firm> SelectShard(std::vector<Firm>&& firms, ShardSpec shard) {
  std::vector<Firm> out;
  for (Firm& f : firms) {
    if (ShardOf(f.credit_code, shard.count) == shard.index) out.push_back(std::move(f));
  }
  return out;
}

NightResult NightOfShard(NightResult&& night, ShardSpec shard) {
  const uint32_t n = night.num_firms();
  constexpr uint32_t kOut = UINT32_MAX;
  std::vector<uint32_t> renumber(n, kOut);
  uint32_t kept = 0;
  for (uint32_t f = 0; f < n; ++f) {
    if (ShardOf(night.code(f), shard.count) == shard.index) renumber[f] = kept++;
  }
  if (kept == n) return std::move(night);
  NightResult out;
  out.as_of = night.as_of;
  out.codes.reserve(size_t{kept} * kCodeLen);
  for (uint32_t f = 0; f < n; ++f) {
    if (renumber[f] == kOut) continue;
    out.codes.append(night.code(f).data(), kCodeLen);
    if (f < night.names.size()) out.names.push_back(night.names[f]);
  }
  for (uint32_t f : night.code_order) {
    if (renumber[f] != kOut) out.code_order.push_back(renumber[f]);
  }
  std::vector<uint32_t> ids;
  for (PolicyNight& p : night.policies) {
    PolicyNight q;
    q.id = p.id;
    q.auto_grant = p.auto_grant;
    q.in_force = p.in_force;
    q.listed = p.listed;
    q.benefit_note = p.benefit_note;
    for (MatchStatus s : kKeptStatuses) {
      ids.clear();
      for (uint32_t f : p.by_status[s]) {
        if (renumber[f] != kOut) ids.push_back(renumber[f]);
      }
      q.by_status[s] = Roaring(ids.size(), ids.data());
      q.by_status[s].runOptimize();
    }
    for (const auto& [f, raw] : p.benefits) {
      if (renumber[f] != kOut) q.benefits.emplace_back(renumber[f], raw);
    }
    out.policies.push_back(std::move(q));
    p = PolicyNight();
  }
  return out;
}

const OutputDirKind& ShardNightDirKind() {
  static const OutputDirKind* const kind = new OutputDirKind{
      "polmatch shard night directory",
      {"summary.json", "grants.csv", "lists.csv", "pushes.jsonl", "state.pmstate", kShardManifestFile,
       kShardSelectionFile},
      kShardManifestFile};
  return *kind;
}

std::string RulesDigest(const Catalog& catalog) {
  Checksum64Stream sum;
  const Taxonomy& t = catalog.taxonomy();
  for (int f = 0; f < t.num_facts(); ++f) sum.Update(absl::StrCat("fact ", t.fact(FactId(f)).id, "\n"));
  for (int g = 0; g < t.num_tags(); ++g) sum.Update(absl::StrCat("tag ", t.tag(TagId(g)).id, "\n"));
  for (const CompiledPolicy& p : catalog.policies()) {
    std::string bytes;
    {
      google::protobuf::io::StringOutputStream stream(&bytes);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      p.policy.SerializeToCodedStream(&coded);
    }
    sum.Update(absl::StrCat("policy ", bytes.size(), "\n"));
    sum.Update(bytes);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(sum.Finish()));
  return hex;
}

// ---- the manifest -------------------------------------------------------------------------------

std::string SerializeShardManifest(const ShardManifest& m) {
  std::string out(kManifestMagic, sizeof kManifestMagic);
  PutBytesOf<uint32_t>(&out, ShardManifest::kVersion);
  PutLengthPrefixed(&out, m.as_of);
  PutLengthPrefixed(&out, m.rules_digest);
  PutBytesOf<uint32_t>(&out, m.shard.index);
  PutBytesOf<uint32_t>(&out, m.shard.count);
  PutBytesOf<uint8_t>(&out, m.pushes ? 1 : 0);
  PutBytesOf<uint32_t>(&out, m.num_firms);
  out.append(m.regions);
  PutBytesOf<uint32_t>(&out, static_cast<uint32_t>(m.policies.size()));
  for (const ShardPolicyCounts& p : m.policies) {
    PutLengthPrefixed(&out, p.id);
    PutBytesOf<uint8_t>(&out, p.auto_grant ? 1 : 0);
    for (int64_t c : {p.eligible, p.undetermined, p.near_miss, p.excluded, p.not_selected}) PutBytesOf<int64_t>(&out, c);
    PutBytesOf<uint64_t>(&out, static_cast<uint64_t>(static_cast<unsigned __int128>(p.benefit_total_raw)));
    PutBytesOf<uint64_t>(&out, static_cast<uint64_t>(static_cast<unsigned __int128>(p.benefit_total_raw) >> 64));
  }
  PutBytesOf<uint32_t>(&out, static_cast<uint32_t>(m.limits.size()));
  for (const ShardLimit& l : m.limits) {
    PutBytesOf<uint32_t>(&out, l.policy);
    PutBytesOf<uint32_t>(&out, l.limit);
    PutBytesOf<uint32_t>(&out, static_cast<uint32_t>(l.candidates.size()));
    for (const ShardCandidate& c : l.candidates) {
      out.append(c.code.data(), kCodeLen);
      PutBytesOf<uint32_t>(&out, c.firm);
      PutBytesOf<uint8_t>(&out, c.rank_known ? 1 : 0);
      PutBytesOf<int64_t>(&out, c.rank_raw);
      PutBytesOf<uint8_t>(&out, c.benefit_known ? 1 : 0);
      PutBytesOf<int64_t>(&out, c.benefit_raw);
      PutBytesOf<uint8_t>(&out, c.row_file);
      PutLengthPrefixed(&out, c.row);
      PutLengthPrefixed(&out, c.push_selected);
      PutLengthPrefixed(&out, c.push_not_selected);
    }
  }
  PutBytesOf<uint32_t>(&out, static_cast<uint32_t>(m.files.size()));
  for (const ShardFileSum& f : m.files) {
    PutLengthPrefixed(&out, f.name);
    PutBytesOf<uint64_t>(&out, f.size);
    PutBytesOf<uint64_t>(&out, f.checksum);
  }
  AppendChecksum(&out);
  return out;
}

absl::StatusOr<ShardManifest> ParseShardManifest(absl::string_view bytes) {
  absl::StatusOr<absl::string_view> body =
      VerifyFrame(bytes, absl::string_view(kManifestMagic, sizeof kManifestMagic), "shard manifest", kManifestCorrupt);
  if (!body.ok()) return body.status();
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(kManifestCorrupt, ": ", why));
  };
  ByteReader in(*body);
  ShardManifest m;
  uint32_t version;
  if (!in.Get(&version)) return corrupt("truncated header");
  if (version != ShardManifest::kVersion) {
    return absl::FailedPreconditionError(absl::StrCat("shard manifest version ", version,
                                                      " is not supported (want ", ShardManifest::kVersion, ")"));
  }
  uint8_t pushes;
  if (!in.GetString(&m.as_of, 64) || !in.GetString(&m.rules_digest, 64) || !in.Get(&m.shard.index) ||
      !in.Get(&m.shard.count) || !in.Get(&pushes) || !in.Get(&m.num_firms)) {
    return corrupt("truncated header");
  }
  if (m.shard.count < 1 || m.shard.count > kMaxShards || m.shard.index >= m.shard.count) {
    return corrupt("bad shard number");
  }
  m.pushes = pushes != 0;
  if (static_cast<uint64_t>(m.num_firms) * kRegionLen > in.remaining()) return corrupt("truncated regions");
  m.regions.resize(size_t{m.num_firms} * kRegionLen);
  for (char& c : m.regions) in.Get(&c);
  uint32_t npolicies;
  if (!in.Get(&npolicies) || npolicies > in.remaining() / 61) return corrupt("truncated policies");
  m.policies.resize(npolicies);
  for (ShardPolicyCounts& p : m.policies) {
    uint8_t ag;
    uint64_t lo, hi;
    if (!in.GetString(&p.id, 4096) || !in.Get(&ag) || !in.Get(&p.eligible) || !in.Get(&p.undetermined) ||
        !in.Get(&p.near_miss) || !in.Get(&p.excluded) || !in.Get(&p.not_selected) || !in.Get(&lo) ||
        !in.Get(&hi)) {
      return corrupt("truncated policy");
    }
    p.auto_grant = ag != 0;
    p.benefit_total_raw = static_cast<__int128>((static_cast<unsigned __int128>(hi) << 64) | lo);
  }
  uint32_t nlimits;
  if (!in.Get(&nlimits) || nlimits > npolicies) return corrupt("bad limit count");
  m.limits.resize(nlimits);
  for (ShardLimit& l : m.limits) {
    uint32_t ncand;
    if (!in.Get(&l.policy) || !in.Get(&l.limit) || !in.Get(&ncand)) return corrupt("truncated limit");
    if (l.policy >= npolicies) return corrupt("limit of an unknown policy");
    // A candidate takes at least 53 bytes (code, id, rank, benefit, file, three empty strings).
    if (ncand > l.limit || ncand > in.remaining() / 53) return corrupt("bad candidate count");
    l.candidates.resize(ncand);
    for (ShardCandidate& c : l.candidates) {
      c.code.resize(kCodeLen);
      uint8_t rk, bk;
      for (char& ch : c.code) {
        if (!in.Get(&ch)) return corrupt("truncated candidate");
      }
      if (!in.Get(&c.firm) || !in.Get(&rk) || !in.Get(&c.rank_raw) || !in.Get(&bk) || !in.Get(&c.benefit_raw) ||
          !in.Get(&c.row_file) || !in.GetString(&c.row) || !in.GetString(&c.push_selected) ||
          !in.GetString(&c.push_not_selected)) {
        return corrupt("truncated candidate");
      }
      if (c.firm >= m.num_firms || c.row_file > 2) return corrupt("bad candidate");
      c.rank_known = rk != 0;
      c.benefit_known = bk != 0;
    }
    for (size_t i = 1; i < l.candidates.size(); ++i) {
      if (!(l.candidates[i - 1].code < l.candidates[i].code)) return corrupt("candidates out of order");
    }
  }
  uint32_t nfiles;
  if (!in.Get(&nfiles) || nfiles > 16) return corrupt("bad file count");
  m.files.resize(nfiles);
  for (ShardFileSum& f : m.files) {
    if (!in.GetString(&f.name, 256) || !in.Get(&f.size) || !in.Get(&f.checksum)) return corrupt("truncated file list");
  }
  if (in.remaining() != 0) return corrupt("trailing bytes");
  return m;
}

std::string SerializeShardSelection(const ShardSelection& sel) {
  std::string out(kSelectionMagic, sizeof kSelectionMagic);
  PutBytesOf<uint32_t>(&out, ShardSelection::kVersion);
  PutLengthPrefixed(&out, sel.as_of);
  PutLengthPrefixed(&out, sel.rules_digest);
  PutBytesOf<uint32_t>(&out, sel.shard.index);
  PutBytesOf<uint32_t>(&out, sel.shard.count);
  PutBytesOf<uint64_t>(&out, sel.manifest_checksum);
  PutBytesOf<uint32_t>(&out, static_cast<uint32_t>(sel.selected.size()));
  for (const auto& [policy, code] : sel.selected) {
    PutLengthPrefixed(&out, policy);
    out.append(code.data(), kCodeLen);
  }
  AppendChecksum(&out);
  return out;
}

absl::StatusOr<ShardSelection> ParseShardSelection(absl::string_view bytes) {
  absl::StatusOr<absl::string_view> body = VerifyFrame(
      bytes, absl::string_view(kSelectionMagic, sizeof kSelectionMagic), "shard selection", kSelectionCorrupt);
  if (!body.ok()) return body.status();
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(kSelectionCorrupt, ": ", why));
  };
  ByteReader in(*body);
  ShardSelection sel;
  uint32_t version, count;
  if (!in.Get(&version)) return corrupt("truncated header");
  if (version != ShardSelection::kVersion) {
    return absl::FailedPreconditionError(absl::StrCat("shard selection version ", version, " is not supported (want ",
                                                      ShardSelection::kVersion, ")"));
  }
  if (!in.GetString(&sel.as_of, 64) || !in.GetString(&sel.rules_digest, 64) || !in.Get(&sel.shard.index) ||
      !in.Get(&sel.shard.count) || !in.Get(&sel.manifest_checksum) || !in.Get(&count)) {
    return corrupt("truncated header");
  }
  if (sel.shard.count < 1 || sel.shard.count > kMaxShards || sel.shard.index >= sel.shard.count) {
    return corrupt("bad shard number");
  }
  if (count > in.remaining() / (4 + kCodeLen)) return corrupt("bad count");
  sel.selected.resize(count);
  for (auto& [policy, code] : sel.selected) {
    code.resize(kCodeLen);
    if (!in.GetString(&policy, 4096)) return corrupt("truncated entry");
    for (char& c : code) {
      if (!in.Get(&c)) return corrupt("truncated entry");
    }
  }
  for (size_t i = 1; i < sel.selected.size(); ++i) {
    if (!(sel.selected[i - 1] < sel.selected[i])) return corrupt("entries out of order");
  }
  if (in.remaining() != 0) return corrupt("trailing bytes");
  return sel;
}

absl::Status WriteShardSelection(const std::string& dir, const std::string& bytes) {
  const std::string path = dir + "/" + kShardSelectionFile;
  const std::string tmp = absl::StrCat(dir, "/.", kShardSelectionFile, ".tmp-", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::UnavailableError(absl::StrCat(tmp, ": ", std::strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::UnavailableError(absl::StrCat(tmp, ": ", std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(err)));
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

namespace {
absl::StatusOr<std::string> ReadWhole(const std::string& path);
}  // namespace

absl::StatusOr<NightResult> ReadPreviousForShard(const std::string& dir, ShardSpec shard) {
  const std::string state_path = dir + "/state.pmstate";
  absl::StatusOr<std::string> manifest_bytes = ReadWhole(dir + "/" + kShardManifestFile);
  std::optional<ShardManifest> manifest;
  if (manifest_bytes.ok()) {
    absl::StatusOr<ShardManifest> m = ParseShardManifest(*manifest_bytes);
    if (!m.ok()) return absl::DataLossError(absl::StrCat(dir, "/", kShardManifestFile, ": ", m.status().message()));
    if (!(m->shard == shard)) {
      return absl::InvalidArgumentError(absl::StrCat(dir, ": is the night of shard ", m->shard.ToString(),
                                                     ", not of ", shard.ToString()));
    }
    manifest = std::move(*m);
  }
  absl::StatusOr<NightResult> night = ReadStateFile(state_path);
  if (absl::IsNotFound(night.status())) {
    return absl::NotFoundError(absl::StrCat(state_path, ": cannot read the previous run's state"));
  }
  if (!night.ok()) return absl::Status(night.status().code(), absl::StrCat(state_path, ": ", night.status().message()));
  if (!manifest) return NightOfShard(std::move(*night), shard);
  // A shard night: its candidates are NOT_SELECTED in its state; the merge said which were selected.
  const std::string sel_path = dir + "/" + kShardSelectionFile;
  absl::StatusOr<std::string> sel_bytes = ReadWhole(sel_path);
  if (!sel_bytes.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        sel_path, ": missing: this shard night was never merged (give the merged night as --previous, or merge first)"));
  }
  absl::StatusOr<ShardSelection> sel = ParseShardSelection(*sel_bytes);
  if (!sel.ok()) return absl::DataLossError(absl::StrCat(sel_path, ": ", sel.status().message()));
  if (sel->manifest_checksum != Checksum64(*manifest_bytes) || !(sel->shard == shard)) {
    return absl::DataLossError(absl::StrCat(sel_path, ": belongs to another night than ", kShardManifestFile));
  }
  if (night->num_firms() != manifest->num_firms) {
    return absl::DataLossError(absl::StrCat(state_path, ": does not match ", kShardManifestFile));
  }
  for (const auto& [policy, code] : sel->selected) {
    auto p = std::lower_bound(night->policies.begin(), night->policies.end(), policy,
                              [](const PolicyNight& q, const std::string& id) { return q.id < id; });
    auto f = std::lower_bound(night->code_order.begin(), night->code_order.end(), code,
                              [&](uint32_t firm, const std::string& c) { return night->code(firm) < c; });
    if (p == night->policies.end() || p->id != policy || f == night->code_order.end() || night->code(*f) != code ||
        !p->by_status[NOT_SELECTED].contains(*f)) {
      return absl::DataLossError(absl::StrCat(sel_path, ": selects ", code, " for ", policy, ", not a candidate"));
    }
    p->by_status[NOT_SELECTED].remove(*f);
    p->by_status[ELIGIBLE].add(*f);
  }
  return night;
}

// ---- a shard night ----------------------------------------------------------------------------

absl::Status WriteShardNight(NightResult&& night, NightResult* previous, const ShardNightOptions& o,
                             AtomicOutputDir* out) {
  const Catalog& catalog = *o.catalog;
  const FirmStore& store = *o.store;
  ShardManifest m;
  m.as_of = night.as_of;
  m.rules_digest = RulesDigest(catalog);
  m.shard = o.shard;
  m.pushes = o.pushes;
  m.num_firms = night.num_firms();
  m.regions.assign(size_t{m.num_firms} * kRegionLen, '\0');
  for (uint32_t row = 0; row < m.num_firms; ++row) {
    const absl::string_view region = store.region(row);
    std::memcpy(&m.regions[size_t{row} * kRegionLen], region.data(), std::min(region.size(), kRegionLen));
  }

  // The candidates of each limited policy: its local ELIGIBLE firms. `selected` / `unselected`
  // hold the limited policies as selected and not; `night` then counts every candidate
  // NOT_SELECTED.
  const ReferenceMatcher matcher(catalog);
  std::vector<PolicyNight> selected, unselected;
  absl::flat_hash_map<std::string, std::pair<uint32_t, uint32_t>> pair_of;  // code+policy → (limit, candidate)
  for (size_t p = 0; p < catalog.policies().size(); ++p) {
    const CompiledPolicy& cp = catalog.policies()[p];
    if (cp.policy.limit() <= 0) continue;
    PolicyNight& pn = night.policies[p];
    ShardLimit lim;
    lim.policy = static_cast<uint32_t>(p);
    lim.limit = static_cast<uint32_t>(cp.policy.limit());
    for (uint32_t firm : pn.by_status[ELIGIBLE]) {
      ShardCandidate c;
      c.code = std::string(night.code(firm));
      c.firm = firm;
      const StoreRowView view(store, catalog.taxonomy(), firm, o.as_of);
      const Outcome outcome = matcher.EvaluatePolicy(cp, view);
      c.rank_known = outcome.rank.has_value();
      c.rank_raw = outcome.rank ? outcome.rank->raw() : 0;
      const std::optional<Decimal> benefit = pn.BenefitOf(firm);
      c.benefit_known = benefit.has_value();
      c.benefit_raw = benefit ? benefit->raw() : 0;
      lim.candidates.push_back(std::move(c));
    }
    std::sort(lim.candidates.begin(), lim.candidates.end(),
              [](const ShardCandidate& a, const ShardCandidate& b) { return a.code < b.code; });
    for (uint32_t i = 0; i < lim.candidates.size(); ++i) {
      pair_of[PairKey(lim.candidates[i].code, pn.id)] = {static_cast<uint32_t>(m.limits.size()), i};
    }
    selected.push_back(pn);
    pn.by_status[NOT_SELECTED] |= pn.by_status[ELIGIBLE];
    pn.by_status[ELIGIBLE] = Roaring();
    unselected.push_back(pn);
    m.limits.push_back(std::move(lim));
  }
  std::vector<std::string> limited_ids;
  for (const ShardLimit& l : m.limits) limited_ids.push_back(night.policies[l.policy].id);
  auto candidate = [&](absl::string_view code, absl::string_view policy) -> ShardCandidate* {
    if (std::find(limited_ids.begin(), limited_ids.end(), policy) == limited_ids.end()) return nullptr;
    auto it = pair_of.find(PairKey(code, policy));
    if (it == pair_of.end()) return nullptr;
    return &m.limits[it->second.first].candidates[it->second.second];
  };

  if (!m.limits.empty()) {
    // The rows of the selected candidates.
    std::swap(night.policies, selected);
    for (uint8_t file : {1, 2}) {
      std::string rows;
      StringSink sink(&rows);
      if (absl::Status s = file == 1 ? WriteGrantsCsv(night, &sink, o.stream) : WriteListsCsv(night, &sink, o.stream);
          !s.ok()) {
        return s;
      }
      bool header = true;
      for (absl::string_view line : absl::StrSplit(rows, absl::ByChar('\n'), absl::SkipEmpty())) {
        if (header) {
          header = false;
          continue;
        }
        absl::string_view policy, code;
        ShardCandidate* c = RowKey(line, &policy, &code) ? candidate(code, policy) : nullptr;
        if (c == nullptr) return absl::InternalError(absl::StrCat("shard night: a row of no candidate: ", line));
        c->row_file = file;
        c->row = absl::StrCat(line, "\n");
      }
    }
    // Their pushes, both ways, against the previous night's same policies.
    if (o.pushes) {
      std::vector<PolicyNight> previous_limited;
      if (previous != nullptr) {
        for (const PolicyNight& p : night.policies) {
          auto it = std::lower_bound(previous->policies.begin(), previous->policies.end(), p.id,
                                     [](const PolicyNight& q, const std::string& id) { return q.id < id; });
          if (it != previous->policies.end() && it->id == p.id) previous_limited.push_back(*it);
        }
        std::swap(previous->policies, previous_limited);
      }
      absl::Status made;
      for (int way = 0; way < 2 && made.ok(); ++way) {
        if (way == 1) std::swap(night.policies, unselected);  // selected → unselected
        LineSplittingSink sink([&](absl::string_view line) {
          absl::string_view code, policy;
          if (!PushKey(line, &code, &policy)) return absl::InternalError("shard night: a push line without its key");
          if (ShardCandidate* c = candidate(code, policy); c != nullptr) {
            (way == 0 ? c->push_selected : c->push_not_selected) = std::string(line);
          }
          return absl::OkStatus();
        });
        made = WritePushesJsonl(night, previous, &sink, o.stream);
        if (way == 1) std::swap(night.policies, unselected);
      }
      if (previous != nullptr) std::swap(previous->policies, previous_limited);
      if (!made.ok()) return made;
    }
    std::swap(night.policies, selected);
  }

  // The shard's files, every candidate NOT_SELECTED; each checksummed for the merge.
  std::mutex mu;
  auto write = [&](const std::string& name, const std::function<absl::Status(ByteSink*)>& fill) {
    return out->WriteFile(name, [&](ByteSink* sink) {
      SummingSink summed(sink);
      absl::Status s = fill(&summed);
      if (s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        m.files.push_back(summed.Sum(name));
      }
      return s;
    });
  };
  if (absl::Status s = write("state.pmstate", [&](ByteSink* sink) { return WriteState(night, sink, o.stream); });
      !s.ok()) {
    return s;
  }
  if (absl::Status s = write("grants.csv", [&](ByteSink* sink) { return WriteGrantsCsv(night, sink, o.stream); });
      !s.ok()) {
    return s;
  }
  if (absl::Status s = write("lists.csv", [&](ByteSink* sink) { return WriteListsCsv(night, sink, o.stream); });
      !s.ok()) {
    return s;
  }
  if (o.pushes) {
    absl::Status s = write("pushes.jsonl", [&](ByteSink* sink) {
      if (m.limits.empty()) return WritePushesJsonl(night, previous, sink, o.stream);
      ChunkedWriter w(sink, o.stream.chunk);
      LineSplittingSink filter([&](absl::string_view line) {
        absl::string_view code, policy;
        if (!PushKey(line, &code, &policy)) return absl::InternalError("shard night: a push line without its key");
        if (candidate(code, policy) != nullptr) return absl::OkStatus();  // in the manifest
        w.buf().append(line.data(), line.size());
        return w.MaybeFlush();
      });
      absl::Status made = WritePushesJsonl(night, previous, &filter, o.stream);
      return made.ok() ? w.Flush() : made;
    });
    if (!s.ok()) return s;
  }
  if (absl::Status s = write("summary.json", [&](ByteSink* sink) { return sink->Write(SummaryJson(night)); });
      !s.ok()) {
    return s;
  }
  for (const PolicyNight& p : night.policies) {
    ShardPolicyCounts c;
    c.id = p.id;
    c.auto_grant = p.auto_grant;
    c.eligible = static_cast<int64_t>(p.by_status[ELIGIBLE].cardinality());
    c.undetermined = static_cast<int64_t>(p.by_status[UNDETERMINED].cardinality());
    c.near_miss = static_cast<int64_t>(p.by_status[NEAR_MISS].cardinality());
    c.excluded = static_cast<int64_t>(p.by_status[EXCLUDED].cardinality());
    c.not_selected = static_cast<int64_t>(p.by_status[NOT_SELECTED].cardinality());
    YuanTotal total;
    auto b = p.benefits.begin();
    for (uint32_t firm : p.by_status[ELIGIBLE]) {
      while (b != p.benefits.end() && b->first < firm) ++b;
      for (; b != p.benefits.end() && b->first == firm; ++b) total.Add(Decimal::FromRawUnchecked(b->second));
    }
    c.benefit_total_raw = total.raw();
    m.policies.push_back(std::move(c));
  }
  std::sort(m.files.begin(), m.files.end(), [](const ShardFileSum& a, const ShardFileSum& b) { return a.name < b.name; });
  const std::string manifest = SerializeShardManifest(m);
  return out->WriteFile(kShardManifestFile, [&](ByteSink* sink) { return sink->Write(manifest); });
}

// ---- the merge --------------------------------------------------------------------------------

namespace {

struct Shard {
  std::string dir;
  ShardManifest m;
  uint64_t manifest_checksum = 0;
  const ShardFileSum* Sum(absl::string_view name) const {
    for (const ShardFileSum& f : m.files) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }
};

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read: ", std::strerror(errno)));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return bytes;
}

// Lines of one file, checked at its end against the size and checksum the shard recorded.
class FileLines {
 public:
  FileLines(std::string path, ShardFileSum sum) : path_(std::move(path)), want_(std::move(sum)) {}
  ~FileLines() {
    if (fd_ >= 0) ::close(fd_);
  }
  absl::Status Open() {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return absl::NotFoundError(absl::StrCat(path_, ": cannot read: ", std::strerror(errno)));
    buf_.resize(size_t{1} << 20);
    return absl::OkStatus();
  }
  // The next line (with its '\n') into *line; false at the end. Errors: a read error, a last line
  // without its newline, or bytes that are not what the shard wrote.
  absl::StatusOr<bool> Next(std::string* line) {
    line->clear();
    while (true) {
      if (at_ == end_) {
        const ssize_t n = ::read(fd_, buf_.data(), buf_.size());
        if (n < 0) return absl::DataLossError(absl::StrCat(path_, ": ", std::strerror(errno)));
        if (n == 0) {
          if (!line->empty()) return Corrupt();
          if (size_ != want_.size || sum_.Finish() != want_.checksum) return Corrupt();
          return false;
        }
        sum_.Update(absl::string_view(buf_.data(), static_cast<size_t>(n)));
        size_ += static_cast<uint64_t>(n);
        at_ = 0;
        end_ = static_cast<size_t>(n);
      }
      const char* start = buf_.data() + at_;
      const void* nl = std::memchr(start, '\n', end_ - at_);
      if (nl == nullptr) {
        line->append(start, end_ - at_);
        at_ = end_;
        continue;
      }
      const size_t len = static_cast<const char*>(nl) - start + 1;
      line->append(start, len);
      at_ += len;
      return true;
    }
  }

 private:
  absl::Status Corrupt() const {
    return absl::DataLossError(absl::StrCat(path_, ": not the bytes the shard wrote (checksum mismatch: "
                                                   "corrupt, truncated or changed since)"));
  }
  std::string path_;
  ShardFileSum want_;
  int fd_ = -1;
  std::vector<char> buf_;
  size_t at_ = 0, end_ = 0;
  Checksum64Stream sum_;
  uint64_t size_ = 0;
};

absl::Status VerifyFile(const std::string& path, const ShardFileSum& want) {
  absl::StatusOr<FileSum> got = ChecksumFile(path);
  if (absl::IsNotFound(got.status())) return got.status();
  if (!got.ok() || got->size != want.size || got->checksum != want.checksum) {
    return absl::DataLossError(absl::StrCat(path, ": not the bytes the shard wrote (checksum mismatch: corrupt, "
                                                  "truncated or changed since)"));
  }
  return absl::OkStatus();
}

// A k-way merge of sorted line files (their first line a header, kept once if `header`) and one
// sorted list of extra lines, by `key` (a string ordered as the output).
template <typename KeyFn>
absl::Status MergeLines(std::vector<std::unique_ptr<FileLines>>& files, std::vector<std::string> extra,
                        bool header, KeyFn key, ByteSink* sink, uint64_t* count, size_t chunk) {
  ChunkedWriter w(sink, chunk);
  // Keys are views into the lines they were taken from (a line stays until its source advances).
  struct Head {
    std::pair<absl::string_view, absl::string_view> key;
    size_t source;
    bool operator>(const Head& o) const { return key > o.key; }
  };
  std::vector<std::string> lines(files.size() + 1);
  std::priority_queue<Head, std::vector<Head>, std::greater<Head>> heap;
  auto advance = [&](size_t s) -> absl::Status {
    if (s == files.size()) return absl::OkStatus();
    absl::StatusOr<bool> more = files[s]->Next(&lines[s]);
    if (!more.ok()) return more.status();
    if (*more) heap.push({key(lines[s]), s});
    return absl::OkStatus();
  };
  for (size_t s = 0; s < files.size(); ++s) {
    if (header) {
      absl::StatusOr<bool> more = files[s]->Next(&lines[s]);
      if (!more.ok()) return more.status();
      if (s == 0 && *more) w.buf().append(lines[s]);
    }
    if (absl::Status st = advance(s); !st.ok()) return st;
  }
  std::sort(extra.begin(), extra.end(), [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
  size_t next_extra = 0;
  if (!extra.empty()) heap.push({key(extra[0]), files.size()});
  while (!heap.empty()) {
    const size_t s = heap.top().source;
    heap.pop();
    if (s == files.size()) {
      w.buf().append(extra[next_extra++]);
      if (next_extra < extra.size()) heap.push({key(extra[next_extra]), s});
    } else {
      w.buf().append(lines[s]);
      if (absl::Status st = advance(s); !st.ok()) return st;
    }
    ++*count;
    if (absl::Status st = w.MaybeFlush(); !st.ok()) return st;
  }
  return w.Flush();
}

// Sorts `*v`, given as sorted runs [runs[i], runs[i+1]) (pairwise merges: O(size × log runs)). A
// run that is not sorted (a state file may list benefits in any order) falls back to a sort.
template <typename T>
void MergeRuns(std::vector<T>* v, const std::vector<size_t>& runs) {
  const size_t nruns = runs.size() - 1;
  for (size_t i = 0; i < nruns; ++i) {
    if (!std::is_sorted(v->begin() + runs[i], v->begin() + runs[i + 1])) {
      std::sort(v->begin(), v->end());
      return;
    }
  }
  for (size_t width = 1; width < nruns; width *= 2) {
    for (size_t i = 0; i + width < nruns; i += 2 * width) {
      std::inplace_merge(v->begin() + runs[i], v->begin() + runs[i + width],
                         v->begin() + runs[std::min(i + 2 * width, nruns)]);
    }
  }
}

}  // namespace

absl::StatusOr<MergeStats> MergeShardNights(const std::vector<std::string>& dirs, AtomicOutputDir* out,
                                            const StreamOptions& stream, NightResult* night) {
  MergeStats stats;
  if (dirs.empty()) return absl::InvalidArgumentError("no shard directories given");
  // 1. The manifests, and the refusals.
  std::vector<Shard> shards;
  for (const std::string& dir : dirs) {
    Shard s;
    s.dir = dir;
    absl::StatusOr<std::string> marker = ReadWhole(dir + "/" + kOutputMarkerFile);
    if (!marker.ok() || marker->substr(0, marker->find('\n')) != ShardNightDirKind().marker) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, ": not a shard night (no .polmatch marker of `batch --shard`)"));
    }
    absl::StatusOr<std::string> bytes = ReadWhole(dir + "/" + kShardManifestFile);
    if (!bytes.ok()) return absl::InvalidArgumentError(bytes.status().message());
    absl::StatusOr<ShardManifest> m = ParseShardManifest(*bytes);
    if (!m.ok()) return absl::DataLossError(absl::StrCat(dir, "/", kShardManifestFile, ": ", m.status().message()));
    s.m = std::move(*m);
    s.manifest_checksum = Checksum64(*bytes);
    shards.push_back(std::move(s));
  }
  const Shard& first = shards[0];
  const uint32_t n = first.m.shard.count;
  std::vector<int> at(n, -1);
  for (size_t i = 0; i < shards.size(); ++i) {
    const Shard& s = shards[i];
    auto differs = [&](absl::string_view what, absl::string_view mine, absl::string_view theirs) {
      return absl::InvalidArgumentError(absl::StrCat(s.dir, ": ", what, " ", mine, ", but ", first.dir, " has ",
                                                     theirs, ": shards of different nights cannot be merged"));
    };
    if (s.m.shard.count != n) {
      return differs("is a shard of N =", absl::StrCat(s.m.shard.count), absl::StrCat("N = ", n));
    }
    if (s.m.as_of != first.m.as_of) return differs("has as_of", s.m.as_of, first.m.as_of);
    if (s.m.rules_digest != first.m.rules_digest) {
      return differs("was matched with rules", s.m.rules_digest, first.m.rules_digest);
    }
    if (s.m.pushes != first.m.pushes) {
      return differs("was written", s.m.pushes ? "with pushes" : "with --no-pushes",
                     first.m.pushes ? "pushes" : "none (--no-pushes)");
    }
    if (at[s.m.shard.index] >= 0) {
      return absl::InvalidArgumentError(absl::StrCat(s.dir, " and ", shards[at[s.m.shard.index]].dir,
                                                     " are both shard ", s.m.shard.ToString()));
    }
    at[s.m.shard.index] = static_cast<int>(i);
  }
  std::vector<std::string> missing;
  for (uint32_t k = 0; k < n; ++k) {
    if (at[k] < 0) missing.push_back(absl::StrCat(k));
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("incomplete: shard", missing.size() > 1 ? "s " : " ",
                                                   absl::StrJoin(missing, ", "), " of ", n, " missing"));
  }
  std::sort(shards.begin(), shards.end(), [](const Shard& a, const Shard& b) { return a.m.shard.index < b.m.shard.index; });
  const std::vector<std::string> needed = first.m.pushes
      ? std::vector<std::string>{"grants.csv", "lists.csv", "pushes.jsonl", "state.pmstate", "summary.json"}
      : std::vector<std::string>{"grants.csv", "lists.csv", "state.pmstate", "summary.json"};
  for (const Shard& s : shards) {
    for (const std::string& name : needed) {
      if (s.Sum(name) == nullptr) return absl::DataLossError(absl::StrCat(s.dir, "/", kShardManifestFile, ": lists no ", name));
    }
    if (s.m.policies.size() != first.m.policies.size() || s.m.limits.size() != first.m.limits.size()) {
      return absl::DataLossError(absl::StrCat(s.dir, "/", kShardManifestFile, ": policies differ from ", first.dir));
    }
  }
  // Every file is checked against the manifest before it is trusted (line files while they are
  // merged; the others first).
  for (const Shard& s : shards) {
    for (const char* name : {"state.pmstate", "summary.json"}) {
      if (absl::Status st = VerifyFile(s.dir + "/" + name, *s.Sum(name)); !st.ok()) return st;
    }
  }

  stats.rules_digest = first.m.rules_digest;
  // 2. Limits: rank every shard's candidates; the first `limit` are selected.
  const size_t nlimits = first.m.limits.size();
  // selected[shard][limit][candidate]
  std::vector<std::vector<std::vector<bool>>> selected(n, std::vector<std::vector<bool>>(nlimits));
  for (size_t li = 0; li < nlimits; ++li) {
    std::vector<std::pair<uint32_t, uint32_t>> all;  // (shard, candidate)
    for (uint32_t k = 0; k < n; ++k) {
      const ShardLimit& l = shards[k].m.limits[li];
      if (l.policy != first.m.limits[li].policy || l.limit != first.m.limits[li].limit) {
        return absl::DataLossError(absl::StrCat(shards[k].dir, "/", kShardManifestFile, ": limits differ from ", first.dir));
      }
      selected[k][li].assign(l.candidates.size(), false);
      for (uint32_t c = 0; c < l.candidates.size(); ++c) all.emplace_back(k, c);
    }
    stats.candidates += all.size();
    auto cand = [&](const std::pair<uint32_t, uint32_t>& x) -> const ShardCandidate& {
      return shards[x.first].m.limits[li].candidates[x.second];
    };
    const size_t take = std::min<size_t>(first.m.limits[li].limit, all.size());
    std::partial_sort(all.begin(), all.begin() + take, all.end(), [&](const auto& a, const auto& b) {
      const ShardCandidate& x = cand(a);
      const ShardCandidate& y = cand(b);
      return semantics::RanksBefore(x.rank_known, x.rank_raw, x.code, y.rank_known, y.rank_raw, y.code);
    });
    for (size_t i = 0; i < take; ++i) selected[all[i].first][li][all[i].second] = true;
  }

  for (uint32_t k = 0; k < n; ++k) {
    ShardSelection sel;
    sel.as_of = shards[k].m.as_of;
    sel.rules_digest = shards[k].m.rules_digest;
    sel.shard = shards[k].m.shard;
    sel.manifest_checksum = shards[k].manifest_checksum;
    for (size_t li = 0; li < nlimits; ++li) {
      const ShardLimit& l = shards[k].m.limits[li];
      for (size_t c = 0; c < l.candidates.size(); ++c) {
        if (selected[k][li][c]) sel.selected.emplace_back(shards[k].m.policies[l.policy].id, l.candidates[c].code);
      }
    }
    std::sort(sel.selected.begin(), sel.selected.end());
    stats.selections.emplace_back(shards[k].dir, SerializeShardSelection(sel));
  }

  // 3. The state, written as it is merged (StateWriter): the shards' firms in the unsharded row
  // order, (region, credit code), then one policy at a time, read from every shard
  // (StateReader), merged, written and dropped. In memory: the shards' firms until the merged
  // code order is written (22 bytes a firm), then only the merged id of every shard firm
  // (global_of, 4 bytes a firm), and one policy of each shard and the merged one. With `night`,
  // also the merged firms (22 bytes a firm) and its AUTO_GRANT policies.
  {
    std::vector<std::unique_ptr<StateReader>> readers;
    uint64_t total = 0;
    for (const Shard& s : shards) {
      absl::StatusOr<std::unique_ptr<StateReader>> r = StateReader::Open(s.dir + "/state.pmstate");
      if (!r.ok()) return absl::DataLossError(absl::StrCat(s.dir, "/state.pmstate: ", r.status().message()));
      const NightResult& firms = (*r)->firms();
      if (firms.num_firms() != s.m.num_firms || firms.as_of != s.m.as_of ||
          (*r)->num_policies() != s.m.policies.size()) {
        return absl::DataLossError(absl::StrCat(s.dir, "/state.pmstate: does not match ", kShardManifestFile));
      }
      total += firms.num_firms();
      readers.push_back(std::move(*r));
    }
    if (total > UINT32_MAX) return absl::InvalidArgumentError("more than 2^32 firms in one merged night");
    stats.firms = total;
    if (night != nullptr) {
      *night = NightResult();
      night->as_of = first.m.as_of;
      night->codes.reserve(total * kCodeLen);
      night->code_order.reserve(total);
    }
    auto shard_code = [&](uint32_t k, uint32_t f) { return readers[k]->firms().code(f); };
    std::vector<int> limit_of(first.m.policies.size(), -1);
    for (size_t li = 0; li < nlimits; ++li) limit_of[first.m.limits[li].policy] = static_cast<int>(li);
    auto read_error = [&](uint32_t k, const absl::Status& s) {
      return absl::DataLossError(absl::StrCat(shards[k].dir, "/state.pmstate: ", s.message()));
    };
    absl::Status written = out->WriteFile("state.pmstate", [&](ByteSink* sink) -> absl::Status {
      StateWriter w(sink, stream);
      if (absl::Status st = w.Begin(first.m.as_of, static_cast<uint32_t>(total),
                                    static_cast<uint32_t>(first.m.policies.size()));
          !st.ok()) {
        return st;
      }
      std::vector<std::vector<uint32_t>> global_of(n);
      {
        struct Head {
          absl::string_view region, code;
          uint32_t shard;
          bool operator>(const Head& o) const {
            return region != o.region ? region > o.region : code > o.code;
          }
        };
        std::priority_queue<Head, std::vector<Head>, std::greater<Head>> heap;
        std::vector<uint32_t> next(n, 0);
        auto push = [&](uint32_t k) {
          const uint32_t f = next[k];
          if (f < shards[k].m.num_firms) {
            heap.push({absl::string_view(shards[k].m.regions).substr(size_t{f} * kRegionLen, kRegionLen),
                       shard_code(k, f), k});
          }
        };
        for (uint32_t k = 0; k < n; ++k) {
          global_of[k].resize(shards[k].m.num_firms);
          push(k);
        }
        uint32_t id = 0;
        while (!heap.empty()) {
          const uint32_t k = heap.top().shard;
          const absl::string_view code = heap.top().code;
          heap.pop();
          global_of[k][next[k]++] = id++;
          if (absl::Status st = w.AddCodes(code); !st.ok()) return st;
          if (night != nullptr) night->codes.append(code.data(), code.size());
          push(k);
        }
        for (Shard& s : shards) std::string().swap(s.m.regions);  // the row order is done with
      }
      {
        struct Head {
          absl::string_view code;
          uint32_t shard;
          bool operator>(const Head& o) const { return code > o.code; }
        };
        std::priority_queue<Head, std::vector<Head>, std::greater<Head>> heap;
        std::vector<uint32_t> next(n, 0);
        auto push = [&](uint32_t k) {
          const std::vector<uint32_t>& order = readers[k]->firms().code_order;
          if (next[k] < order.size()) heap.push({shard_code(k, order[next[k]]), k});
        };
        for (uint32_t k = 0; k < n; ++k) push(k);
        while (!heap.empty()) {
          const uint32_t k = heap.top().shard;
          heap.pop();
          const uint32_t id = global_of[k][readers[k]->firms().code_order[next[k]++]];
          if (absl::Status st = w.AddCodeOrder(&id, 1); !st.ok()) return st;
          if (night != nullptr) night->code_order.push_back(id);
          push(k);
        }
      }
      for (auto& r : readers) r->firms() = NightResult();  // the shards' firms are done with
      std::vector<PolicyNight> theirs(n);  // policy p of each shard
      std::vector<uint32_t> ids, chosen, all_eligible;
      std::vector<size_t> runs;
      for (size_t p = 0; p < first.m.policies.size(); ++p) {
        for (uint32_t k = 0; k < n; ++k) {
          absl::StatusOr<bool> more = readers[k]->Next(&theirs[k]);
          if (!more.ok()) return read_error(k, more.status());
          if (!*more || theirs[k].id != theirs[0].id) {
            return absl::DataLossError(absl::StrCat(shards[k].dir, "/state.pmstate: policies differ from ", first.dir));
          }
        }
        PolicyNight g;
        g.id = theirs[0].id;
        g.auto_grant = theirs[0].auto_grant;
        // Each shard's merged ids ascend (a bitmap iterates in order, global_of keeps a shard's
        // row order): one sorted run per shard, merged pairwise.
        auto gather = [&](MatchStatus status) {
          ids.clear();
          runs.assign(1, 0);
          for (uint32_t k = 0; k < n; ++k) {
            for (uint32_t f : theirs[k].by_status[status]) ids.push_back(global_of[k][f]);
            runs.push_back(ids.size());
          }
          MergeRuns(&ids, runs);
        };
        // As the bulk matcher makes them: every bitmap run-optimized.
        auto bitmap = [](const std::vector<uint32_t>& v) {
          Roaring r(v.size(), v.data());
          r.runOptimize();
          return r;
        };
        for (MatchStatus status : {UNDETERMINED, NEAR_MISS, EXCLUDED}) {
          gather(status);
          g.by_status[status] = bitmap(ids);
        }
        const int li = limit_of[p];
        if (li < 0) {
          for (MatchStatus status : {ELIGIBLE, NOT_SELECTED}) {
            gather(status);
            g.by_status[status] = bitmap(ids);
          }
        } else {
          // As the bulk matcher places a limit: every eligible firm, less the not selected.
          chosen.clear();
          for (uint32_t k = 0; k < n; ++k) {
            const ShardLimit& l = shards[k].m.limits[li];
            for (size_t c = 0; c < l.candidates.size(); ++c) {
              if (selected[k][li][c]) chosen.push_back(global_of[k][l.candidates[c].firm]);
            }
          }
          std::sort(chosen.begin(), chosen.end());
          gather(ELIGIBLE);
          all_eligible = ids;
          gather(NOT_SELECTED);
          all_eligible.insert(all_eligible.end(), ids.begin(), ids.end());
          MergeRuns(&all_eligible, {0, all_eligible.size() - ids.size(), all_eligible.size()});
          std::vector<uint32_t> not_selected;
          std::set_difference(ids.begin(), ids.end(), chosen.begin(), chosen.end(), std::back_inserter(not_selected));
          if (all_eligible.size() > first.m.limits[li].limit) {
            g.by_status[ELIGIBLE] = bitmap(all_eligible);
            g.by_status[NOT_SELECTED] = Roaring(not_selected.size(), not_selected.data());
            g.by_status[ELIGIBLE] -= g.by_status[NOT_SELECTED];
            g.by_status[NOT_SELECTED].runOptimize();
            g.by_status[ELIGIBLE].runOptimize();
          } else {
            g.by_status[ELIGIBLE] = bitmap(all_eligible);
          }
        }
        runs.assign(1, 0);
        for (uint32_t k = 0; k < n; ++k) {
          for (const auto& [f, raw] : theirs[k].benefits) g.benefits.emplace_back(global_of[k][f], raw);
          runs.push_back(g.benefits.size());
        }
        MergeRuns(&g.benefits, runs);
        if (absl::Status st = w.AddPolicy(g); !st.ok()) return st;
        // The ledger reads the AUTO_GRANT policies only.
        if (night != nullptr && g.auto_grant) night->policies.push_back(std::move(g));
      }
      for (uint32_t k = 0; k < n; ++k) {  // nothing after the last policy
        absl::StatusOr<bool> more = readers[k]->Next(&theirs[k]);
        if (!more.ok()) return read_error(k, more.status());
      }
      return w.Finish();
    });
    if (!written.ok()) return written;
  }

  // 4. The summary: the shards' counts, each selected candidate moved to ELIGIBLE.
  {
    BatchSummary summary;
    summary.set_as_of(first.m.as_of);
    summary.set_firms(static_cast<int32_t>(stats.firms));
    for (size_t p = 0; p < first.m.policies.size(); ++p) {
      ShardPolicyCounts sum;
      for (const Shard& s : shards) {
        const ShardPolicyCounts& c = s.m.policies[p];
        sum.eligible += c.eligible;
        sum.undetermined += c.undetermined;
        sum.near_miss += c.near_miss;
        sum.excluded += c.excluded;
        sum.not_selected += c.not_selected;
        sum.benefit_total_raw += c.benefit_total_raw;
      }
      for (size_t li = 0; li < nlimits; ++li) {
        if (first.m.limits[li].policy != p) continue;
        for (uint32_t k = 0; k < n; ++k) {
          const ShardLimit& l = shards[k].m.limits[li];
          for (size_t c = 0; c < l.candidates.size(); ++c) {
            if (!selected[k][li][c]) continue;
            ++sum.eligible;
            --sum.not_selected;
            if (l.candidates[c].benefit_known) sum.benefit_total_raw += l.candidates[c].benefit_raw;
          }
        }
      }
      PolicySummary* ps = summary.add_policies();
      ps->set_policy(first.m.policies[p].id);
      ps->set_eligible(static_cast<int32_t>(sum.eligible));
      ps->set_undetermined(static_cast<int32_t>(sum.undetermined));
      ps->set_near_miss(static_cast<int32_t>(sum.near_miss));
      ps->set_excluded(static_cast<int32_t>(sum.excluded));
      ps->set_not_selected(static_cast<int32_t>(sum.not_selected));
      ps->set_auto_granted(first.m.policies[p].auto_grant ? ps->eligible() : 0);
      // YuanTotal adds raw Decimals: the 128-bit sum is given in int64 steps.
      YuanTotal total;
      constexpr int64_t kStep = INT64_MAX / 2;
      __int128 left = sum.benefit_total_raw;
      for (; left > kStep; left -= kStep) total.Add(Decimal::FromRawUnchecked(kStep));
      for (; left < -kStep; left += kStep) total.Add(Decimal::FromRawUnchecked(-kStep));
      total.Add(Decimal::FromRawUnchecked(static_cast<int64_t>(left)));
      ps->set_benefit_total_yuan(total.ToFixed2());
    }
    const std::string json = SummaryJson(summary);
    if (absl::Status s = out->WriteFile("summary.json", [&](ByteSink* sink) { return sink->Write(json); }); !s.ok()) {
      return s;
    }
  }

  // 5. grants.csv, lists.csv, pushes.jsonl: k-way merges in the unsharded order.
  // (policy id, credit code) and (credit code, policy id): the files' orders.
  auto row_key = [](const std::string& line) {
    absl::string_view policy, code;
    if (!RowKey(line, &policy, &code)) return std::make_pair(absl::string_view(line), absl::string_view());
    return std::make_pair(policy, code);
  };
  auto push_key = [](const std::string& line) {
    absl::string_view code, policy;
    if (!PushKey(line, &code, &policy)) return std::make_pair(absl::string_view(line), absl::string_view());
    return std::make_pair(code, policy);
  };
  for (uint8_t file : {1, 2, 3}) {
    const std::string name = file == 1 ? "grants.csv" : file == 2 ? "lists.csv" : "pushes.jsonl";
    if (file == 3 && !first.m.pushes) break;
    std::vector<std::unique_ptr<FileLines>> files;
    std::vector<std::string> extra;
    for (uint32_t k = 0; k < n; ++k) {
      files.push_back(std::make_unique<FileLines>(shards[k].dir + "/" + name, *shards[k].Sum(name)));
      if (absl::Status s = files.back()->Open(); !s.ok()) return s;
      for (size_t li = 0; li < nlimits; ++li) {
        const ShardLimit& l = shards[k].m.limits[li];
        for (size_t c = 0; c < l.candidates.size(); ++c) {
          const ShardCandidate& cand = l.candidates[c];
          if (file == 3) {
            const std::string& line = selected[k][li][c] ? cand.push_selected : cand.push_not_selected;
            if (!line.empty()) extra.push_back(line);
          } else if (selected[k][li][c] && cand.row_file == file) {
            extra.push_back(cand.row);
          }
        }
      }
    }
    uint64_t* count = file == 1 ? &stats.grants : file == 2 ? &stats.lists : &stats.pushes;
    absl::Status s = out->WriteFile(name, [&](ByteSink* sink) {
      return file == 3 ? MergeLines(files, std::move(extra), false, push_key, sink, count, stream.chunk)
                       : MergeLines(files, std::move(extra), true, row_key, sink, count, stream.chunk);
    });
    if (!s.ok()) return s;
  }
  return stats;
}

}  // namespace polmatch
