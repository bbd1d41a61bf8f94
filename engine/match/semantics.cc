// File: semantics.cc
#include "engine/match/semantics.h"

namespace polmatch::semantics {

MatchStatus StatusOf(const Tally& t) {
  if (t.falses == 0) return t.unknowns == 0 ? ELIGIBLE : UNDETERMINED;
  if (t.conditions >= 2 && t.falses == 1 && t.unknowns == 0 && t.false_actionable) return NEAR_MISS;
  return INELIGIBLE;
}

Decimal GrantAmount(const Decimal& exact) {
  return exact.is_negative() ? Decimal() : exact.RoundHalfUp(2);
}

}  // namespace polmatch::semantics
