#include "engine/match/bulk_matcher.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <time.h>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/index/bitset.h"
#include "engine/match/plan_eval.h"
#include "engine/util/parallel.h"
#include "engine/util/status_macros.h"
#include "engine/match/semantics.h"

namespace polmatch {
namespace {

enum Slot { kEligible = 0, kUndetermined, kNearMiss, kExcluded, kNumSlots };

struct RowValue {
  uint32_t row;
  int64_t raw;
  bool known;
};

// The rows of one status of one policy over the blocks one thread took (ascending): a sparse
// block as bit positions, a dense one as its 128 words — what Roaring containers are made of.
struct StatusChunks {
  static constexpr uint32_t kSparseMax = 256;  // ≤ 512 bytes of positions vs 1 KiB of words
  struct Entry {
    uint32_t block;
    uint32_t count;   // set bits
    uint32_t offset;  // into positions (count ≤ kSparseMax) or words (/ kBlockWords)
  };
  std::vector<Entry> entries;
  std::vector<uint16_t> positions;
  std::vector<uint64_t> words;

  void Add(uint32_t block, const uint64_t* w) {
    if (!AnyBit(w, kBlockWords)) return;
    const uint32_t count = static_cast<uint32_t>(CountBits(w, kBlockWords));
    if (count <= kSparseMax) {
      const size_t at = positions.size();
      entries.push_back({block, count, static_cast<uint32_t>(at)});
      positions.resize(at + count);
      uint16_t* out = positions.data() + at;
      ForEachBit(w, kBlockWords, [&](uint32_t i) { *out++ = static_cast<uint16_t>(i); });
    } else {
      entries.push_back({block, count, static_cast<uint32_t>(words.size() / kBlockWords)});
      words.insert(words.end(), w, w + kBlockWords);
    }
  }
  // Calls fn(row) for every row of entry e, ascending.
  template <typename Fn>
  void ForEachRow(const Entry& e, Fn&& fn) const {
    const uint32_t base = e.block * kBlockRows;
    if (e.count <= kSparseMax) {
      for (uint32_t k = 0; k < e.count; ++k) fn(base + positions[e.offset + k]);
    } else {
      ForEachBit(&words[size_t{e.offset} * kBlockWords], kBlockWords, [&](uint32_t i) { fn(base + i); });
    }
  }
};

// What one thread found for one policy, over the blocks it took (ascending rows).
struct PolicyOut {
  StatusChunks rows[kNumSlots];
  // Known benefits of rows eligible before groups and limits.
  std::vector<uint32_t> benefit_rows;
  std::vector<int64_t> benefit_raw;
  std::vector<RowValue> ranks;  // rank_by of ELIGIBLE rows of limited policies
};

// One policy on one block.
struct PolicyBlock {
  uint64_t el[kBlockWords];
  uint64_t un[kBlockWords];
  uint64_t nm[kBlockWords];
  uint64_t ex[kBlockWords];
  // Known benefits of ELIGIBLE rows, by block offset ascending.
  std::vector<uint32_t> benefit_pos;
  std::vector<int64_t> benefit_raw;
};

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Runs fn on `threads` threads (the caller's included); returns their total CPU seconds and, in
// *max_thread, the largest of them.
template <typename Fn>
double RunThreads(int threads, Fn fn, double* max_thread = nullptr) {
  std::vector<double> cpu(threads, 0);
  auto timed = [&](int t) {
    const double start = ThreadCpuSeconds();
    fn(t);
    cpu[t] = ThreadCpuSeconds() - start;
  };
  ParallelFor(threads, timed);
  double total = 0;
  for (double c : cpu) total += c;
  if (max_thread != nullptr) *max_thread = *std::max_element(cpu.begin(), cpu.end());
  return total;
}

// What one worker thread reuses from block to block.
struct WorkerScratch {
  std::vector<PolicyBlock> policies;  // one per policy of the unit being evaluated
  std::vector<int> members;           // which of them were evaluated on this block
  int64_t policy_blocks = 0;
  std::vector<uint32_t> sel = std::vector<uint32_t>(kBlockRows);  // selected block offsets
  std::vector<int64_t> values = std::vector<int64_t>(kBlockRows);  // their benefit or rank
  std::vector<uint8_t> known = std::vector<uint8_t>(kBlockRows);
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

  int64_t policy_blocks() const { return policy_blocks_.load(); }
  int64_t node_blocks() const { return node_blocks_.load(); }

  // Evaluates blocks taken from a shared counter into `out` (one entry per policy).
  void Worker(std::atomic<uint32_t>* next_block, std::vector<PolicyOut>* out) {
    BlockEvaluator ev(plan_, store_, as_of_);
    WorkerScratch scratch;
    for (uint32_t b = next_block->fetch_add(1); b < store_.num_blocks(); b = next_block->fetch_add(1)) {
      if (block_units_[b].empty()) continue;
      ev.SetBlock(b);
      for (int32_t u : block_units_[b]) RunUnit(plan_.units()[u], ev, scratch, *out);
    }
    node_blocks_.fetch_add(ev.dense_evaluations());
    policy_blocks_.fetch_add(scratch.policy_blocks);
  }

 private:
  void RunUnit(const PlanUnit& unit, BlockEvaluator& ev, WorkerScratch& scratch,
               std::vector<PolicyOut>& out) {
    const uint32_t begin = ev.block_begin(), end = begin + kBlockRows;
    std::vector<PolicyBlock>& blocks = scratch.policies;
    if (blocks.size() < unit.policies.size()) blocks.resize(unit.policies.size());
    std::vector<int>& members = scratch.members;  // indexes into unit.policies
    members.clear();
    for (size_t k = 0; k < unit.policies.size(); ++k) {
      const int p = unit.policies[k];
      if (!active_[p] || !ScopeTouches(plan_.policies()[p].scope, begin, end)) continue;
      EvaluatePolicy(p, ev, scratch, blocks[k]);
      ++scratch.policy_blocks;
      members.push_back(static_cast<int>(k));
    }
    if (members.empty()) return;
    if (members.size() >= 2) ResolveGroup(members, blocks);
    for (int k : members) Emit(unit.policies[k], ev, scratch, blocks[k], out[unit.policies[k]]);
  }

  void EvaluatePolicy(int p, BlockEvaluator& ev, WorkerScratch& scratch, PolicyBlock& pb) {
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
    // Near miss (semantics::StatusOf), 64 firms a word: semantics::TallyWords' form.
    const size_t k = pp.conditions.size();
    if (k >= 2 && pp.any_actionable && any_false) {
      uint64_t one[kBlockWords] = {}, two[kBlockWords] = {}, act[kBlockWords] = {}, unk[kBlockWords] = {};
      for (size_t i = 0; i < k; ++i) {
        const BlockEvaluator::BoolView c = ev.Bool(pp.conditions[i]);
        const uint64_t* ct = c.t;
        const uint64_t* cf = c.f;
        const uint64_t act_mask = pp.actionable[i] ? ~0ULL : 0;
        for (uint32_t w = 0; w < kBlockWords; ++w) {
          semantics::AddToTallyWords(ct[w], cf[w], act_mask, one[w], two[w], act[w], unk[w]);
        }
      }
      for (uint32_t w = 0; w < kBlockWords; ++w) {
        pb.nm[w] = semantics::NearMissWord(one[w], two[w], act[w], unk[w], e.f[w] & valid[w]);
      }
    }
    pb.benefit_pos.clear();
    pb.benefit_raw.clear();
    if (pp.benefit >= 0) {
      const uint32_t n = Select(pb.el, scratch);
      const uint32_t* sel = scratch.sel.data();
      const int64_t* values = scratch.values.data();
      const uint8_t* known = scratch.known.data();
      if (n > 0) ev.SelectedNum(pp.benefit, sel, n, scratch.values.data(), scratch.known.data());
      const bool auto_grant = cp.auto_grant();
      pb.benefit_pos.resize(n);
      pb.benefit_raw.resize(n);
      uint32_t* pos = pb.benefit_pos.data();
      int64_t* raw = pb.benefit_raw.data();
      uint32_t kept = 0;
      for (uint32_t k = 0; k < n; ++k) {
        if (known[k]) {
          pos[kept] = sel[k];
          raw[kept] = semantics::GrantAmountRaw(values[k]);
          ++kept;
        } else if (auto_grant) {
          // 免申即享 needs the amount: without it the firm must apply.
          ClearBit(pb.el, sel[k]);
          SetBit(pb.un, sel[k]);
        }
      }
      pb.benefit_pos.resize(kept);
      pb.benefit_raw.resize(kept);
    }
    // An AUTO_GRANT policy without a benefit grants something non-monetary: eligible as is.
  }

  // Fills scratch.sel with the set bits of `words` (block offsets, ascending); returns how many.
  static uint32_t Select(const uint64_t* words, WorkerScratch& scratch) {
    uint32_t* sel = scratch.sel.data();
    uint32_t n = 0;
    ForEachBit(words, kBlockWords, [&](uint32_t i) { sel[n++] = i; });
    return n;
  }

  // Among each firm's ELIGIBLE members keeps the highest benefit (unknown lowest; ties: the
  // smaller policy index, i.e. id) and marks the others EXCLUDED — ApplyExclusiveGroups.
  static void ResolveGroup(const std::vector<int>& members, std::vector<PolicyBlock>& scratch) {
    uint64_t once[kBlockWords] = {}, twice[kBlockWords] = {};
    for (int k : members) {
      for (uint32_t w = 0; w < kBlockWords; ++w) {
        twice[w] |= once[w] & scratch[k].el[w];
        once[w] |= scratch[k].el[w];
      }
    }
    auto benefit = [&](int k, uint32_t i, int64_t* out) {
      const auto& pos = scratch[k].benefit_pos;
      auto it = std::lower_bound(pos.begin(), pos.end(), i);
      if (it == pos.end() || *it != i) return false;
      *out = scratch[k].benefit_raw[it - pos.begin()];
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
        if (winner < 0 || semantics::BeatsGroupWinner(known, raw, w_known, w_raw)) {
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

  void Emit(int p, BlockEvaluator& ev, WorkerScratch& scratch, const PolicyBlock& pb, PolicyOut& out) {
    const uint32_t base = ev.block_begin();
    const uint32_t block = base / kBlockRows;
    const uint64_t* words[kNumSlots] = {pb.el, pb.un, pb.nm, pb.ex};
    for (int s = 0; s < kNumSlots; ++s) out.rows[s].Add(block, words[s]);
    const size_t at = out.benefit_rows.size();
    out.benefit_rows.resize(at + pb.benefit_pos.size());
    for (size_t k = 0; k < pb.benefit_pos.size(); ++k) out.benefit_rows[at + k] = base + pb.benefit_pos[k];
    out.benefit_raw.insert(out.benefit_raw.end(), pb.benefit_raw.begin(), pb.benefit_raw.end());
    const int32_t rank = plan_.policies()[p].rank;
    if (rank >= 0) {
      const uint32_t n = Select(pb.el, scratch);
      if (n > 0) ev.SelectedNum(rank, scratch.sel.data(), n, scratch.values.data(), scratch.known.data());
      for (uint32_t k = 0; k < n; ++k) {
        out.ranks.push_back({base + scratch.sel[k], scratch.values[k], scratch.known[k] != 0});
      }
    }
  }

  const Catalog& catalog_;
  const FirmStore& store_;
  const MatchPlan& plan_;
  absl::CivilDay as_of_;
  std::vector<bool> active_;
  std::vector<std::vector<int32_t>> block_units_;
  std::atomic<int64_t> policy_blocks_{0};
  std::atomic<int64_t> node_blocks_{0};
};

// Builds a Roaring bitmap from per-thread block chunks through CRoaring's portable serialization
// format (RoaringFormatSpec: cookie 12346 without run containers, then per container key and
// cardinality − 1, then offsets, then each container as sorted uint16 values when it holds at
// most 4,096 rows, else as 1,024 words). One container covers 65,536 rows = 8 blocks. This costs a
// copy per container instead of one insertion per row.
Roaring ChunksToRoaring(const std::vector<const StatusChunks*>& parts, std::vector<char>* buffer) {
  constexpr uint32_t kBlocksPerContainer = 65536 / kBlockRows;
  constexpr uint32_t kArrayMax = 4096;
  // All entries, ascending by block (each part ascends; blocks are disjoint across parts).
  std::vector<std::pair<const StatusChunks*, const StatusChunks::Entry*>> entries;
  for (const StatusChunks* part : parts) {
    for (const auto& e : part->entries) entries.emplace_back(part, &e);
  }
  if (entries.empty()) return Roaring();
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.second->block < b.second->block; });
  struct Container {
    uint32_t key, card;
    size_t first, last;  // entries [first, last)
  };
  std::vector<Container> containers;
  for (size_t k = 0; k < entries.size(); ++k) {
    const uint32_t key = entries[k].second->block / kBlocksPerContainer;
    if (containers.empty() || containers.back().key != key) containers.push_back({key, 0, k, k});
    containers.back().card += entries[k].second->count;
    containers.back().last = k + 1;
  }
  size_t size = 8 + containers.size() * 8;
  for (const Container& c : containers) size += c.card <= kArrayMax ? 2 * c.card : 8192;
  buffer->assign(size, 0);
  char* out = buffer->data();
  auto put32 = [](char* at, uint32_t v) { std::memcpy(at, &v, 4); };
  auto put16 = [](char* at, uint16_t v) { std::memcpy(at, &v, 2); };
  put32(out, 12346);
  put32(out + 4, static_cast<uint32_t>(containers.size()));
  size_t at = 8 + containers.size() * 8;
  for (size_t c = 0; c < containers.size(); ++c) {
    const Container& con = containers[c];
    put16(out + 8 + 4 * c, static_cast<uint16_t>(con.key));
    put16(out + 8 + 4 * c + 2, static_cast<uint16_t>(con.card - 1));
    put32(out + 8 + 4 * containers.size() + 4 * c, static_cast<uint32_t>(at));
    if (con.card <= kArrayMax) {
      for (size_t k = con.first; k < con.last; ++k) {
        entries[k].first->ForEachRow(*entries[k].second, [&](uint32_t row) {
          put16(out + at, static_cast<uint16_t>(row & 0xFFFF));
          at += 2;
        });
      }
    } else {
      uint64_t words[kBlocksPerContainer * kBlockWords] = {};
      for (size_t k = con.first; k < con.last; ++k) {
        const StatusChunks::Entry& e = *entries[k].second;
        uint64_t* dst = words + (e.block % kBlocksPerContainer) * kBlockWords;
        if (e.count <= StatusChunks::kSparseMax) {
          entries[k].first->ForEachRow(e, [&](uint32_t row) {
            const uint32_t i = row % kBlockRows;
            dst[i / 64] |= 1ULL << (i % 64);
          });
        } else {
          std::memcpy(dst, &entries[k].first->words[size_t{e.offset} * kBlockWords],
                      kBlockWords * sizeof(uint64_t));
        }
      }
      std::memcpy(out + at, words, sizeof(words));
      at += sizeof(words);
    }
  }
  Roaring r = Roaring::readSafe(buffer->data(), buffer->size());
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
  BulkMatchStats result_stats;
  const absl::Time start = absl::Now();
  result_stats.evaluate_cpu_seconds =
      RunThreads(threads, [&](int t) { run.Worker(&next_block, &outs[t]); },
                 &result_stats.evaluate_max_thread_cpu_seconds);

  const absl::Time evaluated = absl::Now();

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
    std::vector<char> buffer;
    for (size_t p = next_policy.fetch_add(1); p < num_policies; p = next_policy.fetch_add(1)) {
      BulkPolicyResult& r = result.policies_[p];
      Roaring* targets[kNumSlots] = {&r.eligible, &r.undetermined, &r.near_miss, &r.excluded};
      for (int s = 0; s < kNumSlots; ++s) {
        std::vector<const StatusChunks*> parts;
        for (auto& out : outs) parts.push_back(&out[p].rows[s]);
        *targets[s] = ChunksToRoaring(parts, &buffer);
      }
      // Benefits: each thread's rows ascend and threads took disjoint blocks; merge them.
      size_t total = 0;
      for (auto& out : outs) total += out[p].benefit_rows.size();
      r.benefit_rows.reserve(total);
      r.benefits.reserve(total);
      std::vector<size_t> at(outs.size(), 0);
      while (r.benefit_rows.size() < total) {
        size_t best = outs.size();
        for (size_t t = 0; t < outs.size(); ++t) {
          const auto& rows = outs[t][p].benefit_rows;
          if (at[t] < rows.size() && (best == outs.size() || rows[at[t]] < outs[best][p].benefit_rows[at[best]])) {
            best = t;
          }
        }
        // Copy the run of `best` up to the next row of another thread (runs are whole blocks).
        const auto& rows = outs[best][p].benefit_rows;
        const auto& raws = outs[best][p].benefit_raw;
        uint32_t limit_row = UINT32_MAX;
        for (size_t t = 0; t < outs.size(); ++t) {
          if (t != best && at[t] < outs[t][p].benefit_rows.size()) {
            limit_row = std::min(limit_row, outs[t][p].benefit_rows[at[t]]);
          }
        }
        size_t k = at[best];
        for (; k < rows.size() && rows[k] < limit_row; ++k) {
          r.benefit_rows.push_back(rows[k]);
          r.benefits.push_back(Decimal::FromRawUnchecked(raws[k]));
        }
        at[best] = k;
      }
      // Limit: rank the ELIGIBLE rows (highest rank first, unknown last, ties by credit code).
      const int limit = catalog_->policies()[p].policy.limit();
      if (limit > 0 && r.eligible.cardinality() > static_cast<uint64_t>(limit)) {
        std::vector<RowValue> ranks;
        for (auto& out : outs) ranks.insert(ranks.end(), out[p].ranks.begin(), out[p].ranks.end());
        std::sort(ranks.begin(), ranks.end(), [&](const RowValue& a, const RowValue& b) {
          return semantics::RanksBefore(a.known, a.raw, code_rank[a.row], b.known, b.raw, code_rank[b.row]);
        });
        std::vector<uint32_t> not_selected;
        for (size_t k = limit; k < ranks.size(); ++k) not_selected.push_back(ranks[k].row);
        std::sort(not_selected.begin(), not_selected.end());
        r.not_selected = Roaring(not_selected.size(), not_selected.data());
        r.eligible -= r.not_selected;
        r.not_selected.runOptimize();
        r.eligible.runOptimize();
      }
      r.count[ELIGIBLE] = r.eligible.cardinality();
      r.count[UNDETERMINED] = r.undetermined.cardinality();
      r.count[NEAR_MISS] = r.near_miss.cardinality();
      r.count[EXCLUDED] = r.excluded.cardinality();
      r.count[NOT_SELECTED] = r.not_selected.cardinality();
      r.count[INELIGIBLE] = store_->num_rows() - r.count[ELIGIBLE] - r.count[UNDETERMINED] -
                            r.count[NEAR_MISS] - r.count[EXCLUDED] - r.count[NOT_SELECTED];
      for (auto& out : outs) out[p] = PolicyOut();  // free as we go
    }
  };
  result_stats.finish_cpu_seconds = RunThreads(threads, [&](int) { finish(); });
  result.stats_ = result_stats;
  result.stats_.evaluate_seconds = absl::ToDoubleSeconds(evaluated - start);
  result.stats_.finish_seconds = absl::ToDoubleSeconds(absl::Now() - evaluated);
  result.stats_.policy_blocks = run.policy_blocks();
  result.stats_.node_blocks = run.node_blocks();
  return result;
}

}  // namespace polmatch
