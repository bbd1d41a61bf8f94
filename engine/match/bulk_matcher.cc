#include "engine/match/bulk_matcher.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <numeric>
#include <thread>

#include "engine/index/bitset.h"
#include "engine/match/plan_eval.h"
#include "engine/util/status_macros.h"

namespace polmatch {
namespace {

enum Slot { kEligible = 0, kUndetermined, kNearMiss, kExcluded, kNumSlots };

struct RowValue {
  uint32_t row;
  int64_t raw;
  bool known;
};

// What one thread found for one policy, over the blocks it took (ascending rows).
struct PolicyOut {
  std::vector<uint32_t> rows[kNumSlots];
  std::vector<RowValue> benefits;  // known benefits of rows eligible before groups and limits
  std::vector<RowValue> ranks;     // rank_by of ELIGIBLE rows of limited policies
};

// One policy on one block.
struct PolicyBlock {
  uint64_t el[kBlockWords];
  uint64_t un[kBlockWords];
  uint64_t nm[kBlockWords];
  uint64_t ex[kBlockWords];
  std::vector<RowValue> benefits;  // by block offset, ascending; known only
};

bool ScopeTouches(const std::vector<RowRange>& scope, uint32_t begin, uint32_t end) {
  auto it = std::upper_bound(scope.begin(), scope.end(), begin,
                             [](uint32_t x, RowRange r) { return x < r.end; });
  return it != scope.end() && it->begin < end;
}

class MatchRun {
 public:
  MatchRun(const Catalog& catalog, const FirmStore& store, const MatchPlan& plan,
           absl::CivilDay as_of)
      : catalog_(catalog), store_(store), plan_(plan), as_of_(as_of) {
    const auto& policies = catalog.policies();
    active_.resize(policies.size());
    for (size_t p = 0; p < policies.size(); ++p) {
      active_[p] = policies[p].ActiveOn(as_of) && plan.policies()[p].eligibility >= 0;
    }
    block_units_.resize(store.num_blocks());
    for (size_t u = 0; u < plan.units().size(); ++u) {
      for (int p : plan.units()[u].policies) {
        if (!active_[p]) continue;
        for (RowRange r : plan.policies()[p].scope) {
          if (r.empty()) continue;
          for (uint32_t b = r.begin / kBlockRows; b <= (r.end - 1) / kBlockRows; ++b) {
            auto& list = block_units_[b];
            if (list.empty() || list.back() != static_cast<int32_t>(u)) list.push_back(u);
          }
        }
      }
    }
  }

  // Evaluates blocks taken from a shared counter into `out` (one entry per policy).
  void Worker(std::atomic<uint32_t>* next_block, std::vector<PolicyOut>* out) {
    BlockEvaluator ev(plan_, store_, as_of_);
    std::vector<PolicyBlock> scratch(1);
    for (uint32_t b = next_block->fetch_add(1); b < store_.num_blocks(); b = next_block->fetch_add(1)) {
      if (block_units_[b].empty()) continue;
      ev.SetBlock(b);
      for (int32_t u : block_units_[b]) RunUnit(plan_.units()[u], ev, scratch, *out);
    }
  }

 private:
  void RunUnit(const PlanUnit& unit, BlockEvaluator& ev, std::vector<PolicyBlock>& scratch,
               std::vector<PolicyOut>& out) {
    const uint32_t begin = ev.block_begin(), end = begin + kBlockRows;
    if (scratch.size() < unit.policies.size()) scratch.resize(unit.policies.size());
    std::vector<int> members;  // indexes into unit.policies that were evaluated
    for (size_t k = 0; k < unit.policies.size(); ++k) {
      const int p = unit.policies[k];
      if (!active_[p] || !ScopeTouches(plan_.policies()[p].scope, begin, end)) continue;
      EvaluatePolicy(p, ev, scratch[k]);
      members.push_back(static_cast<int>(k));
    }
    if (members.empty()) return;
    if (members.size() >= 2) ResolveGroup(unit, members, scratch);
    for (int k : members) Emit(unit.policies[k], ev, scratch[k], out[unit.policies[k]]);
  }

