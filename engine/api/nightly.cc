#include "engine/api/nightly.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/index/snapshot.h"
#include "engine/match/bulk_matcher.h"
#include "engine/output/night_from.h"
#include "engine/output/output_dir.h"
#include "engine/output/push_texts.h"
#include "engine/taxonomy/taxonomy.h"
#include "engine/util/dates.h"
#include "engine/util/parallel.h"
#include "engine/util/status_macros.h"

namespace polmatch {
namespace {

constexpr char kStateFile[] = "state.pmstate";
constexpr char kFailurePayload[] = "type.polmatch/NightlyFailure";

// `status` marked with why the night failed; an unmarked error is kBadInput.
absl::Status Failure(absl::Status status, absl::string_view kind) {
  status.SetPayload(kFailurePayload, absl::Cord(kind));
  return status;
}

// The fact and tag ids of a tag library, in id order: equal for two reads of the same library.
std::string LibrarySignature(const Taxonomy& taxonomy) {
  std::string out;
  for (int f = 0; f < taxonomy.num_facts(); ++f) absl::StrAppend(&out, taxonomy.fact(FactId(f)).id, "\n");
  out += "\n";
  for (int t = 0; t < taxonomy.num_tags(); ++t) absl::StrAppend(&out, taxonomy.tag(TagId(t)).id, "\n");
  return out;
}

// The night's phases, each timed from the end of the one before.
class Phases {
 public:
  explicit Phases(NightlyObserver* observer) : observer_(observer) {}
  void Lap(absl::string_view phase) { LapAt(phase, std::chrono::steady_clock::now()); }
  // A phase that ended at `end` (another thread's work, waited for since the last lap): no time
  // when it ended before that lap.
  void LapAt(absl::string_view phase, std::chrono::steady_clock::time_point end) {
    end = std::max(end, last_);
    observer_->OnPhase(phase, std::chrono::duration<double>(end - last_).count(), false);
    last_ = end;
  }
  std::chrono::steady_clock::time_point start() const { return start_; }

