// polmatch batch: the nightly job (SPEC §5).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "engine/index/firm_store.h"
#include "engine/index/snapshot.h"
#include "engine/ingest/firm_reader.h"
#include "engine/ledger/nightly.h"
#include "engine/match/bulk_matcher.h"
#include "engine/output/night_from.h"
#include "engine/output/night_guard.h"
#include "engine/output/night_shard.h"
#include "engine/output/output_dir.h"
#include "engine/output/push_texts.h"
#include "engine/util/diagnostics.h"
#include "engine/taxonomy/taxonomy.h"
#include "engine/util/dates.h"
#include "engine/util/textproto.h"
#include "tools/cli.h"
#include "tools/progress.h"

namespace polmatch::cli {
namespace {

// The fact and tag ids of a tag library, in id order: equal for two reads of the same library.
std::string LibrarySignature(const Taxonomy& taxonomy) {
  std::string out;
  for (int f = 0; f < taxonomy.num_facts(); ++f) absl::StrAppend(&out, taxonomy.fact(FactId(f)).id, "\n");
  out += "\n";
  for (int t = 0; t < taxonomy.num_tags(); ++t) absl::StrAppend(&out, taxonomy.tag(TagId(t)).id, "\n");
  return out;
}

constexpr char kStateFile[] = "state.pmstate";

// --push STATUSES: "ELIGIBLE,NEAR_MISS" → a mask; nullopt for a status that is not pushable.
std::optional<StatusMask> ParsePushStatuses(const std::string& text) {
  StatusMask mask = 0;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    MatchStatus s;
    if (!MatchStatus_Parse(std::string(absl::StripAsciiWhitespace(part)), &s) || s == INELIGIBLE ||
        s == STATUS_UNSPECIFIED) {
      return std::nullopt;
    }
    mask |= static_cast<StatusMask>(1 << s);
  }
  if (mask == 0) return std::nullopt;
  return mask;
}

}  // namespace

