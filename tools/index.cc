// polmatch index: builds the snapshot (the columnar firm store) from firm data.
#include <fstream>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/index/firm_store.h"
#include "engine/index/snapshot.h"
#include "engine/ingest/firm_reader.h"
#include "engine/ingest/firm_table.h"
#include "engine/output/night_shard.h"
#include "tools/cli.h"
#include "tools/progress.h"

namespace polmatch::cli {

int RunIndex(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("rules", po::value<std::string>()->required(), "rules directory (its tag library is used)")
      ("firms", po::value<std::vector<std::string>>()->required()->composing(),
       "firm data, JSON Lines or CSV; repeat to merge sources (later facts override, tags united)")
      ("out", po::value<std::string>()->required(), "the snapshot file to write (replaced atomically)")
      ("rejects", po::value<std::string>(), "write rejected records here, one `file:line: reason` each")
      ("encoding", po::value<std::string>(),
       "utf-8 (default) or gb18030: the encoding of every --firms file (gb18030, also called gbk, "
       "is what Chinese Excel and WPS save; a GB18030 file read as utf-8 is refused)")
      ("strict", "exit 1 when any record was rejected")
      ("shard", po::value<std::string>(), "K/N: write only the firms of shard K of N (0 ≤ K < N ≤ 4096; a "
                                          "firm's shard is FNV-1a 64 of its credit code mod N), for "
                                          "batch --shard K/N; other shards' records are skipped as they are "
                                          "read, and a record whose code cannot be read is reported by shard 0");
  po::variables_map vm;
  if (auto exit = ParseArgs(
          argc, argv,
          "polmatch index --rules DIR --firms F [--firms F…] --out SNAPSHOT [--rejects FILE]",
          "Reads and merges firm records, validates them against the tag library (bad records are\n"
          "rejected with file:line: reason and never stop the run), and writes the snapshot that\n"
          "batch, query and check load with --snapshot. Exit 0 written, 1 no record accepted (no\n"
          "snapshot is written) or rejects with --strict, 2 unreadable input.",
          options, {}, vm)) {
    return *exit;
  }
  // The snapshot replaces only a snapshot (or nothing): refused before any work.
  if (absl::Status target = CheckSnapshotTarget(vm["out"].as<std::string>()); !target.ok()) {
    PrintError(absl::StrCat("--out ", target.message()));
    return kUsage;
  }
  std::optional<ShardSpec> shard;
  if (vm.count("shard")) {
    absl::StatusOr<ShardSpec> parsed = ParseShardSpec(vm["shard"].as<std::string>());
    if (!parsed.ok()) {
      PrintError(absl::StrCat("--shard ", parsed.status().message()));
      return kUsage;
    }
    shard = *parsed;
  }
  PhaseTimer timer;
  int exit_code = kOk;
  std::optional<Catalog> catalog = LoadRules(vm["rules"].as<std::string>(), &exit_code);
  if (!catalog) return exit_code;
  std::optional<InputEncoding> encoding = EncodingOption(vm);
  if (!encoding) return kUsage;
  std::vector<Rejection> rejects;
  IngestStats stats;
  const std::vector<std::string>& paths = vm["firms"].as<std::vector<std::string>>();
  // With --shard, other shards' records are dropped as soon as their credit code is read (never
  // validated, merged or held): the memory is the shard's. A record whose code cannot be read is
  // reported by shard 0 only, so the N shards together report each rejected record once.
  RecordOwner owner;
  if (shard) {
    owner = [s = *shard](absl::string_view code) {
      return code.empty() ? s.index == 0 : ShardOf(code, s.count) == s.index;
    };
  }
  // Firms go into a compact table (JSON Lines parsed on two threads), never a vector of Firm.
  absl::StatusOr<FirmTable> table = [&] {
    uint64_t shown_total = 0;
    std::unique_ptr<ProgressBar> sized;
    return LoadFirmTable(paths, catalog->taxonomy(), &rejects, &stats, /*threads=*/2,
                         [&](uint64_t done, uint64_t total) {
                           if (sized == nullptr || total != shown_total) {
                             shown_total = total;
                             sized = std::make_unique<ProgressBar>("reading firms", total);
                           }
                           sized->Update(done);
                         },
                         *encoding, owner);
  }();
  if (!table.ok()) {
    PrintError(std::string(table.status().message()));
    return kUsage;
  }
  timer.Lap("ingest");
  std::cerr << "index: " << stats.records << " records";
  if (shard) std::cerr << " of shard " << shard->ToString() << " (" << stats.skipped << " of other shards skipped)";
  std::cerr << ", " << table->size() << " firms, " << rejects.size() << " rejected\n";
  for (size_t i = 0; i < rejects.size() && i < 5; ++i) std::cerr << "  " << rejects[i].ToString() << "\n";
  if (rejects.size() > 5) {
    std::cerr << "  … " << rejects.size() - 5 << " more" << (vm.count("rejects") ? " (all in --rejects)" : " (--rejects FILE lists all)") << "\n";
  }
  if (!WriteRejectsOption(vm, rejects)) return kUsage;
  // A shard may hold no firm (a small registry cut many ways): written empty when the data holds
  // records of other shards.
  if (const std::string none = NoneAccepted(stats); !none.empty() && stats.skipped == 0) {
    PrintError(none + "; no snapshot written");
    return kProblems;
  }
  absl::StatusOr<FirmStore> store = FirmStore::BuildFromTable(*table, catalog->taxonomy());
  if (!store.ok()) {
    PrintError(std::string(store.status().message()));
    return kUsage;
  }
  *table = FirmTable();
  timer.Lap("columns");
  absl::Status written = WriteSnapshotFile(vm["out"].as<std::string>(), *store, catalog->taxonomy());
  if (!written.ok()) {
    PrintError(std::string(written.message()));
    return kUsage;
  }
  timer.Lap("write");
  timer.Done("index");
  return (vm.count("strict") && !rejects.empty()) ? kProblems : kOk;
}

}  // namespace polmatch::cli
