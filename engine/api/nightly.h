// File: nightly.h
//
// The nightly job (`polmatch batch`, SPEC §5) as one call. RunNightly loads the rules, the
// registry (a snapshot or firm files) and the previous night side by side, checks the guards,
// matches every firm (the bulk matcher, or the reference one), writes the night's directory
// atomically (or a shard night for `polmatch merge`) and, with a ledger, proposes tonight's
// grants before the directory is published. Nothing here prints: what an operator watches (phase
// times, the rules' diagnostics, progress, warnings) goes to a NightlyObserver, and what the night
// came to is the NightlyReport. Same options and inputs, same bytes.
//
// Error messages are the command's: where an option is named, it is named by its `batch` flag
// (`--out`, `--shard`, …).
//
// Example:
//   NightlyOptions options;
//   options.rules_dir = "rules";
//   options.snapshot_path = "registry.snap";
//   options.as_of = absl::CivilDay(2021, 6, 30);
//   options.out_dir = "night-2021-06-30";
//   options.previous_dir = "night-2021-06-29";  // push only what changed
//   absl::StatusOr<NightlyReport> report = RunNightly(options);
//   if (!report.ok() && NightlyFailureOf(report.status()) == NightlyFailure::kRefused) {
//     // a guard refused the night (the registry shrank, too many records rejected): nothing written
//   }
#ifndef POLMATCH_API_NIGHTLY_H_
#define POLMATCH_API_NIGHTLY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "engine/ingest/firm_reader.h"
#include "engine/ledger/nightly.h"
#include "engine/output/night.h"
#include "engine/output/night_guard.h"
#include "engine/output/night_shard.h"
#include "engine/util/diagnostics.h"

namespace polmatch {

enum class NightlyMatcher {
  kBitset,     // the bulk matcher (the night's engine)
  kReference,  // one firm at a time through the reference matcher (cross-checks, small registries)
};

struct NightlyOptions {
  std::string rules_dir;                // taxonomy/ and policies/ (--rules)
  // The registry, exactly one of: a snapshot written by `polmatch index` (--snapshot; with a
  // shard, the whole snapshot or the shard's), or firm files merged by credit code (--firms).
  std::optional<std::string> snapshot_path;
  std::vector<std::string> firm_files;
  InputEncoding encoding = InputEncoding::kUtf8;  // of every firm file
  absl::CivilDay as_of;
  std::string out_dir;                  // replaced atomically; refused before any work unless
                                        // absent, empty or written by polmatch (output_dir.h)
  std::optional<std::string> previous_dir;  // the last night's directory; none for a first night
  StatusMask push_statuses = kDefaultPushStatuses;  // --push
  bool pushes = true;                   // false: no pushes.jsonl (--no-pushes)
  std::optional<std::string> ledger_path;   // the grant ledger (SQLite); not with a shard
  NightlyMatcher matcher = NightlyMatcher::kBitset;
  NightGuards guards;                   // with a previous night: --max-shrink, --max-reject-rate
  bool force = false;                   // run although a guard refuses (the observer is told)
  std::optional<ShardSpec> shard;       // match and write only shard K of N
  int threads = 1;                      // matching and push threads
};

// What the night came to.
struct NightlyReport {
  int64_t firms = 0;                    // matched (the shard's, with a shard)
  int64_t policies = 0;
  IngestStats ingest;                   // firm files only
  std::vector<Rejection> rejects;       // firm files only, in file and line order
  int64_t founded_after = 0;            // firms founded after as_of (matched as given)
  std::string guard_overridden;         // with `force`: the refusal that was overridden
  std::optional<LedgerNightCounts> ledger;
  std::string kept;                     // the previous outputs' directory, kept because a file
                                        // polmatch did not write appeared in it (output_dir.h)
};

// What RunNightly tells while it runs, always on the calling thread, in this order: the rules'
// diagnostics, phases, the rejected records, messages and progress as they happen.
class NightlyObserver {
 public:
  virtual ~NightlyObserver() = default;
  // A phase ended `seconds` after the previous one (or the start). The snapshot, read on another
  // thread, is told once it is used, with `concurrent` set and its time from the start.
  virtual void OnPhase(absl::string_view /*phase*/, double /*seconds*/, bool /*concurrent*/) {}
  // Every diagnostic of the rules, sorted by file, line and column, once they are compiled.
  virtual void OnDiagnostic(const Diagnostic& /*diagnostic*/) {}
  // One line (or a line and its indented details) for the operator: the registry's size, a
  // warning, records rejected, the ledger's counts, outputs kept.
  virtual void OnMessage(absl::string_view /*text*/) {}
  // The reference matcher: `done` of `total` firms.
  virtual void OnProgress(uint64_t /*done*/, uint64_t /*total*/) {}
  // The firm files' rejected records (possibly none), before the night goes on: the place to
  // keep them (`batch --rejects`). An error ends the night with it, nothing written.
  virtual absl::Status OnRejects(const std::vector<Rejection>& /*rejects*/) { return absl::OkStatus(); }
};

// Why a night ended without publishing, from its status.
enum class NightlyFailure {
  kBadInput,      // bad options, an unreadable input, or a failed write (`batch` exits 2)
  kRulesInvalid,  // the rules have errors, each told to OnDiagnostic (exits 1, printing nothing more)
  kProblem,       // the inputs were read but make no night: no firm record accepted, a catalog the
                  // bulk matcher cannot run (exits 1)
  kRefused,       // a guard refused the night (exits 1, "refused: …")
};
NightlyFailure NightlyFailureOf(const absl::Status& status);

// Runs one night. On any error nothing is published (out_dir keeps the last complete set), and
// a guard's refusal or a bad previous night is found before anything is written.
absl::StatusOr<NightlyReport> RunNightly(const NightlyOptions& options, NightlyObserver* observer = nullptr);

// `polmatch merge --ledger`: once MergeShardNights has written the merged `night` into `out`
// (not yet committed), checks that `catalog` and `store` are the rules and the whole registry the
// shards matched (InvalidArgument otherwise: the ledger keeps each grant's firm data) and
// proposes the night's grants as RunNightly does with a ledger (`night`'s names are read from
// `store`).
absl::StatusOr<LedgerNightCounts> ProposeMergedNight(const std::string& ledger_path, const std::string& rules_dir,
                                                     const Catalog& catalog, const FirmStore& store,
                                                     const MergeStats& merged, NightResult& night,
                                                     AtomicOutputDir* out);

}  // namespace polmatch

#endif  // POLMATCH_API_NIGHTLY_H_