int RunBatch(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("rules", po::value<std::string>()->required(), "rules directory (taxonomy/, policies/)")
      ("as-of", po::value<std::string>(), "evaluation date YYYY-MM-DD (default: today)")
      ("out", po::value<std::string>()->required(), "output directory, replaced atomically")
      ("previous", po::value<std::string>(), "the last run's output directory: push only what changed")
      ("rejects", po::value<std::string>(), "write rejected firm records here, one `file:line: reason` each")
      ("strict", "exit 1 when any firm record was rejected")
      ("no-pushes", "write no pushes.jsonl, only the state, summary and grants: seeds the next night's "
                    "--previous without telling every firm everything at once (a first rollout; at a "
                    "province's scale the first night's full push list is ~170 GB). What this night "
                    "found counts as told: the next night pushes only what changed since")
      ("push", po::value<std::string>()->default_value("ELIGIBLE,NEAR_MISS,UNDETERMINED"),
       "statuses pushed, comma-separated: ELIGIBLE, NEAR_MISS, UNDETERMINED, EXCLUDED, NOT_SELECTED. "
       "Give the same list every night: a firm whose status leaves the list gets a REVOKED push")
      ("ledger", po::value<std::string>(), "the grant ledger (SQLite, created on first use): after the "
                                           "night's files, propose tonight's grants and write proposals.csv (SPEC §7)")
      ("engine", po::value<std::string>()->default_value("bitset"),
       "bitset (the bulk matcher) or reference (one firm at a time; for cross-checks)")
      ("max-shrink", po::value<std::string>()->default_value("5%"),
       "with --previous: refuse (exit 1, --out untouched) when the registry has lost more than this "
       "share of the previous night's firms; 5% or 0.05")
      ("max-reject-rate", po::value<std::string>()->default_value("1%"),
       "with --previous: refuse when more than this share of the --firms records was rejected; "
       "1% or 0.01")
      ("force", "run even when --max-shrink or --max-reject-rate would refuse the night")
      ("shard", po::value<std::string>(), "K/N: match only the firms of shard K of N (0 ≤ K < N ≤ 4096; a "
                                          "firm's shard is FNV-1a 64 of its credit code mod N) and write a "
                                          "shard night for `polmatch merge`; --snapshot may be the whole "
                                          "snapshot or this shard's (index --shard)");
  AddThreadsOption(options);
  AddRegistryOptions(options);
  po::variables_map vm;
  if (auto exit = ParseArgs(
          argc, argv,
          "polmatch batch --rules DIR (--snapshot S | --firms F…) --as-of DATE --out DIR [--previous DIR]",
          "The nightly job: matches every firm against every policy and writes, atomically (a crash\n"
          "leaves the previous complete set):\n"
          "  summary.json   per policy: eligible, undetermined, near_miss, excluded, not_selected,\n"
          "                 auto_granted, benefit_total_yuan\n"
          "  grants.csv     the 免申即享 grants, ELIGIBLE firms with a positive amount:\n"
          "                 policy_id,credit_code,name,benefit_yuan\n"
          "  lists.csv      AUTO_GRANT items with no amount (名录库 entry, push library):\n"
          "                 policy_id,credit_code,name,benefit_note\n"
          "  pushes.jsonl   what to tell firms tonight (with --previous: only NEW/CHANGED/REVOKED)\n"
          "  state.pmstate  what the next night's --previous reads\n"
          "  proposals.csv  with --ledger: tonight's NEW/CHANGED/ADJUSTMENT/WITHDRAWN/REVIEW grants\n"
          "Same inputs give byte-identical outputs. Time and memory go to stderr.",
          options, {}, vm)) {
    return *exit;
  }
  const std::string engine = vm["engine"].as<std::string>();
  if (engine != "bitset" && engine != "reference") {
    PrintError("--engine must be bitset or reference");
    return kUsage;
  }
  const std::optional<StatusMask> push_statuses = ParsePushStatuses(vm["push"].as<std::string>());
  if (!push_statuses) {
    PrintError("--push takes statuses among ELIGIBLE,NEAR_MISS,UNDETERMINED,EXCLUDED,NOT_SELECTED");
    return kUsage;
  }
  if (vm.count("snapshot") == vm.count("firms")) {
    PrintError("give either --snapshot or --firms");
    return kUsage;
  }
  const std::optional<int> threads = ThreadsOption(vm);
  if (!threads) return kUsage;
  std::optional<ShardSpec> shard;
  if (vm.count("shard")) {
    absl::StatusOr<ShardSpec> parsed = ParseShardSpec(vm["shard"].as<std::string>());
    if (!parsed.ok()) {
      PrintError(absl::StrCat("--shard ", parsed.status().message()));
      return kUsage;
    }
    if (vm.count("ledger")) {
      PrintError("--ledger with --shard: the ledger is written once, by `polmatch merge --ledger`");
      return kUsage;
    }
    shard = *parsed;
  }
  const OutputDirKind& out_kind = shard ? ShardNightDirKind() : NightDirKind();
  // --out is replaced only if polmatch wrote it (or it is new or empty): refused before any work.
  if (absl::Status target = AtomicOutputDir::CheckTarget(vm["out"].as<std::string>(), out_kind); !target.ok()) {
    PrintError(absl::StrCat("--out ", target.message()));
    return kUsage;
  }
  NightGuards guards;
  for (const auto& [flag, ppm] : {std::pair<const char*, int64_t*>{"max-shrink", &guards.max_shrink_ppm},
                                  {"max-reject-rate", &guards.max_reject_ppm}}) {
    absl::StatusOr<int64_t> parsed = ParseFraction(vm[flag].as<std::string>());
    if (!parsed.ok()) {
      PrintError(absl::StrCat("--", flag, ": ", parsed.status().message()));
      return kUsage;
    }
    *ppm = *parsed;
  }
  std::optional<InputEncoding> encoding = EncodingOption(vm);
  if (!encoding) return kUsage;
  PhaseTimer timer;
  const std::string rules_dir = vm["rules"].as<std::string>();
  // The snapshot loads on a second thread (against its own copy of the taxonomy: the store keeps
  // no reference to it) and the previous night on a third while the policies compile here.
  std::atomic<double> snapshot_seconds{0};  // declared first: outlive the thread
  std::string snapshot_library;              // written by the thread, read after get()
  std::shared_ptr<const SnapshotSource> snapshot_file;  // used in place: checked before Commit
  std::future<absl::StatusOr<FirmStore>> snapshot_loading;
  if (vm.count("snapshot")) {
    snapshot_loading = std::async(std::launch::async, [&, path = vm["snapshot"].as<std::string>()]()
                                                          -> absl::StatusOr<FirmStore> {
      const auto start = std::chrono::steady_clock::now();
      Diagnostics diags;  // a bad taxonomy is reported by LoadRules below
      absl::StatusOr<Taxonomy> taxonomy = Taxonomy::LoadDir(rules_dir + "/taxonomy", &diags);
      if (!taxonomy.ok()) return taxonomy.status();
      snapshot_library = LibrarySignature(*taxonomy);
      absl::StatusOr<FirmStore> loaded = ReadSnapshotFile(path, *taxonomy, SnapshotLoad::kInPlace, &snapshot_file);
      snapshot_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return loaded;
    });
  }
  std::future<absl::StatusOr<NightResult>> previous_loading;
  if (vm.count("previous")) {
    previous_loading = std::async(std::launch::async, [dir = vm["previous"].as<std::string>(), shard]()
                                                          -> absl::StatusOr<NightResult> {
      if (shard) return ReadPreviousForShard(dir, *shard);
      const std::string path = dir + "/" + kStateFile;
      absl::StatusOr<NightResult> parsed = ReadStateFile(path);
      if (absl::IsNotFound(parsed.status())) {
        return absl::NotFoundError(absl::StrCat(path, ": cannot read the previous run's state"));
      }
      if (!parsed.ok() && !absl::StartsWith(parsed.status().message(), path)) {
        return absl::Status(parsed.status().code(), absl::StrCat(path, ": ", parsed.status().message()));
      }
      return parsed;
    });
  }
  int exit_code = kOk;
  std::optional<Catalog> catalog = LoadRules(rules_dir, &exit_code);
  if (!catalog) return exit_code;
  std::optional<absl::CivilDay> as_of = AsOfOption(vm);
  if (!as_of) return kUsage;
  timer.Lap("rules");

  // The previous night, read on a third thread; a bad --previous fails before any output is
  // written.
  std::optional<NightResult> previous;
  if (previous_loading.valid()) {
    absl::StatusOr<NightResult> parsed = previous_loading.get();
    if (!parsed.ok()) {
      PrintError(std::string(parsed.status().message()));
      return kUsage;
    }
    previous = std::move(*parsed);
    timer.Lap("previous");
  }

  std::vector<Rejection> rejects;
  IngestStats stats;  // --firms only
  std::optional<FirmStore> store;
  if (vm.count("snapshot")) {
    absl::StatusOr<FirmStore> loaded = snapshot_loading.get();
    if (!loaded.ok()) {
      PrintError(std::string(loaded.status().message()));
      return kUsage;
    }
    // The snapshot was fitted to the tag library as read by its own thread: it must be the one the
    // rules were compiled against (a library edited between the two reads would not be).
    if (snapshot_library != LibrarySignature(catalog->taxonomy())) {
      PrintError("the tag library changed while batch was reading it; run again");
      return kUsage;
    }
    store = std::move(*loaded);
    if (shard) {
      const uint32_t whole_rows = store->num_rows();
      absl::StatusOr<FirmStore> selected = SelectShard(std::move(*store), *shard);
      if (!selected.ok()) {
        PrintError(absl::StrCat(vm["snapshot"].as<std::string>(), ": ", selected.status().message()));
        return kUsage;
      }
      store = std::move(*selected);
      // A cut is a copy: the whole snapshot's pages are not read again.
      if (store->num_rows() != whole_rows && snapshot_file != nullptr) snapshot_file->DropPages();
    }
    std::fprintf(stderr, "  %-12s %8.3f s  (from the start, on a second thread)\n", "snapshot",
                 snapshot_seconds.load());
    timer.Lap("wait");
  } else {
    absl::StatusOr<std::vector<Firm>> firms = LoadFirms(vm["firms"].as<std::vector<std::string>>(),
                                                        catalog->taxonomy(), &rejects, &stats,
                                                        *encoding);
    if (!firms.ok()) {
      PrintError(std::string(firms.status().message()));
      return kUsage;
    }
    if (!rejects.empty()) {
      std::cerr << "batch: " << rejects.size() << " records rejected\n";
      for (size_t i = 0; i < rejects.size() && i < 5; ++i) std::cerr << "  " << rejects[i].ToString() << "\n";
    }
    if (!WriteRejectsOption(vm, rejects)) return kUsage;
    if (const std::string none = NoneAccepted(stats); !none.empty()) {
      PrintError(none + "; nothing written");
      return kProblems;
    }
    timer.Lap("ingest");
    if (shard) *firms = SelectShard(std::move(*firms), *shard);
    absl::StatusOr<FirmStore> built = FirmStore::Build(*firms, catalog->taxonomy());
    if (!built.ok()) {
      PrintError(std::string(built.status().message()));
      return kUsage;
    }
    store = std::move(*built);
    timer.Lap("index");
  }
  std::cerr << "batch: " << store->num_rows() << " firms × " << catalog->policies().size() << " policies"
            << (shard ? absl::StrCat(" (shard ", shard->ToString(), ")") : std::string()) << "\n";
  // SPEC §5's guards, before anything is written.
  if (previous) {
    const bool from_firms = vm.count("firms") > 0;
    absl::Status guarded = CheckNightGuards(
        guards, previous->num_firms(), store->num_rows(),
        from_firms ? std::optional<int64_t>(stats.records) : std::nullopt,
        from_firms ? std::optional<int64_t>(stats.rejected) : std::nullopt);
    if (!guarded.ok() && !vm.count("force")) {
      std::cerr << "batch: refused: " << guarded.message() << "\n";
      return kProblems;
    }
    if (!guarded.ok()) std::cerr << "batch: --force: running although " << guarded.message() << "\n";
  }
  WarnFoundedAfter(*store, *as_of, "batch");

  NightResult night;
  if (engine == "reference") {
    std::vector<Firm> firms;
    firms.reserve(store->num_rows());
    for (uint32_t row = 0; row < store->num_rows(); ++row) firms.push_back(store->ToFirm(row));
    ProgressBar bar("matching", firms.size());
    night = NightFromReference(*catalog, firms, *as_of, [&](size_t done) { bar.Update(done); });
    bar.Finish();
    timer.Lap("match");
  } else {
    absl::StatusOr<BulkMatcher> matcher = BulkMatcher::Create(*catalog, *store);
    if (!matcher.ok()) {
      PrintError(std::string(matcher.status().message()));
      return kProblems;
    }
    BulkResult result = matcher->Match(*as_of, *threads);
    timer.Lap("match");
    night = NightFromBulk(*catalog, *store, std::move(result), *as_of);
    timer.Lap("collect");
  }

  // Each file is streamed into the new directory (bounded buffers), then the directory replaces
  // --out in one exchange.
  absl::StatusOr<std::unique_ptr<AtomicOutputDir>> out = AtomicOutputDir::Create(vm["out"].as<std::string>(), out_kind);
  if (!out.ok()) {
    PrintError(std::string(out.status().message()));
    return kUsage;
  }
  StreamOptions stream;
  stream.threads = *threads;
  // Both engines number firms by store row.
  const PushTexts push_texts(*catalog, *as_of, &*store);
  stream.push_statuses = *push_statuses;
  stream.push_texts = &push_texts;
  if (shard) {  // a shard night: the night's files as if every limit candidate were not selected, and
                // shard.pmshard with what the merge needs
    ShardNightOptions shard_options;
    shard_options.catalog = &*catalog;
    shard_options.store = &*store;
    shard_options.as_of = *as_of;
    shard_options.shard = *shard;
    shard_options.pushes = !vm.count("no-pushes");
    shard_options.stream = stream;
    absl::Status written = WriteShardNight(std::move(night), previous ? &*previous : nullptr, shard_options, out->get());
    if (written.ok() && snapshot_file != nullptr) written = snapshot_file->Verify();
    if (written.ok()) written = (*out)->Commit();
    if (!written.ok()) {
      PrintError(std::string(written.message()));
      return kUsage;
    }
    timer.Lap("shard night");
    timer.Done("batch");
    return (vm.count("strict") && !rejects.empty()) ? kProblems : kOk;
  }
  // With --previous, a file equal to last run's is linked to it rather than written again.
  auto same_as = [&](const std::string& name) {
    return vm.count("previous") ? vm["previous"].as<std::string>() + "/" + name : std::string();
  };
  // grants.csv and lists.csv are made on a second thread while the state, the pushes and the
  // summary are made here; all are fsynced together by Commit().
  std::future<absl::Status> grants_writing = std::async(std::launch::async, [&] {
    absl::Status s = (*out)->WriteFile("grants.csv", [&](ByteSink* sink) { return WriteGrantsCsv(night, sink, stream); },
                                       same_as("grants.csv"));
    if (!s.ok()) return s;
    return (*out)->WriteFile("lists.csv", [&](ByteSink* sink) { return WriteListsCsv(night, sink, stream); },
                             same_as("lists.csv"));
  });
  absl::Status written =
      (*out)->WriteFile(kStateFile, [&](ByteSink* sink) { return WriteState(night, sink, stream); },
                        same_as(kStateFile));
  if (written.ok()) timer.Lap("state");
  if (written.ok() && !vm.count("no-pushes")) {
    written = (*out)->WriteFile("pushes.jsonl", [&](ByteSink* sink) {
      return WritePushesJsonl(night, previous ? &*previous : nullptr, sink, stream);
    });
  }
  if (written.ok()) timer.Lap("pushes");
  if (written.ok()) {
    written = (*out)->WriteFile("summary.json", [&](ByteSink* sink) { return sink->Write(SummaryJson(night)); },
                                same_as("summary.json"));
  }
  if (written.ok()) timer.Lap("summary");
  absl::Status grants_written = grants_writing.get();
  if (written.ok()) written = grants_written;
  if (written.ok()) timer.Lap("grants");
  // A snapshot truncated or rewritten by another program meanwhile: nothing is published.
  if (written.ok() && snapshot_file != nullptr) written = snapshot_file->Verify();
  if (written.ok() && vm.count("ledger")) {  // one transaction, once every other file is written
    absl::StatusOr<LedgerNightCounts> ledger =
        RunLedgerNight(vm["ledger"].as<std::string>(), rules_dir, *catalog, night, *store, out->get(),
                       same_as("proposals.csv"));
    if (ledger.ok()) std::cerr << "batch: ledger: " << DescribeCounts(*ledger) << "\n";
    written = ledger.status();
    if (written.ok()) timer.Lap("ledger");
  }
  if (written.ok()) written = (*out)->Commit();
  if (!written.ok()) {
    PrintError(std::string(written.message()));
    return kUsage;
  }
  if (!(*out)->kept().empty()) {
    std::cerr << "batch: kept the previous outputs in " << (*out)->kept()
              << ": a file polmatch did not write appeared there\n";
  }
  timer.Lap("commit");
  timer.Done("batch");
  return (vm.count("strict") && !rejects.empty()) ? kProblems : kOk;
}

}  // namespace polmatch::cli