  void EvaluatePolicy(int p, BlockEvaluator& ev, PolicyBlock& pb) {
    const PolicyPlan& pp = plan_.policies()[p];
    const CompiledPolicy& cp = catalog_.policies()[p];
    const uint64_t* valid = ev.valid();
    const BlockEvaluator::BoolView e = ev.Bool(pp.eligibility);
    bool any_false = false;
    for (uint32_t w = 0; w < kBlockWords; ++w) {
      pb.el[w] = e.t[w] & valid[w];
      pb.un[w] = valid[w] & ~(e.t[w] | e.f[w]);
      pb.nm[w] = 0;
      pb.ex[w] = 0;
      any_false = any_false || (e.f[w] & valid[w]) != 0;
    }
    // Near miss: exactly one top-level condition false, it actionable, all others true. With
    // prefix and suffix ANDs of the T bitsets, "all but i true" is pre_i ∧ suf_i.
    const size_t k = pp.conditions.size();
    if (k >= 2 && pp.any_actionable && any_false) {
      cond_t_.resize(k);
      cond_f_.resize(k);
      suffix_.resize(k);
      for (size_t i = 0; i < k; ++i) {
        const BlockEvaluator::BoolView c = ev.Bool(pp.conditions[i]);
        cond_t_[i] = c.t;
        cond_f_[i] = c.f;
      }
      for (uint32_t w = 0; w < kBlockWords; ++w) {
        const uint64_t rows_false = e.f[w] & valid[w];
        if (rows_false == 0) continue;
        uint64_t suf = ~0ULL;
        for (size_t i = k; i-- > 0;) {
          suffix_[i] = suf;
          suf &= cond_t_[i][w];
        }
        uint64_t pre = ~0ULL, nm = 0;
        for (size_t i = 0; i < k; ++i) {
          if (pp.actionable[i]) nm |= cond_f_[i][w] & pre & suffix_[i];
          pre &= cond_t_[i][w];
        }
        pb.nm[w] = nm & rows_false;
      }
    }
    pb.benefits.clear();
    if (pp.benefit >= 0) {
      for (uint32_t w = 0; w < kBlockWords; ++w) {
        uint64_t bits = pb.el[w];
        while (bits != 0) {
          const uint32_t i = w * 64 + __builtin_ctzll(bits);
          bits &= bits - 1;
          int64_t raw;
          if (ev.RowNum(pp.benefit, i, &raw)) {
            const Decimal d = raw < 0 ? Decimal() : Decimal::FromRawUnchecked(raw).RoundHalfUp(2);
            pb.benefits.push_back({i, d.raw(), true});
          } else if (cp.auto_grant()) {
            // 免申即享 needs the amount: without it the firm must apply.
            ClearBit(pb.el, i);
            SetBit(pb.un, i);
          }
        }
      }
    } else if (cp.auto_grant()) {
      for (uint32_t w = 0; w < kBlockWords; ++w) {
        pb.un[w] |= pb.el[w];
        pb.el[w] = 0;
      }
    }
  }

  // Among each firm's ELIGIBLE members keeps the highest benefit (unknown lowest; ties: the
  // smaller policy index, i.e. id) and marks the others EXCLUDED — ApplyExclusiveGroups.
  void ResolveGroup(const PlanUnit& unit, const std::vector<int>& members,
                    std::vector<PolicyBlock>& scratch) {
    uint64_t once[kBlockWords] = {}, twice[kBlockWords] = {};
    for (int k : members) {
      for (uint32_t w = 0; w < kBlockWords; ++w) {
        twice[w] |= once[w] & scratch[k].el[w];
        once[w] |= scratch[k].el[w];
      }
    }
    auto benefit = [&](int k, uint32_t i, int64_t* out) {
      const auto& b = scratch[k].benefits;
      auto it = std::lower_bound(b.begin(), b.end(), i,
                                 [](const RowValue& v, uint32_t x) { return v.row < x; });
      if (it == b.end() || it->row != i) return false;
      *out = it->raw;
      return true;
    };
    ForEachBit(twice, kBlockWords, [&](uint32_t i) {
      int winner = -1;
      int64_t w_raw = 0;
      bool w_known = false;
      for (int k : members) {  // ascending policy index
        if (!TestBit(scratch[k].el, i)) continue;
        int64_t raw = 0;
        const bool known = benefit(k, i, &raw);
        if (winner < 0 || (known && (!w_known || raw > w_raw))) {
          winner = k;
          w_raw = raw;
          w_known = known;
        }
      }
      for (int k : members) {
        if (k != winner && TestBit(scratch[k].el, i)) {
          ClearBit(scratch[k].el, i);
          SetBit(scratch[k].ex, i);
        }
      }
    });
  }

