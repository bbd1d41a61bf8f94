// File: outcome.h
//
// Outcome is the status of one firm against one policy on one date (SPEC §3) with the exact
// benefit; both matchers (the reference evaluator and the bitset engine) produce it.
#ifndef POLMATCH_MATCH_OUTCOME_H_
#define POLMATCH_MATCH_OUTCOME_H_

#include <optional>

#include "engine/util/decimal.h"
#include "proto/polmatch.pb.h"

namespace polmatch {

struct Outcome {
  MatchStatus status = INELIGIBLE;
  // Rounded to the fen, never negative. Set for ELIGIBLE/EXCLUDED/NOT_SELECTED firms whose
  // benefit is known (for APPLY policies it may be unknown or the policy may state none).
  std::optional<Decimal> benefit;
  // rank_by value of an eligible firm of a limited policy (nullopt = unknown, ranks last).
  std::optional<Decimal> rank;

  friend bool operator==(const Outcome& a, const Outcome& b) {
    return a.status == b.status && a.benefit == b.benefit;
  }
};

// Money as SPEC wants it: "2000000.00".
inline std::string FormatYuan(Decimal d) { return d.ToFixed(2); }

}  // namespace polmatch

#endif  // POLMATCH_MATCH_OUTCOME_H_
