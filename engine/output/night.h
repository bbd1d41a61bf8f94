// File: night.h
//
// NightResult is one nightly run's outcome: what the batch outputs are written from, what the
// state file keeps, and what the next night diffs against. Firms are numbered by "firm id" (the
// matcher's row order, whatever it is); `code_order` lists them by credit code, so outputs are
// sorted by credit code and two nights are matched by credit code. When two nights have the same
// firms in the same order (the common case: an unchanged registry), their bitmaps compare
// directly. INELIGIBLE is implicit (a firm in no bitmap of a policy).
#ifndef POLMATCH_OUTPUT_NIGHT_H_
#define POLMATCH_OUTPUT_NIGHT_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/index/firm_store.h"
#include "engine/match/outcome.h"
#include "engine/output/output_dir.h"
#include "engine/util/decimal.h"
#include "proto/polmatch.pb.h"
#include "roaring/roaring.hh"

namespace polmatch {

// Statuses kept as bitmaps (INELIGIBLE is the complement).
inline constexpr std::array<MatchStatus, 5> kKeptStatuses = {ELIGIBLE, UNDETERMINED, NEAR_MISS,
                                                             EXCLUDED, NOT_SELECTED};
// Statuses told to firms in pushes.jsonl by default (SPEC §5 `--push`).
inline bool IsPushable(MatchStatus s) {
  return s == ELIGIBLE || s == NEAR_MISS || s == UNDETERMINED;
}
// A set of statuses as bits (1 << status).
using StatusMask = uint8_t;
inline constexpr StatusMask kDefaultPushStatuses = (1 << ELIGIBLE) | (1 << NEAR_MISS) | (1 << UNDETERMINED);

struct PolicyNight {
  std::string id;
  bool auto_grant = false;
  bool in_force = true;  // in its validity window tonight (not kept in the state file)
  std::array<Roaring, 7> by_status;  // indexed by MatchStatus; INELIGIBLE left empty
  // Known benefits (fen-rounded raw Decimal) of firms in ELIGIBLE/EXCLUDED/NOT_SELECTED, by firm id.
  std::vector<std::pair<uint32_t, int64_t>> benefits;
  // An AUTO_GRANT policy that states no amount (a 名录库 entry, a push library): its ELIGIBLE
  // firms are a list (lists.csv, with this note), not grants. From the catalog; not in the state.
  bool listed = false;
  std::string benefit_note;

  MatchStatus StatusOf(uint32_t firm) const;
  std::optional<Decimal> BenefitOf(uint32_t firm) const;  // binary search
};

struct NightResult {
  static constexpr size_t kCodeLen = 18;

  std::string as_of;
  std::string codes;                   // kCodeLen bytes per firm, by firm id; unique
  std::vector<uint32_t> code_order;    // firm ids by ascending credit code
  std::vector<std::string> names;      // by firm id, unless `name_source` is set
  const FirmStore* name_source = nullptr;  // names of store rows (firm id = row)
  std::vector<PolicyNight> policies;   // ascending id

  uint32_t num_firms() const { return static_cast<uint32_t>(codes.size() / kCodeLen); }
  absl::string_view code(uint32_t firm) const {
    return absl::string_view(codes).substr(size_t{firm} * kCodeLen, kCodeLen);
  }
  absl::string_view name(uint32_t firm) const {
    if (name_source != nullptr) return name_source->name(firm);
    return firm < names.size() ? absl::string_view(names[firm]) : absl::string_view();
  }
};

// Fills a NightResult one outcome at a time. Policy ids must be given in ascending order; firms
// may be added in any order (each credit code once).
class NightBuilder {
 public:
  NightBuilder(std::string as_of, std::vector<std::string> policy_ids,
               std::vector<bool> auto_grant);
  // Returns the new firm's id.
  uint32_t AddFirm(std::string credit_code, std::string name);
  // The policy states no amount: its ELIGIBLE firms go to lists.csv with `benefit_note`.
  void SetListed(size_t policy, std::string benefit_note);
  void Set(uint32_t firm, size_t policy, const Outcome& outcome);
  NightResult Finish() &&;

 private:
  NightResult night_;
};

// The state file: a versioned header, the credit codes and their order, per policy the status
// bitmaps (portable Roaring) and benefits, and a 64-bit checksum of everything before it. Names
// are not kept.
std::string SerializeState(const NightResult& night);
absl::StatusOr<NightResult> ParseState(absl::string_view bytes);
// ParseState of a file: mapped, checksummed and parsed 16 MiB at a time, each window dropped from
// memory once done (S2's state is 1.7 GB). The same errors as ParseState; NotFound when the file
// cannot be opened.
absl::StatusOr<NightResult> ReadStateFile(const std::string& path);

// A state file read one policy at a time: the frame is verified (the checksum, over the whole
// file) and the firms are read when it is opened; Next parses the policies in file order. Memory
// stays bounded: the firms (22 bytes each), the policy given, and for a file a 16 MiB window of
// the mapping (pages are dropped once checksummed, and again once parsed). ParseState and
// ReadStateFile are loops over it: the same parser, the same errors.
//
// Example:
//   absl::StatusOr<std::unique_ptr<StateReader>> r = StateReader::Open("night/state.pmstate");
//   PolicyNight p;
//   while (true) { absl::StatusOr<bool> more = (*r)->Next(&p); if (!more.ok() || !*more) break; … }
class StateReader {
 public:
  // The bytes of a state file; they must outlive the reader.
  static absl::StatusOr<std::unique_ptr<StateReader>> FromBytes(absl::string_view bytes);
  // A state file, mapped. NotFound when it cannot be opened; DataLoss naming the file when it
  // shrinks while it is read.
  static absl::StatusOr<std::unique_ptr<StateReader>> Open(const std::string& path);
  ~StateReader();
  StateReader(const StateReader&) = delete;
  StateReader& operator=(const StateReader&) = delete;