  void Emit(int p, BlockEvaluator& ev, const PolicyBlock& pb, PolicyOut& out) {
    const uint32_t base = ev.block_begin();
    const uint64_t* words[kNumSlots] = {pb.el, pb.un, pb.nm, pb.ex};
    for (int s = 0; s < kNumSlots; ++s) {
      std::vector<uint32_t>& rows = out.rows[s];
      ForEachBit(words[s], kBlockWords, [&](uint32_t i) { rows.push_back(base + i); });
    }
    for (const RowValue& b : pb.benefits) out.benefits.push_back({base + b.row, b.raw, true});
    const int32_t rank = plan_.policies()[p].rank;
    if (rank >= 0) {
      ForEachBit(pb.el, kBlockWords, [&](uint32_t i) {
        int64_t raw = 0;
        const bool known = ev.RowNum(rank, i, &raw);
        out.ranks.push_back({base + i, raw, known});
      });
    }
  }

  const Catalog& catalog_;
  const FirmStore& store_;
  const MatchPlan& plan_;
  absl::CivilDay as_of_;
  std::vector<bool> active_;
  std::vector<std::vector<int32_t>> block_units_;
  // Per-thread scratch lives in the worker; these are reused within one EvaluatePolicy call and
  // so must be per thread too.
  static thread_local std::vector<const uint64_t*> cond_t_, cond_f_;
  static thread_local std::vector<uint64_t> suffix_;
};

thread_local std::vector<const uint64_t*> MatchRun::cond_t_;
thread_local std::vector<const uint64_t*> MatchRun::cond_f_;
thread_local std::vector<uint64_t> MatchRun::suffix_;

// Merges ascending, disjoint per-thread runs.
template <typename T, typename Less>
std::vector<T> MergeRuns(const std::vector<const std::vector<T>*>& runs, Less less) {
  std::vector<T> out;
  size_t total = 0;
  for (const auto* r : runs) total += r->size();
  out.reserve(total);
  for (const auto* r : runs) {
    const size_t mid = out.size();
    out.insert(out.end(), r->begin(), r->end());
    std::inplace_merge(out.begin(), out.begin() + mid, out.end(), less);
  }
  return out;
}

Roaring ToRoaring(const std::vector<uint32_t>& rows) {
  Roaring r(rows.size(), rows.data());
  r.runOptimize();
  r.shrinkToFit();
  return r;
}

}  // namespace

const Roaring* BulkPolicyResult::rows(MatchStatus status) const {
  switch (status) {
    case ELIGIBLE: return &eligible;
    case UNDETERMINED: return &undetermined;
    case NEAR_MISS: return &near_miss;
    case EXCLUDED: return &excluded;
    case NOT_SELECTED: return &not_selected;
    default: return nullptr;
  }
}

std::optional<Decimal> BulkPolicyResult::Benefit(uint32_t row) const {
  auto it = std::lower_bound(benefit_rows.begin(), benefit_rows.end(), row);
  if (it == benefit_rows.end() || *it != row) return std::nullopt;
  return benefits[it - benefit_rows.begin()];
}

Outcome BulkResult::Get(uint32_t row, int policy) const {
  const BulkPolicyResult& r = policies_[policy];
  Outcome o;
  for (MatchStatus s : {ELIGIBLE, EXCLUDED, NOT_SELECTED}) {
    if (r.rows(s)->contains(row)) {
      o.status = s;
      o.benefit = r.Benefit(row);
      return o;
    }
  }
  if (r.undetermined.contains(row)) {
    o.status = UNDETERMINED;
  } else if (r.near_miss.contains(row)) {
    o.status = NEAR_MISS;
  }
  return o;
}

absl::StatusOr<BulkMatcher> BulkMatcher::Create(const Catalog& catalog, const FirmStore& store) {
  ASSIGN_OR_RETURN(MatchPlan plan, MatchPlan::Compile(catalog, store));
  return BulkMatcher(catalog, store, std::make_unique<MatchPlan>(std::move(plan)));
}

BulkResult BulkMatcher::Match(absl::CivilDay as_of, int threads) const {
  threads = std::max(1, threads);
  const size_t num_policies = catalog_->policies().size();
  MatchRun run(*catalog_, *store_, *plan_, as_of);
  std::vector<std::vector<PolicyOut>> outs(threads, std::vector<PolicyOut>(num_policies));
  std::atomic<uint32_t> next_block{0};
  {
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back([&, t] { run.Worker(&next_block, &outs[t]); });
    run.Worker(&next_block, &outs[0]);
    for (std::thread& th : pool) th.join();
  }

  // Limits rank ties by credit code: the position of each row in code order.
  std::vector<uint32_t> code_rank;
  for (const CompiledPolicy& cp : catalog_->policies()) {
    if (cp.policy.limit() > 0) {
      code_rank.resize(store_->num_rows());
      const auto& by_code = store_->rows_by_code();
      for (uint32_t k = 0; k < by_code.size(); ++k) code_rank[by_code[k]] = k;
      break;
    }
  }

  BulkResult result;
  result.num_rows_ = store_->num_rows();
  result.policies_.resize(num_policies);
  std::atomic<size_t> next_policy{0};
  auto finish = [&] {
    for (size_t p = next_policy.fetch_add(1); p < num_policies; p = next_policy.fetch_add(1)) {
      BulkPolicyResult& r = result.policies_[p];
      std::vector<uint32_t> rows[kNumSlots];
      for (int s = 0; s < kNumSlots; ++s) {
        std::vector<const std::vector<uint32_t>*> runs;
        for (auto& out : outs) runs.push_back(&out[p].rows[s]);
        rows[s] = MergeRuns(runs, std::less<uint32_t>());
      }
      auto by_row = [](const RowValue& a, const RowValue& b) { return a.row < b.row; };
      std::vector<const std::vector<RowValue>*> benefit_runs, rank_runs;
      for (auto& out : outs) {
        benefit_runs.push_back(&out[p].benefits);
        rank_runs.push_back(&out[p].ranks);
      }
      const std::vector<RowValue> benefits = MergeRuns(benefit_runs, by_row);
      r.benefit_rows.reserve(benefits.size());
      r.benefits.reserve(benefits.size());
      for (const RowValue& b : benefits) {
        r.benefit_rows.push_back(b.row);
        r.benefits.push_back(Decimal::FromRawUnchecked(b.raw));
      }
      // Limit: rank the ELIGIBLE rows (highest rank first, unknown last, ties by credit code).
      std::vector<uint32_t> not_selected;
      const int limit = catalog_->policies()[p].policy.limit();
      if (limit > 0 && rows[kEligible].size() > static_cast<size_t>(limit)) {
        std::vector<RowValue> ranks = MergeRuns(rank_runs, by_row);
        std::sort(ranks.begin(), ranks.end(), [&](const RowValue& a, const RowValue& b) {
          if (a.known != b.known) return a.known;
          if (a.known && a.raw != b.raw) return a.raw > b.raw;
          return code_rank[a.row] < code_rank[b.row];
        });
        std::vector<uint32_t> kept;
        for (size_t k = 0; k < ranks.size(); ++k) {
          (k < static_cast<size_t>(limit) ? kept : not_selected).push_back(ranks[k].row);
        }
        std::sort(kept.begin(), kept.end());
        std::sort(not_selected.begin(), not_selected.end());
        rows[kEligible] = std::move(kept);
      }
      r.eligible = ToRoaring(rows[kEligible]);
      r.undetermined = ToRoaring(rows[kUndetermined]);
      r.near_miss = ToRoaring(rows[kNearMiss]);
      r.excluded = ToRoaring(rows[kExcluded]);
      r.not_selected = ToRoaring(not_selected);
      r.count[ELIGIBLE] = rows[kEligible].size();
      r.count[UNDETERMINED] = rows[kUndetermined].size();
      r.count[NEAR_MISS] = rows[kNearMiss].size();
      r.count[EXCLUDED] = rows[kExcluded].size();
      r.count[NOT_SELECTED] = not_selected.size();
      r.count[INELIGIBLE] = store_->num_rows() - r.count[ELIGIBLE] - r.count[UNDETERMINED] -
                            r.count[NEAR_MISS] - r.count[EXCLUDED] - r.count[NOT_SELECTED];
      for (auto& out : outs) out[p] = PolicyOut();  // free as we go
    }
  };
  {
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(finish);
    finish();
    for (std::thread& th : pool) th.join();
  }
  return result;
}

}  // namespace polmatch
