// polmatch merge: N shard nights (batch --shard K/N) into the night an unsharded batch writes.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "engine/api/nightly.h"
#include "engine/output/night_shard.h"
#include "engine/output/output_dir.h"
#include "tools/cli.h"
#include "tools/progress.h"

namespace polmatch::cli {

int RunMerge(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("out", po::value<std::string>()->required(), "the merged night's directory, replaced atomically")
      ("shards", po::value<std::vector<std::string>>()->composing(), "shard night directories (also positional)")
      ("ledger", po::value<std::string>(), "the grant ledger (SQLite): after the merged files, propose tonight's "
                                           "grants and write proposals.csv, as batch --ledger does (SPEC §7); "
                                           "needs --rules and the whole registry (--snapshot or --firms)")
      ("rules", po::value<std::string>(), "with --ledger: the rules directory the shards used");
  AddRegistryOptions(options);
  po::positional_options_description positional;
  positional.add("shards", -1);
  po::variables_map vm;
  if (auto exit = ParseArgs(
          argc, argv, "polmatch merge --out DIR SHARD_DIR… [--ledger L --rules DIR (--snapshot S | --firms F…)]",
          "Combines the N shard nights of one night (`batch --shard K/N`, K = 0 … N-1, each in its own\n"
          "directory, any order) into exactly the files an unsharded `batch` of the same inputs writes:\n"
          "summary.json, grants.csv, lists.csv, pushes.jsonl (unless the shards ran --no-pushes) and\n"
          "state.pmstate. Policies with a `limit` are re-ranked across the shards: each shard kept its\n"
          "local top-`limit` as candidates with their rank values and both versions of their lines.\n"
          "The files are k-way merges in the unsharded order; --out is replaced atomically and obeys\n"
          "the same rules as batch --out. Afterwards each shard night gets selection.pmsel (which of\n"
          "its candidates were selected), so that the next night's `batch --shard K/N --previous\n"
          "SHARD_DIR` reads only its own shard; `--previous MERGED_DIR` works as well.\n"
          "Refused (exit 2, nothing written, one line saying which): a missing or duplicated shard,\n"
          "shards of different as_of, rules, N or --no-pushes, a directory that is not a shard\n"
          "night, and any shard file whose bytes differ from what its shard recorded (checksums).\n"
          "With --ledger L --rules DIR --snapshot WHOLE (or --firms), the merge is the ledger's one\n"
          "writer: it proposes tonight's grants and writes proposals.csv as batch --ledger does.\n"
          "Example:\n"
          "  polmatch batch --rules rules --snapshot s0.snap --shard 0/2 --as-of 2021-06-30 --out n/0\n"
          "  polmatch batch --rules rules --snapshot s1.snap --shard 1/2 --as-of 2021-06-30 --out n/1\n"
          "  polmatch merge --out night-2021-06-30 n/0 n/1",
          options, positional, vm)) {
    return *exit;
  }
  if (!vm.count("shards")) {
    PrintError("give the shard night directories (polmatch merge --out DIR SHARD_DIR…)");
    return kUsage;
  }
  const bool ledger = vm.count("ledger") > 0;
  if (ledger && (!vm.count("rules") || vm.count("snapshot") == vm.count("firms"))) {
    PrintError("--ledger needs --rules and the whole registry (--snapshot or --firms): the ledger keeps each "
               "grant's firm data");
    return kUsage;
  }
  if (!ledger && (vm.count("rules") || vm.count("snapshot") || vm.count("firms"))) {
    PrintError("--rules, --snapshot and --firms are for --ledger only");
    return kUsage;
  }
  const std::string out_dir = vm["out"].as<std::string>();
  if (absl::Status target = AtomicOutputDir::CheckTarget(out_dir); !target.ok()) {
    PrintError(absl::StrCat("--out ", target.message()));
    return kUsage;
  }
  PhaseTimer timer;
  absl::StatusOr<std::unique_ptr<AtomicOutputDir>> out = AtomicOutputDir::Create(out_dir);
  if (!out.ok()) {
    PrintError(std::string(out.status().message()));
    return kUsage;
  }
  // With --ledger: the rules and the whole registry, loaded first (a bad one fails before any work).
  std::optional<Catalog> catalog;
  std::optional<FirmStore> store;
  if (ledger) {
    int exit_code = kOk;
    catalog = LoadRules(vm["rules"].as<std::string>(), &exit_code);
    if (!catalog) return exit_code;
    store = LoadRegistry(vm, catalog->taxonomy(), &exit_code);
    if (!store) return exit_code;
    timer.Lap("registry");
  }
  NightResult night;
  absl::StatusOr<MergeStats> merged = MergeShardNights(vm["shards"].as<std::vector<std::string>>(), out->get(),
                                                       StreamOptions(), ledger ? &night : nullptr);
  absl::Status committed = merged.status();
  if (committed.ok() && ledger) {
    absl::StatusOr<LedgerNightCounts> counts = ProposeMergedNight(
        vm["ledger"].as<std::string>(), vm["rules"].as<std::string>(), *catalog, *store, *merged, night, out->get());
    if (counts.ok()) std::cerr << "merge: ledger: " << DescribeCounts(*counts) << "\n";
    committed = counts.status();
  }
  if (committed.ok()) committed = (*out)->Commit();
  if (!committed.ok()) {
    PrintError(std::string(committed.message()));
    return kUsage;
  }
  timer.Lap("merge");
  for (const auto& [dir, bytes] : merged->selections) {
    if (absl::Status s = WriteShardSelection(dir, bytes); !s.ok()) {
      PrintError(absl::StrCat("merged, but ", s.message()));
      return kUsage;
    }
  }
  std::cerr << "merge: " << merged->selections.size() << " shards, " << merged->firms << " firms, "
            << merged->grants << " grants, " << merged->lists << " list entries, " << merged->pushes
            << " pushes, " << merged->candidates << " limit candidates\n";
  timer.Done("merge");
  return kOk;
}

}  // namespace polmatch::cli
