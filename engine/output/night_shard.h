// File: night_shard.h
//
// Sharding the nightly batch (SPEC §5 "Beyond one machine"): which shard a firm belongs to, a
// registry or a previous night cut down to one shard, and the shard manifest (`shard.pmshard`)
// that a shard night carries for `polmatch merge`.
//
// The shard of a firm is ShardOf(credit code, N) = FNV-1a 64 of the code's 18 ASCII bytes, mod N:
// a function of the code alone, the same on every machine and in every version. Shards are
// numbered 0 … N-1 ("--shard K/N", as a Kubernetes indexed Job's JOB_COMPLETION_INDEX).
//
// A shard decides every outcome of its firms except one: the `limit` of a policy ranks the
// eligible firms of the whole registry. The global top-`limit` lies in the union of the shards'
// local top-`limit`s, so a firm outside its shard's local top-`limit` is NOT_SELECTED whatever
// the other shards hold. Its local top-`limit` are the policy's *candidates*: the shard night's
// files are written as if every candidate were NOT_SELECTED, and the manifest keeps, for each
// candidate, its rank value and both versions of every line it changes (the grants/lists row
// when selected; the push line selected and not selected). The merge ranks the candidates of all
// shards, picks the top `limit`, and puts the chosen lines into the k-way merge of the files.
#ifndef POLMATCH_OUTPUT_NIGHT_SHARD_H_
#define POLMATCH_OUTPUT_NIGHT_SHARD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/output/night.h"
#include "engine/output/output_dir.h"

