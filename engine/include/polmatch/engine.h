// File: polmatch/engine.h
//
// polmatch::Engine is the library a portal embeds: one firm's policies, explained, in
// microseconds. It is built once from a rules directory and a snapshot, is logically immutable,
// and is safe to query from any number of threads. Reload() swaps in a newer catalog or snapshot
// while queries run: each query sees either the old or the new state, never a mix, and none fails
// because of the swap.
//
// Example:
//   polmatch::EngineOptions options;
//   options.rules_dir = "rules";
//   options.snapshot_path = "registry.snap";
//   absl::StatusOr<std::unique_ptr<polmatch::Engine>> engine = polmatch::Engine::Create(options);
//   if (!engine.ok()) { /* engine.status() says why */ }
//   absl::StatusOr<polmatch::FirmMatches> m =
//       (*engine)->Match("91441502MA4W0PA9X8", absl::CivilDay(2021, 6, 30));
//   for (const polmatch::PolicyResult& r : m->results()) { /* r.status(), r.benefit_yuan() */ }
#ifndef POLMATCH_ENGINE_H_
#define POLMATCH_ENGINE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "polmatch/options.h"
#include "proto/polmatch.pb.h"

namespace polmatch {

// One policy that applies to a firm, without explanation: the microsecond path.
struct PolicyMatch {
  std::string policy;         // policy id
  MatchStatus status;         // never INELIGIBLE
  int64_t benefit_fen = -1;   // the amount in fen (0.01 yuan); -1 when unknown or none stated
};

// A firm's grant in the ledger (SPEC §7) and where it stands; money as decimal strings.
struct FirmGrant {
  struct Step {
    std::string date;   // YYYY-MM-DD
    std::string state;  // the state after the step
    std::string note;   // the step (NEW, PUBLISHED, PAID, …) and its reason or note
  };
  std::string id;              // policy/credit_code/period (an adjustment: …/ADJn)
  std::string policy;
  std::string name;
  std::string period;          // 2023, 2023Q2, 2023-05 or ONCE
  std::string state;           // PROPOSED, PUBLISHED, OBJECTED, APPROVED, PAID, WITHDRAWN, RECOVERED
  std::string amount_yuan;
  std::string uncapped_amount_yuan;
  std::string publicity_from, publicity_to;  // empty before 公示
  std::vector<Step> history;   // oldest first
};

class Engine {
 public:
  // Loads the rules and the snapshot. Errors: InvalidArgument for rules that do not lint (the
  // message names file:line:col), NotFound / DataLoss for a missing or corrupt snapshot.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(const EngineOptions& options);

  Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  virtual ~Engine() = default;

  // Every policy's result for a registered firm on `as_of`, ordered as `polmatch query` orders
  // them (eligible by benefit, near misses, undetermined, …), each with its conditions traced
  // (INELIGIBLE results carry only their status; Explain() traces any policy).
  // InvalidArgument for a malformed credit code, NotFound for a firm not in the snapshot.
  virtual absl::StatusOr<FirmMatches> Match(absl::string_view credit_code,
                                            absl::CivilDay as_of) const = 0;

  // The policies that apply to a registered firm (every status but INELIGIBLE), in catalog
  // (policy id) order, with amounts but no explanations: what a portal shows first, in
  // microseconds. Errors as Match().
  absl::StatusOr<std::vector<PolicyMatch>> MatchStatuses(absl::string_view credit_code,
                                                         absl::CivilDay as_of) const {
    std::vector<PolicyMatch> out;
    absl::Status status = MatchStatuses(credit_code, as_of, &out);
    if (!status.ok()) return status;
    return out;
  }
  // The same into `*out`, which is overwritten (and left empty on error). It reuses the
  // vector's and its strings' storage: a portal's hot path keeps one vector per thread and
  // allocates nothing once it has grown.
  virtual absl::Status MatchStatuses(absl::string_view credit_code, absl::CivilDay as_of,
                                     std::vector<PolicyMatch>* out) const = 0;

  // The same for a firm that need not be registered (政策计算器: "what if I had…"). Limits are
  // not applied (a hypothetical firm is not ranked against the registry). InvalidArgument for a
  // profile that would be rejected at ingestion.
  virtual absl::StatusOr<FirmMatches> Evaluate(const FirmProfile& profile,
                                               absl::CivilDay as_of) const = 0;

  // One policy for a registered firm, explained. NotFound for an unknown firm or policy.
  virtual absl::StatusOr<PolicyResult> Explain(absl::string_view credit_code,
                                               absl::string_view policy_id,
                                               absl::CivilDay as_of) const = 0;

  // The policy as written in its catalog. NotFound if unknown.
  virtual absl::StatusOr<Policy> GetPolicy(absl::string_view policy_id) const = 0;

  // Every policy in force on `as_of` (valid_from ≤ as_of ≤ valid_to, open ends included), as
  // written, in catalog (policy id) order.
  virtual std::vector<Policy> PoliciesInForce(absl::CivilDay as_of) const = 0;

  // The firm's grants in the ledger of EngineOptions::ledger_path (read-only; each call reads
  // one committed state, so a batch writing the ledger meanwhile is seen whole or not at all), in
  // id order; empty when it has none (registered or not). InvalidArgument for a malformed credit
  // code; FailedPrecondition when no ledger is configured.
  virtual absl::StatusOr<std::vector<FirmGrant>> Grants(absl::string_view credit_code) const = 0;

  // Loads `options` and, only if everything loads, replaces the current state atomically.
  // On error the engine keeps serving the previous state.
  virtual absl::Status Reload(const EngineOptions& options) = 0;

  // Firms in the snapshot and policies in the catalog of the current state.
  virtual size_t num_firms() const = 0;
  virtual size_t num_policies() const = 0;
};

}  // namespace polmatch

#endif  // POLMATCH_ENGINE_H_