 private:
  NightlyObserver* observer_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
};

// The rules, their diagnostics told in order.
absl::StatusOr<Catalog> LoadCatalog(const std::string& dir, NightlyObserver* observer) {
  RETURN_IF_ERROR(CheckRulesDir(dir));
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Catalog::LoadDir(dir, &diags);
  diags.Sort();
  for (const Diagnostic& d : diags.items()) observer->OnDiagnostic(d);
  if (!catalog.ok()) return Failure(catalog.status(), "rules");
  return catalog;
}

// The last night: its state file, or with a shard the shard's part of a shard or merged night.
absl::StatusOr<NightResult> ReadPrevious(const std::string& dir, const std::optional<ShardSpec>& shard) {
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
}

// The snapshot, read on its own thread against its own copy of the tag library (the store keeps
// no reference to it); checked against the rules' library once both are read.
struct SnapshotRead {
  absl::StatusOr<FirmStore> store = absl::UnknownError("not read");
  std::string library;                           // LibrarySignature of the library it was fitted to
  std::shared_ptr<const SnapshotSource> file;   // used in place: verified before publishing
  double seconds = 0;                            // from the start of the night
};

void ReadSnapshot(const std::string& rules_dir, const std::string& path,
                  std::chrono::steady_clock::time_point start, SnapshotRead* out) {
  Diagnostics diags;  // a bad taxonomy is reported by the rules
  absl::StatusOr<Taxonomy> taxonomy = Taxonomy::LoadDir(rules_dir + "/taxonomy", &diags);
  if (!taxonomy.ok()) {
    out->store = taxonomy.status();
    return;
  }
  out->library = LibrarySignature(*taxonomy);
  out->store = ReadSnapshotFile(path, *taxonomy, SnapshotLoad::kInPlace, &out->file);
  out->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// "warning: N firm(s) founded after …" naming the first, or "" when none is; `count` gets N.
std::string FoundedAfterWarning(const FirmStore& store, absl::CivilDay as_of, int64_t* count) {
  *count = 0;
  std::optional<uint32_t> first;
  for (uint32_t row = 0; row < store.num_rows(); ++row) {
    const std::optional<absl::CivilDay> founded = store.founded(row);
    if (!founded || *founded <= as_of) continue;
    if (!first) first = row;
    ++*count;
  }
  if (*count == 0) return "";
  return absl::StrCat("warning: ", *count, " firm(s) founded after the as-of date ", FormatDate(as_of),
                      " (first ", store.credit_code(*first), ", founded ", FormatDate(*store.founded(*first)),
                      "): matched as given; their founding-date conditions see a negative age");
}

// The registry of firm files: read, rejects told and kept, indexed (cut to the shard).
absl::StatusOr<FirmStore> IndexFirmFiles(const NightlyOptions& o, const Taxonomy& taxonomy, Phases& phases,
                                         NightlyObserver* observer, NightlyReport* report) {
  absl::StatusOr<std::vector<Firm>> firms =
      LoadFirms(o.firm_files, taxonomy, &report->rejects, &report->ingest, o.encoding);
  if (!firms.ok()) return firms.status();
  if (!report->rejects.empty()) {
    std::string text = absl::StrCat(report->rejects.size(), " records rejected");
    for (size_t i = 0; i < report->rejects.size() && i < 5; ++i) absl::StrAppend(&text, "\n  ", report->rejects[i].ToString());
    observer->OnMessage(text);
  }
  RETURN_IF_ERROR(observer->OnRejects(report->rejects));
  if (const std::string none = NoneAccepted(report->ingest); !none.empty()) {
    return Failure(absl::FailedPreconditionError(none + "; nothing written"), "problem");
  }
  phases.Lap("ingest");
  if (o.shard) *firms = SelectShard(std::move(*firms), *o.shard);
  absl::StatusOr<FirmStore> built = FirmStore::Build(*firms, taxonomy);
  if (built.ok()) phases.Lap("index");
  return built;
}

// The night's files into `out` (not yet committed): grants.csv and lists.csv on a second thread
// while the state, the pushes and the summary are written here. With a previous night, a file
// equal to its own is linked to it rather than written again.
absl::Status WriteNightFiles(const NightlyOptions& o, const NightResult& night, const NightResult* previous,
                             const StreamOptions& stream, AtomicOutputDir* out, Phases& phases) {
  auto same_as = [&](const std::string& name) {
    return o.previous_dir ? *o.previous_dir + "/" + name : std::string();
  };
  absl::Status written, grants_written;
  ParallelFor(2, [&](int t) {
    if (t == 1) {
      grants_written = out->WriteFile(
          "grants.csv", [&](ByteSink* sink) { return WriteGrantsCsv(night, sink, stream); }, same_as("grants.csv"));
      if (grants_written.ok()) {
        grants_written = out->WriteFile(
            "lists.csv", [&](ByteSink* sink) { return WriteListsCsv(night, sink, stream); }, same_as("lists.csv"));
      }
      return;
    }
    written = out->WriteFile(kStateFile, [&](ByteSink* sink) { return WriteState(night, sink, stream); },
                             same_as(kStateFile));
    if (written.ok()) phases.Lap("state");
    if (written.ok() && o.pushes) {
      written = out->WriteFile("pushes.jsonl", [&](ByteSink* sink) {
        return WritePushesJsonl(night, previous, sink, stream);
      });
    }
    if (written.ok()) phases.Lap("pushes");
    if (written.ok()) {
      written = out->WriteFile("summary.json", [&](ByteSink* sink) { return sink->Write(SummaryJson(night)); },
                               same_as("summary.json"));
    }
    if (written.ok()) phases.Lap("summary");
  });
  RETURN_IF_ERROR(written);
  RETURN_IF_ERROR(grants_written);
  phases.Lap("grants");
  return absl::OkStatus();
}

}  // namespace

NightlyFailure NightlyFailureOf(const absl::Status& status) {
  const absl::optional<absl::Cord> kind = status.GetPayload(kFailurePayload);
  if (!kind) return NightlyFailure::kBadInput;
  if (*kind == "rules") return NightlyFailure::kRulesInvalid;
  if (*kind == "refused") return NightlyFailure::kRefused;
  return NightlyFailure::kProblem;
}

absl::StatusOr<NightlyReport> RunNightly(const NightlyOptions& o, NightlyObserver* observer) {
  NightlyObserver silent;
  if (observer == nullptr) observer = &silent;
  if (o.snapshot_path.has_value() == !o.firm_files.empty()) {
    return absl::InvalidArgumentError("give either --snapshot or --firms");
  }
  if (o.shard && o.ledger_path) {
    return absl::InvalidArgumentError("--ledger with --shard: the ledger is written once, by `polmatch merge --ledger`");
  }
  const int threads = std::max(1, o.threads);
  const OutputDirKind& out_kind = o.shard ? ShardNightDirKind() : NightDirKind();
  // --out is replaced only if polmatch wrote it (or it is new or empty): refused before any work.
  if (absl::Status target = AtomicOutputDir::CheckTarget(o.out_dir, out_kind); !target.ok()) {
    return absl::Status(target.code(), absl::StrCat("--out ", target.message()));
  }
  Phases phases(observer);

  // The rules compile here while the snapshot loads on a second thread and the previous night on
  // a third.
  absl::StatusOr<Catalog> catalog = absl::UnknownError("not loaded");
  SnapshotRead snapshot;
  absl::StatusOr<NightResult> previous_read = absl::UnknownError("not read");
  std::chrono::steady_clock::time_point previous_done;
  std::vector<std::function<void()>> loads;
  loads.push_back([&] {
    catalog = LoadCatalog(o.rules_dir, observer);
    if (catalog.ok()) phases.Lap("rules");
  });
  if (o.snapshot_path) loads.push_back([&] { ReadSnapshot(o.rules_dir, *o.snapshot_path, phases.start(), &snapshot); });
  if (o.previous_dir) {
    loads.push_back([&] {
      previous_read = ReadPrevious(*o.previous_dir, o.shard);
      previous_done = std::chrono::steady_clock::now();
    });
  }
  ParallelFor(static_cast<int>(loads.size()), [&](int t) { loads[static_cast<size_t>(t)](); });
  RETURN_IF_ERROR(catalog.status());
  // A bad --previous fails before any output is written.
  std::optional<NightResult> previous;
  if (o.previous_dir) {
    RETURN_IF_ERROR(previous_read.status());
    previous = std::move(*previous_read);
    phases.LapAt("previous", previous_done);  // the wait for the previous night after the rules
  }

  NightlyReport report;
  std::optional<FirmStore> store;
  if (o.snapshot_path) {
    RETURN_IF_ERROR(snapshot.store.status());
    // The snapshot was fitted to the tag library as read by its own thread: it must be the one the
    // rules were compiled against (a library edited between the two reads would not be).
    if (snapshot.library != LibrarySignature(catalog->taxonomy())) {
      return absl::InvalidArgumentError("the tag library changed while batch was reading it; run again");
    }
    store = std::move(*snapshot.store);
    if (o.shard) {
      const uint32_t whole_rows = store->num_rows();
      absl::StatusOr<FirmStore> selected = SelectShard(std::move(*store), *o.shard);
      if (!selected.ok()) {
        return absl::Status(selected.status().code(), absl::StrCat(*o.snapshot_path, ": ", selected.status().message()));
      }
      store = std::move(*selected);
      // A cut is a copy: the whole snapshot's pages are not read again.
      if (store->num_rows() != whole_rows && snapshot.file != nullptr) snapshot.file->DropPages();
    }
    observer->OnPhase("snapshot", snapshot.seconds, true);
    phases.Lap("wait");
  } else {
    ASSIGN_OR_RETURN(store, IndexFirmFiles(o, catalog->taxonomy(), phases, observer, &report));
  }
  report.firms = store->num_rows();
  report.policies = static_cast<int64_t>(catalog->policies().size());
  observer->OnMessage(absl::StrCat(report.firms, " firms × ", report.policies, " policies",
                                   o.shard ? absl::StrCat(" (shard ", o.shard->ToString(), ")") : std::string()));
  // SPEC §5's guards, before anything is written.
  if (previous) {
    const bool from_firms = !o.snapshot_path;
    absl::Status guarded = CheckNightGuards(
        o.guards, previous->num_firms(), store->num_rows(),
        from_firms ? std::optional<int64_t>(report.ingest.records) : std::nullopt,
        from_firms ? std::optional<int64_t>(report.ingest.rejected) : std::nullopt);
    if (!guarded.ok() && !o.force) return Failure(guarded, "refused");
    if (!guarded.ok()) {
      report.guard_overridden = std::string(guarded.message());
      observer->OnMessage(absl::StrCat("--force: running although ", guarded.message()));
    }
  }
  if (std::string warning = FoundedAfterWarning(*store, o.as_of, &report.founded_after); !warning.empty()) {
    observer->OnMessage(warning);
  }

  NightResult night;
  if (o.matcher == NightlyMatcher::kReference) {
    std::vector<Firm> firms;
    firms.reserve(store->num_rows());
    for (uint32_t row = 0; row < store->num_rows(); ++row) firms.push_back(store->ToFirm(row));
    night = NightFromReference(*catalog, firms, o.as_of, [&](size_t done) { observer->OnProgress(done, firms.size()); });
    phases.Lap("match");
  } else {
    absl::StatusOr<BulkMatcher> matcher = BulkMatcher::Create(*catalog, *store);
    if (!matcher.ok()) return Failure(matcher.status(), "problem");
    BulkResult result = matcher->Match(o.as_of, threads);
    phases.Lap("match");
    night = NightFromBulk(*catalog, *store, std::move(result), o.as_of);
    phases.Lap("collect");
  }

  // Each file is streamed into the new directory (bounded buffers), then the directory replaces
  // --out in one exchange.
  ASSIGN_OR_RETURN(std::unique_ptr<AtomicOutputDir> out, AtomicOutputDir::Create(o.out_dir, out_kind));
  StreamOptions stream;
  stream.threads = threads;
  const PushTexts push_texts(*catalog, o.as_of, &*store);  // both matchers number firms by store row
  stream.push_statuses = o.push_statuses;
  stream.push_texts = &push_texts;
  if (o.shard) {  // a shard night: the night's files as if every limit candidate were not selected,
                  // and shard.pmshard with what the merge needs
    ShardNightOptions shard_options;
    shard_options.catalog = &*catalog;
    shard_options.store = &*store;
    shard_options.as_of = o.as_of;
    shard_options.shard = *o.shard;
    shard_options.pushes = o.pushes;
    shard_options.stream = stream;
    absl::Status written = WriteShardNight(std::move(night), previous ? &*previous : nullptr, shard_options, out.get());
    if (written.ok() && snapshot.file != nullptr) written = snapshot.file->Verify();
    if (written.ok()) written = out->Commit();
    RETURN_IF_ERROR(written);
    report.kept = out->kept();
    phases.Lap("shard night");
    return report;
  }
  // All files are fsynced together by Commit().
  absl::Status written = WriteNightFiles(o, night, previous ? &*previous : nullptr, stream, out.get(), phases);
  // A snapshot truncated or rewritten by another program meanwhile: nothing is published.
  if (written.ok() && snapshot.file != nullptr) written = snapshot.file->Verify();
  if (written.ok() && o.ledger_path) {  // one transaction, once every other file is written
    absl::StatusOr<LedgerNightCounts> ledger =
        RunLedgerNight(*o.ledger_path, o.rules_dir, *catalog, night, *store, out.get(),
                       o.previous_dir ? *o.previous_dir + "/proposals.csv" : std::string());
    if (ledger.ok()) {
      report.ledger = *ledger;
      observer->OnMessage(absl::StrCat("ledger: ", DescribeCounts(*ledger)));
      phases.Lap("ledger");
    }
    written = ledger.status();
  }
  if (written.ok()) written = out->Commit();
  RETURN_IF_ERROR(written);
  report.kept = out->kept();
  if (!report.kept.empty()) {
    observer->OnMessage(absl::StrCat("kept the previous outputs in ", report.kept,
                                     ": a file polmatch did not write appeared there"));
  }
  phases.Lap("commit");
  return report;
}

absl::StatusOr<LedgerNightCounts> ProposeMergedNight(const std::string& ledger_path, const std::string& rules_dir,
                                                     const Catalog& catalog, const FirmStore& store,
                                                     const MergeStats& merged, NightResult& night,
                                                     AtomicOutputDir* out) {
  if (merged.rules_digest != RulesDigest(catalog)) {
    return absl::InvalidArgumentError("--rules are not the rules the shards were matched with");
  }
  // The merged night's firms are the registry's rows, in the same order.
  bool same_firms = store.num_rows() == night.num_firms();
  for (uint32_t row = 0; same_firms && row < store.num_rows(); ++row) {
    same_firms = store.credit_code(row) == night.code(row);
  }
  if (!same_firms) {
    return absl::InvalidArgumentError("the registry given is not the one the shards matched (its firms differ)");
  }
  night.name_source = &store;
  return RunLedgerNight(ledger_path, rules_dir, catalog, night, store, out);
}

}  // namespace polmatch
