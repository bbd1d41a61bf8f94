// polmatch merge: N shard nights (batch --shard K/N) into the night an unsharded batch writes.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "engine/output/night_shard.h"
#include "engine/output/output_dir.h"
#include "tools/cli.h"
#include "tools/progress.h"

namespace polmatch::cli {

int RunMerge(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("out", po::value<std::string>()->required(), "the merged night's directory, replaced atomically")
      ("shards", po::value<std::vector<std::string>>()->composing(), "shard night directories (also positional)");
  po::positional_options_description positional;
  positional.add("shards", -1);
  po::variables_map vm;
  if (auto exit = ParseArgs(
          argc, argv, "polmatch merge --out DIR SHARD_DIR…",
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
  absl::StatusOr<MergeStats> merged = MergeShardNights(vm["shards"].as<std::vector<std::string>>(), out->get());
  absl::Status committed = merged.ok() ? (*out)->Commit() : merged.status();
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