  // as_of, codes and code_order (no policies). The caller may move them out, e.g. once it has
  // what it needs of them.
  NightResult& firms();
  uint32_t num_policies() const;
  // The next policy into `*policy` (replaced); false once all were given and nothing trails them.
  // After an error the reader is done (Next keeps failing).
  absl::StatusOr<bool> Next(PolicyNight* policy);

 private:
  struct Impl;
  explicit StateReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// summary.json, grants.csv, lists.csv and pushes.jsonl contents (SPEC §5). grants.csv: the
// ELIGIBLE firms of AUTO_GRANT policies with a known, positive amount; lists.csv: those of
// AUTO_GRANT policies that state no amount (`listed`), with the policy's benefit_note.
// `previous` = the last run's state for a diff; without it every pushable outcome is pushed as NEW.
BatchSummary Summarize(const NightResult& night);
std::string SummaryJson(const NightResult& night);
std::string SummaryJson(const BatchSummary& summary);  // as summary.json prints it
std::string GrantsCsv(const NightResult& night);
std::string ListsCsv(const NightResult& night);
std::string PushesJsonl(const NightResult& night, const NightResult* previous,
                        const struct StreamOptions& options);
std::string PushesJsonl(const NightResult& night, const NightResult* previous);

// The same bytes, streamed to `sink` in chunks of about `chunk` bytes. Memory stays bounded: the
// chunk, plus for the pushes a compact per-policy list (~5 bytes a push) of one group of credit
// codes at a time. Pushes are made per policy (in parallel), then written window by window of
// 65,536 credit codes, ordered within a window by a counting sort — no global sort of the
// pushes (S2's first night has 1.5 billion).
// What a push tells a firm beyond codes and statuses (SPEC §5): written by PushTexts
// (push_texts.h) from the catalog and the firm data; without one, pushes carry the codes, statuses,
// previous_* and reason only.
struct PushFacts {
  int policy = -1;                 // PushTextSource::PolicyIndex of the policy; -1 = not in tonight's catalog
  uint32_t firm = UINT32_MAX;      // tonight's firm id; UINT32_MAX = gone from the registry
  MatchStatus status = INELIGIBLE;
  Push::Change change = Push::NEW;
  std::optional<Decimal> benefit;
  MatchStatus previous_status = STATUS_UNSPECIFIED;  // CHANGED, REVOKED
  std::optional<Decimal> previous_benefit;
  Push::Reason reason = Push::REASON_UNSPECIFIED;    // REVOKED
};
struct PushWords {
  std::string title, message, missing, lost_condition;
  std::vector<std::string> data_needed;
};
class PushTextSource {
 public:
  virtual ~PushTextSource() = default;
  virtual int PolicyIndex(absl::string_view policy_id) const = 0;
  // Fills `out` (cleared first). Called from several threads at once.
  virtual void Describe(const PushFacts& facts, PushWords* out) const = 0;
};

struct StreamOptions {
  size_t chunk = ChunkedWriter::kDefaultChunk;
  int threads = 1;  // pushes: policies are diffed on this many threads
  // pushes: at most about this many are listed in memory at a time (~5 bytes each); more are
  // written in several passes over groups of credit codes.
  uint64_t group_pushes = uint64_t{1} << 26;
  // pushes: the statuses pushed (SPEC §5 `--push`), on both nights of a diff; and the words.
  StatusMask push_statuses = kDefaultPushStatuses;
  const PushTextSource* push_texts = nullptr;
};
absl::Status WriteState(const NightResult& night, ByteSink* sink, const StreamOptions& options = {});
// The state file written a piece at a time, the same bytes as WriteState (which is a loop over
// it): Begin; the credit codes (kCodeLen bytes per firm, by firm id) in pieces; code_order in
// pieces; then each policy, ascending id; Finish appends the checksum. Finish (and any call out
// of that order) fails with Internal when the pieces do not add up to what Begin announced.
// Memory: one chunk (StreamOptions::chunk) and the policy being written.
class StateWriter {
 public:
  explicit StateWriter(ByteSink* sink, const StreamOptions& options = {});
  ~StateWriter();
  StateWriter(const StateWriter&) = delete;
  StateWriter& operator=(const StateWriter&) = delete;

  absl::Status Begin(absl::string_view as_of, uint32_t num_firms, uint32_t num_policies);
  absl::Status AddCodes(absl::string_view codes);
  absl::Status AddCodeOrder(const uint32_t* firms, size_t n);
  absl::Status AddPolicy(const PolicyNight& policy);
  absl::Status Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
absl::Status WriteGrantsCsv(const NightResult& night, ByteSink* sink, const StreamOptions& options = {});
absl::Status WriteListsCsv(const NightResult& night, ByteSink* sink, const StreamOptions& options = {});
absl::Status WritePushesJsonl(const NightResult& night, const NightResult* previous, ByteSink* sink,
                              const StreamOptions& options = {});

}  // namespace polmatch

#endif  // POLMATCH_OUTPUT_NIGHT_H_