namespace polmatch {

inline constexpr uint32_t kMaxShards = 4096;

struct ShardSpec {
  uint32_t index = 0;  // K, 0 … count-1
  uint32_t count = 1;  // N
  std::string ToString() const;  // "K/N"
  friend bool operator==(const ShardSpec& a, const ShardSpec& b) {
    return a.index == b.index && a.count == b.count;
  }
};

// FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3) of the bytes.
uint64_t ShardHash(absl::string_view credit_code);
inline uint32_t ShardOf(absl::string_view credit_code, uint32_t count) {
  return static_cast<uint32_t>(ShardHash(credit_code) % count);
}
// "K/N" with 1 ≤ N ≤ kMaxShards and 0 ≤ K < N; InvalidArgument naming the problem otherwise.
absl::StatusOr<ShardSpec> ParseShardSpec(absl::string_view text);

// The firms of `store` that fall in `shard`, as a store of their own (the rows keep their
// (region, credit code) order). A store that holds only the shard's firms is returned as it is;
// one that holds only the firms of one *other* shard of N is refused (FailedPrecondition: it is
// that shard's snapshot). Any other cut is FirmStore::SelectRows: the very store (the same
// snapshot bytes) that `index --shard K/N` writes from the same registry.
absl::StatusOr<FirmStore> SelectShard(FirmStore&& store, ShardSpec shard);
// The same for firms before they are indexed (batch --firms).
std::vector<Firm> SelectShard(std::vector<Firm>&& firms, ShardSpec shard);
// A night cut down to the firms of `shard` (ids renumbered, keeping their order).
NightResult NightOfShard(NightResult&& night, ShardSpec shard);

// A night's directory written by `batch --shard`: the night's files plus shard.pmshard.
const OutputDirKind& ShardNightDirKind();
inline constexpr char kShardManifestFile[] = "shard.pmshard";

// One candidate of a limited policy (see the file comment).
struct ShardCandidate {
  std::string code;        // 18 bytes
  uint32_t firm = 0;       // the shard night's firm id
  bool rank_known = false;
  int64_t rank_raw = 0;
  bool benefit_known = false;
  int64_t benefit_raw = 0;
  uint8_t row_file = 0;    // 0 no row, 1 grants.csv, 2 lists.csv (when selected)
  std::string row;         // that row, with its newline
  std::string push_selected, push_not_selected;  // pushes.jsonl lines, "" = none
};
struct ShardLimit {
  uint32_t policy = 0;  // index into ShardManifest::policies
  uint32_t limit = 0;
  std::vector<ShardCandidate> candidates;  // ascending code
};
// Per policy, the shard night's counts (candidates counted NOT_SELECTED).
struct ShardPolicyCounts {
  std::string id;
  bool auto_grant = false;
  int64_t eligible = 0, undetermined = 0, near_miss = 0, excluded = 0, not_selected = 0;
  __int128 benefit_total_raw = 0;  // of the ELIGIBLE firms, millionths of a yuan
};
struct ShardFileSum {
  std::string name;
  uint64_t size = 0;
  uint64_t checksum = 0;  // Checksum64 of the file
};
struct ShardManifest {
  static constexpr uint32_t kVersion = 1;
  std::string as_of;
  std::string rules_digest;
  ShardSpec shard;
  bool pushes = true;    // pushes.jsonl written (not --no-pushes)
  uint32_t num_firms = 0;
  std::string regions;   // 6 bytes per firm by firm id (zeros = unknown): the merge's row order
  std::vector<ShardPolicyCounts> policies;
  std::vector<ShardLimit> limits;
  std::vector<ShardFileSum> files;
};
std::string SerializeShardManifest(const ShardManifest& manifest);
// DataLoss for a corrupt or truncated file, FailedPrecondition for another format version.
absl::StatusOr<ShardManifest> ParseShardManifest(absl::string_view bytes);

// What identifies the rules a night was matched with: the tag library's ids and every policy
// (deterministically serialized), as 16 hex digits.
std::string RulesDigest(const Catalog& catalog);

// Writes shard night `local` (a night of the shard's firms only; firm ids = rows of `store`)
// into `out`: summary.json, grants.csv, lists.csv, pushes.jsonl (unless !pushes), state.pmstate
// and shard.pmshard. `previous` (already cut to the shard) is the diff's base; its policies are
// swapped out and back while the candidates' pushes are made.
struct ShardNightOptions {
  const Catalog* catalog = nullptr;
  const FirmStore* store = nullptr;
  absl::CivilDay as_of;
  ShardSpec shard;
  bool pushes = true;
  StreamOptions stream;
};
absl::Status WriteShardNight(NightResult&& local, NightResult* previous, const ShardNightOptions& options,
                             AtomicOutputDir* out);

// Which candidates the merge selected, for one shard: written by `merge` into each shard night it
// merged (selection.pmsel), so that the next night's `batch --shard K/N --previous SHARD_DIR`
// knows its firms' final statuses without reading the whole merged state.
inline constexpr char kShardSelectionFile[] = "selection.pmsel";
struct ShardSelection {
  static constexpr uint32_t kVersion = 1;
  std::string as_of;
  std::string rules_digest;
  ShardSpec shard;
  uint64_t manifest_checksum = 0;  // Checksum64 of the shard.pmshard it completes
  std::vector<std::pair<std::string, std::string>> selected;  // (policy id, credit code), ascending
};
std::string SerializeShardSelection(const ShardSelection& selection);
absl::StatusOr<ShardSelection> ParseShardSelection(absl::string_view bytes);
// Writes `bytes` as DIR/selection.pmsel (temporary file, fsync, rename).
absl::Status WriteShardSelection(const std::string& dir, const std::string& bytes);

// The previous night as shard `shard` needs it (`batch --shard K/N --previous DIR`): a merged (or
// unsharded) night's state cut to the shard's firms, or the same shard's night (its state with
// the merge's selection applied; refused if it is another shard's or was never merged). Errors
// name the file.
absl::StatusOr<NightResult> ReadPreviousForShard(const std::string& dir, ShardSpec shard);

// `polmatch merge`: the shard nights in `dirs` (any order) into one night in `out`, byte for byte
// what an unsharded batch writes. Refusals (InvalidArgument / DataLoss naming the directory and
// why) come before anything is published.
struct MergeStats {
  uint64_t firms = 0, pushes = 0, grants = 0, lists = 0, candidates = 0;
  // (shard directory, its selection.pmsel bytes): written by the caller once the merged night is
  // committed (WriteShardSelection).
  std::vector<std::pair<std::string, std::string>> selections;
  std::string rules_digest;  // of the shards' rules (RulesDigest)
};
// The merged state is written one policy at a time: memory is bounded by the firms (26 bytes a
// firm at most) and the largest policy, not by the registry × catalog. `night`, if set, receives
// the merged night's firms and its AUTO_GRANT policies (as the state file holds them: no names,
// no `listed`/`in_force`): what the ledger reads (`merge --ledger`).
absl::StatusOr<MergeStats> MergeShardNights(const std::vector<std::string>& dirs, AtomicOutputDir* out,
                                            const StreamOptions& stream = {}, NightResult* night = nullptr);

}  // namespace polmatch

#endif  // POLMATCH_OUTPUT_NIGHT_SHARD_H_
