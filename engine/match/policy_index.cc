#include "engine/match/policy_index.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <iterator>
#include <map>
#include <optional>
#include <tuple>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "engine/expr/eval.h"
#include "engine/index/firm_store.h"
#include "engine/match/plan_eval.h"
#include "engine/taxonomy/taxonomy.h"
#include "engine/match/semantics.h"

namespace polmatch {
namespace {

// Three-valued results, as stored in the memo.
constexpr uint8_t kFalse = 0, kTrue = 1, kUnknown = 2;

uint8_t FromValue(const Value& v) { return v.is_unknown() ? kUnknown : v.boolean ? kTrue : kFalse; }

Op Flip(Op op) {
  switch (op) {
    case Op::kLt: return Op::kGt;
    case Op::kLe: return Op::kGe;
    case Op::kGt: return Op::kLt;
    case Op::kGe: return Op::kLe;
    default: return op;  // == and != are symmetric
  }
}


// The region a top-level `region under "X"` condition requires ("" = none): see policy_index.h.
std::string RegionScope(const CompiledPolicy& p) {
  for (const Node* c : p.conditions) {
    if (c->kind == NodeKind::kUnder && c->children[0]->kind == NodeKind::kBuiltin &&
        c->children[0]->builtin == Builtin::kRegion) {
      return c->text;
    }
  }
  return "";
}

// Per-thread scratch of one Match: the held-tag vector and the memo of generic conditions.
// Memo entries are valid when their stamp equals the query's; stamps are unique per thread.
struct Scratch {
  std::vector<uint64_t> held;
  std::vector<uint32_t> survivors;   // of one scope list (PolicyIndex::kStartShift)
  // The entries (of every list) in force on `in_force_day` in the index `in_force_index`, a bit
  // each.
  uint64_t in_force_index = 0;
  int32_t in_force_day = 0;
  std::vector<uint8_t> in_force;
  std::vector<uint32_t> stamp;
  std::vector<uint8_t> value;
  uint32_t query = 0;
  PolicyIndex::Stats stats;

  void Begin(size_t num_generic) {
    if (stamp.size() < num_generic) {
      stamp.resize(num_generic, 0);
      value.resize(num_generic, 0);
    }
    if (++query == 0) {  // wrapped: forget every stamp
      std::fill(stamp.begin(), stamp.end(), 0);
      query = 1;
    }
    stats = {};
  }
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

}  // namespace

PolicyIndex::PolicyIndex(const Catalog& catalog) : catalog_(catalog) {
  static std::atomic<uint64_t> instances{0};
  instance_ = ++instances;
  const auto& policies = catalog.policies();
  absl::flat_hash_map<std::string, int> group_index;
  for (const auto& [name, members] : catalog.groups()) {
    if (members.size() > 1) group_index.emplace(name, 0);
  }
  for (auto& [name, index] : group_index) index = num_groups_++;
  absl::flat_hash_map<std::string, int> distinct;
  policies_.resize(policies.size());
  std::vector<std::vector<CondRec>> policy_recs(policies.size());
  std::vector<Prefilter> prefilters;  // by catalog index
  std::vector<std::optional<CondRec>> scope_recs;  // by catalog index
  absl::flat_hash_map<uint64_t, uint16_t> any_by_mask;  // into any_masks_
  std::vector<std::string> scopes;    // by catalog index
  std::vector<uint8_t> keys;          // by catalog index (ScopeGroup)
  for (size_t p = 0; p < policies.size(); ++p) {
    const CompiledPolicy& cp = policies[p];
    PolicyEntry& e = policies_[p];
    e.has_eligibility = cp.eligibility != nullptr;
    if (cp.valid_from) e.valid_from = DayNumber(*cp.valid_from);
    if (cp.valid_to) e.valid_to = DayNumber(*cp.valid_to);
    auto g = group_index.find(cp.policy.exclusive_group());
    if (!cp.policy.exclusive_group().empty() && g != group_index.end()) e.group = g->second;
    const std::string scope = RegionScope(cp);
    std::vector<CondRec> recs;
    std::optional<CondRec> scope_rec;
    for (size_t c = 0; c < cp.conditions.size(); ++c) {
      const Node& n = *cp.conditions[c];
      distinct.emplace(n.ToString(), 0);
      CondRec r = Compile(n);
      r.actionable = cp.condition_actionable[c] ? 1 : 0;
      const bool is_scope = !scope.empty() && !scope_rec && n.kind == NodeKind::kUnder &&
                            n.children[0]->kind == NodeKind::kBuiltin &&
                            n.children[0]->builtin == Builtin::kRegion && n.text == scope;
      if (is_scope) {
        scope_rec = r;
      } else {
        recs.push_back(r);
      }
    }
    // Cheapest first; among equals, non-actionable first (a false one ends the visit at once).
    // (Tag conditions mostly go to the prefilter below.)
    std::stable_sort(recs.begin(), recs.end(), [](const CondRec& a, const CondRec& b) {
      if (a.kind != b.kind) return a.kind < b.kind;
      return a.actionable < b.actionable;
    });
    // Tag conditions, one any-of-tags, up to two fact comparisons and one industry condition go
    // into the prefilter (decided without branches per list entry); the rest are visited.
    Prefilter f;
    f.policy = static_cast<int32_t>(p);
    std::vector<CondRec> rest;
    int facts = 0;
    int tags = 0;
    char section = 0;  // of the industry condition in f.industry
    for (const CondRec& r : recs) {
      if (r.kind == CondKind::kTag && r.id < 63 && tags < 3) {  // (tag 63 could read as kNoTag)
        f.tag[tags++] = static_cast<uint8_t>(r.id | (r.negate ? 0 : 1) << 6 | r.actionable << 7);
        continue;
      } else if (r.kind == CondKind::kTagAny && !r.negate && f.any == 0 && any_masks_.size() < 0xffff) {
        f.any = any_by_mask.emplace(static_cast<uint64_t>(r.k), static_cast<uint16_t>(any_masks_.size())).first->second;
        if (f.any == any_masks_.size()) any_masks_.push_back(static_cast<uint64_t>(r.k));
        if (r.actionable) f.flags |= kAnyActionable;
        continue;
      } else if (r.kind == CondKind::kIndustryUnder && !r.negate && !r.actionable &&
                 f.industry == kNoIndustry && industries_.size() < kNoIndustry - 1) {
        f.industry = industries_.emplace(codes_[r.id], static_cast<uint16_t>(industries_.size())).first->second;
        section = codes_[r.id][0];
        continue;
      } else if (r.kind == CondKind::kFactCmp && facts < 2 && r.id < kNoFact && r.op_mask != 0) {
        f.fact_id[facts] = static_cast<uint8_t>(r.id);
        f.fact_ops[facts] = static_cast<uint8_t>(r.negate ? 7 & ~r.op_mask : r.op_mask);
        f.fact_k[facts] = r.k;
        if (r.actionable) f.flags |= kFactActionable << facts;
        ++facts;
        continue;
      }
      rest.push_back(r);  // e.g. the same tag twice (`t and not t`): the visit decides
    }
    // The sublist key: the industry section the firm must be in, else a tag it must hold
    // (neither a near miss when false).
    uint8_t key = kNoKey;
    for (uint8_t t : f.tag) {
      if (key == kNoKey && t != kNoTag && (t & 0xc0) == 0x40) key = t & 63;
    }
    if (section >= 'A' && section <= 'Z') key = static_cast<uint8_t>(kSectionKey + (section - 'A'));
    keys.push_back(key);
    if (scope_rec) f.flags |= kScoped;
    if (recs.size() + (scope_rec ? 1 : 0) < 2) f.flags |= kSingle;
    if (cp.auto_grant()) f.flags |= kAutoGrant;
    if (e.group >= 0) f.flags |= kGrouped;
    prefilters.push_back(f);
    policy_recs[p] = std::move(rest);
    scope_recs.push_back(scope_rec);
    scopes.push_back(scope);
  }
  // Shared predicates: of the conditions left to visit, those most policies test (at least
  // two), up to 63; up to two per policy then move into its prefilter.
  using RecKey = std::tuple<int, int, int, int32_t, int64_t>;
  auto key = [](const CondRec& r) { return RecKey(static_cast<int>(r.kind), r.negate, r.op_mask, r.id, r.k); };
  absl::flat_hash_map<RecKey, int> uses;
  std::vector<std::pair<RecKey, CondRec>> first_seen;
  for (const auto& recs : policy_recs) {
    for (const CondRec& r : recs) {
      if (uses[key(r)]++ == 0) first_seen.emplace_back(key(r), r);
    }
  }
  std::stable_sort(first_seen.begin(), first_seen.end(),
                   [&](const auto& a, const auto& b) { return uses[a.first] > uses[b.first]; });
  absl::flat_hash_map<RecKey, uint8_t> pred_ids;
  for (const auto& [k, r] : first_seen) {
    if (preds_.size() == kNoPred || uses[k] < 2) break;
    pred_ids.emplace(k, static_cast<uint8_t>(preds_.size()));
    CondRec shared = r;
    shared.actionable = 0;  // per policy, in Prefilter::pred
    preds_.push_back(shared);
  }
  for (size_t p = 0; p < policies.size(); ++p) {
    Prefilter& f = prefilters[p];
    std::vector<CondRec> rest;
    int slots = 0;
    for (const CondRec& r : policy_recs[p]) {
      auto id = pred_ids.find(key(r));
      if (id != pred_ids.end() && slots < 2) {
        f.pred[slots++] = static_cast<uint8_t>(id->second | r.actionable << 7);
      } else {
        rest.push_back(r);
      }
    }
    f.count = static_cast<uint16_t>(rest.size());
    if (scope_recs[p]) rest.push_back(*scope_recs[p]);
    policy_recs[p] = std::move(rest);
  }
  // The sublists, by scope and key (ascending: tags, then sections, then none), each in
  // catalog order; conditions laid out in the order of the sublists, so that a firm's visits
  // walk forward through a few contiguous stretches of memory.
  std::map<std::pair<std::string, int>, std::vector<int>> members;
  for (size_t p = 0; p < policies.size(); ++p) members[{scopes[p], keys[p]}].push_back(static_cast<int>(p));
  const int32_t never = static_cast<int32_t>(policies.size());  // ListInForce leaves it clear
  benefit_.assign(policies.size(), nullptr);
  for (const auto& [scope_key, ps] : members) {
    std::vector<const Prefilter*> entries;
    for (int p : ps) {
      Prefilter& f = prefilters[p];
      f.first = static_cast<uint32_t>(recs_.size());
      recs_.insert(recs_.end(), policy_recs[p].begin(), policy_recs[p].end());
      const CompiledPolicy& cp = policies[p];
      if (cp.benefit) {
        f.benefit = programs_.Append(*cp.benefit);
        if (f.benefit == RowProgram::kNone) {
          benefit_[p] = arena_.Copy(*cp.benefit);
          f.flags |= kSlow;
        }
      }
      entries.push_back(&f);
    }
    ScopeList* list = sublists_.emplace_back(std::make_unique<ScopeList>(AddList(entries, never))).get();
    ScopeGroup& group = by_scope_[scope_key.first];
    const int key = scope_key.second;
    if (key == kNoKey) {
      group.unkeyed = list;
    } else {
      group.keyed.push_back(list);
      if (key < kSectionKey) {
        group.tag_keys |= uint64_t{1} << key;
      } else {
        group.section_keys |= uint32_t{1} << (key - kSectionKey);
      }
    }
  }
  std::vector<const Prefilter*> all;
  for (const Prefilter& f : prefilters) all.push_back(&f);
  all_policies_ = AddList(all, never);
  {
    Prefilter pad;  // the 64-entry reads of the prefilter may run past the last list
    pad.policy = never;
    for (int i = 0; i < 64; ++i) entries_.Add(pad);
  }
  // The generic conditions, after the benefits: as programs where they compile, else as copies.
  for (const Node* g : generic_source_) {
    generic_start_.push_back(programs_.Append(*g));
    generic_.push_back(generic_start_.back() == RowProgram::kNone ? arena_.Copy(*g) : nullptr);
  }
  generic_source_ = {};
  num_any_masks_ = any_masks_.size();
  if (any_masks_.size() < 16) any_masks_.resize(16, 0);  // the prefilter loads 16
  num_conditions_ = static_cast<int>(distinct.size());
}

PolicyIndex::NodeArena::~NodeArena() {
  // The children of arena nodes point into the arena: release them before the blocks go.
  for (size_t b = 0; b < blocks_.size(); ++b) {
    const size_t n = b + 1 == blocks_.size() ? used_ : kBlock;
    for (size_t i = 0; i < n; ++i) {
      for (auto& c : blocks_[b][i].children) c.release();
    }
  }
}

Node* PolicyIndex::NodeArena::Next() {
  if (used_ == kBlock) {
    blocks_.push_back(std::make_unique<Node[]>(kBlock));
    used_ = 0;
  }
  return &blocks_.back()[used_++];
}

const Node* PolicyIndex::NodeArena::Copy(const Node& from) {
  Node* n = Next();
  n->CopyFieldsFrom(from);
  n->children.reserve(from.children.size());
  for (const auto& c : from.children) n->children.emplace_back(const_cast<Node*>(Copy(*c)));
  return n;
}

void PolicyIndex::Entries::Add(const Prefilter& f) {
  for (int i = 0; i < 3; ++i) tag[i].push_back(f.tag[i]);
  any.push_back(f.any);
  for (int i = 0; i < 2; ++i) {
    fact_k[i].push_back(f.fact_k[i]);
    fact_id[i].push_back(f.fact_id[i]);
    fact_ops[i].push_back(f.fact_ops[i]);
  }
  flags.push_back(f.flags);
  industry.push_back(f.industry);
  policy.push_back(f.policy);
  first.push_back(f.first);
  count.push_back(f.count);
  benefit.push_back(f.benefit);
  for (int i = 0; i < 2; ++i) pred[i].push_back(f.pred[i]);
}

PolicyIndex::ScopeList PolicyIndex::AddList(const std::vector<const Prefilter*>& prefilters,
                                            int32_t never_in_force) {
  ScopeList list;
  list.begin = static_cast<uint32_t>(entries_.size());
  list.size = static_cast<uint32_t>(prefilters.size());
  for (const Prefilter* f : prefilters) {
    entries_.Add(*f);
    for (int i = 0; i < 2; ++i) {
      if ((f->pred[i] & 63) != kNoPred) list.preds |= uint64_t{1} << (f->pred[i] & 63);
    }
  }
  Prefilter pad;
  pad.policy = never_in_force;
  while (entries_.size() % 8 != 0) entries_.Add(pad);
  return list;
}

PolicyIndex::ListView PolicyIndex::View(const ScopeList& l) const {
  const Entries& c = entries_;
  const uint32_t b = l.begin;
  ListView v;
  for (int i = 0; i < 3; ++i) v.tag[i] = c.tag[i].data() + b;
  v.any = c.any.data() + b;
  for (int i = 0; i < 2; ++i) {
    v.fact_k[i] = c.fact_k[i].data() + b;
    v.fact_id[i] = c.fact_id[i].data() + b;
    v.fact_ops[i] = c.fact_ops[i].data() + b;
    v.pred[i] = c.pred[i].data() + b;
  }
  v.flags = c.flags.data() + b;
  v.industry = c.industry.data() + b;
  v.policy = c.policy.data() + b;
  v.first = c.first.data() + b;
  v.count = c.count.data() + b;
  v.benefit = c.benefit.data() + b;
  v.size = l.size;
  return v;
}

// The prefilter's verdict on entry i, without branches: 0xff when INELIGIBLE is certain, else
// the number of false conditions (0 or 1, then an actionable one) plus 2 × the number of unknown
// ones (0 to 5).
inline uint32_t PolicyIndex::Verdict(const ListView& l, uint32_t i, const FirmBits& f) {
  using PI = PolicyIndex;
  const uint32_t flags = l.flags[i];
  uint32_t fatal = 0, falses = 0, unknowns = 0;
  for (int k = 0; k < 3; ++k) {
    const uint32_t t = l.tag[k][i];
    const uint32_t is_false = (t != PI::kNoTag) & (((f.held0 >> (t & 63)) & 1) != ((t >> 6) & 1));
    fatal |= is_false & ((t >> 7) ^ 1);
    falses += is_false;
  }
  const uint64_t any = f.any_masks[l.any[i]];
  const uint32_t any_false = (any != 0) & ((f.held0 & any) == 0);
  fatal |= any_false & ((flags & PI::kAnyActionable) == 0);
  falses += any_false;
  for (int k = 0; k < 2; ++k) {
    const uint8_t id = l.fact_id[k][i];
    const uint32_t known = (f.fact_known >> id) & 1;
    const uint32_t is_false = known & !CompareByMask(l.fact_ops[k][i], f.fact_raw[id], l.fact_k[k][i]);
    fatal |= is_false & ((flags & (PI::kFactActionable << k)) == 0);
    falses += is_false;
    unknowns += known ^ 1;
  }
  for (int k = 0; k < 2; ++k) {
    const uint8_t pred = l.pred[k][i];
    const uint32_t known = (f.pred_known >> (pred & 63)) & 1;
    const uint32_t is_false = known & (((f.pred_true >> (pred & 63)) & 1) ^ 1);
    fatal |= is_false & ((pred >> 7) ^ 1);
    falses += is_false;
    unknowns += known ^ 1;
  }
  const uint16_t ind = l.industry[i];
  if (ind != PI::kNoIndustry) {  // not actionable: false is fatal
    if (!f.industry_known) {
      ++unknowns;
    } else {
      fatal |= ind != f.industry_under[0] && ind != f.industry_under[1] &&
               ind != f.industry_under[2] && ind != f.industry_under[3];
    }
  }
  const uint32_t single = (flags & PI::kSingle) != 0;
  fatal |= semantics::DecidedIneligibleBits(falses, unknowns, /*nonactionable_false=*/0, single);
  fatal |= ((f.in_force[i >> 3] >> (i & 7)) & 1) ^ 1;
  return fatal ? 0xff : falses + 2 * unknowns;
}

uint32_t PolicyIndex::PrefilterListPortable(const ListView& list, const FirmBits& firm,
                                            uint32_t* survivors) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < list.size; ++i) {
    const uint32_t verdict = Verdict(list, i, firm);
    survivors[n] = i | verdict << kStartShift;
    n += verdict != 0xff;
  }
  return n;
}

#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*: a known false positive.
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// The same, on lane masks: the tag and shared-predicate slots (a byte each) 64 entries at a
// time, the rest eight at a time.
__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,popcnt"))) uint32_t PolicyIndex::PrefilterAvx512(
    const ListView& l, const FirmBits& f, uint32_t* survivors) {
  using PI = PolicyIndex;
  // The firm's facts and the any-masks as tables in registers: a lookup is a permutation (a
  // gather costs several times as much here).
  __m512i facts[8];
  for (int k = 0; k < 8; ++k) facts[k] = _mm512_loadu_si512(f.fact_raw + 8 * k);
  const __m512i bit4 = _mm512_set1_epi64(16), bit5 = _mm512_set1_epi64(32);
  auto fact_value = [&](__m512i id) __attribute__((target("avx512f"))) {
    const __m512i a = _mm512_permutex2var_epi64(facts[0], id, facts[1]);
    const __m512i b = _mm512_permutex2var_epi64(facts[2], id, facts[3]);
    const __m512i c = _mm512_permutex2var_epi64(facts[4], id, facts[5]);
    const __m512i d = _mm512_permutex2var_epi64(facts[6], id, facts[7]);
    const __mmask8 hi16 = _mm512_test_epi64_mask(id, bit4);
    return _mm512_mask_blend_epi64(_mm512_test_epi64_mask(id, bit5), _mm512_mask_blend_epi64(hi16, a, b),
                                   _mm512_mask_blend_epi64(hi16, c, d));
  };
  const bool few_any = f.num_any_masks <= 16;
  const __m512i any_lo = few_any ? _mm512_loadu_si512(f.any_masks) : _mm512_setzero_si512();
  const __m512i any_hi = few_any ? _mm512_loadu_si512(f.any_masks + 8) : _mm512_setzero_si512();
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i false_start = _mm256_set1_epi32(1 << kStartShift);
  const __m256i unknown_start = _mm256_set1_epi32(2 << kStartShift);
  const __m512i held = _mm512_set1_epi64(static_cast<long long>(f.held0));
  const __m512i known_bits = _mm512_set1_epi64(static_cast<long long>(f.fact_known));
  const __m512i pred_known = _mm512_set1_epi64(static_cast<long long>(f.pred_known));
  const __m512i pred_true = _mm512_set1_epi64(static_cast<long long>(f.pred_true));
  const __m512i one = _mm512_set1_epi64(1);
  const __m512i any_actionable = _mm512_set1_epi64(PI::kAnyActionable);
  const __m512i single = _mm512_set1_epi64(PI::kSingle);
  const __m512i fact_actionable[2] = {_mm512_set1_epi64(PI::kFactActionable),
                                      _mm512_set1_epi64(PI::kFactActionable << 1)};
  const __m512i op_bit[3] = {one, _mm512_set1_epi64(2), _mm512_set1_epi64(4)};
  const __m512i no_industry = _mm512_set1_epi64(PI::kNoIndustry);
  const __m512i under[4] = {_mm512_set1_epi64(f.industry_under[0]), _mm512_set1_epi64(f.industry_under[1]),
                            _mm512_set1_epi64(f.industry_under[2]), _mm512_set1_epi64(f.industry_under[3])};
  // Bit (byte & 63) of a 64-bit word, for 64 bytes at once: the word's byte by one shuffle, the
  // bit in it by another.
  const __m512i low6 = _mm512_set1_epi8(63), low3 = _mm512_set1_epi8(7);
  const __m512i bit_of = _mm512_set1_epi64(static_cast<long long>(0x8040201008040201ull));  // 1 << byte
  auto word_bit = [&](__m512i word, __m512i bytes) __attribute__((target("avx512f,avx512bw"))) {
    const __m512i id = _mm512_and_si512(bytes, low6);
    const __m512i byte = _mm512_shuffle_epi8(word, _mm512_and_si512(_mm512_srli_epi16(id, 3), low3));
    return _mm512_test_epi8_mask(byte, _mm512_shuffle_epi8(bit_of, _mm512_and_si512(id, low3)));
  };
  const __m512i no_tag8 = _mm512_set1_epi8(static_cast<char>(PI::kNoTag));
  const __m512i want8 = _mm512_set1_epi8(0x40), actionable8 = _mm512_set1_epi8(static_cast<char>(0x80));
  uint32_t n = 0;
  for (uint32_t block = 0; block < l.size; block += 64) {
    // Tags and shared predicates (reading up to 63 entries past the list: Entries keeps 64 of
    // padding after the last list, and lanes past the list are never used).
    __mmask64 fatal64 = 0, some64 = 0, two64 = 0, pred_unknown64[2];
    auto count64 = [&](__mmask64 m) {
      two64 |= some64 & m;
      some64 |= m;
    };
    for (int k = 0; k < 3; ++k) {
      const __m512i t = _mm512_loadu_si512(l.tag[k] + block);
      const __mmask64 is_false = ~_mm512_cmpeq_epi8_mask(t, no_tag8) & (word_bit(held, t) ^ _mm512_test_epi8_mask(t, want8));
      fatal64 |= is_false & ~_mm512_test_epi8_mask(t, actionable8);
      count64(is_false);
    }
    for (int k = 0; k < 2; ++k) {
      const __m512i p = _mm512_loadu_si512(l.pred[k] + block);
      const __mmask64 known = word_bit(pred_known, p);
      const __mmask64 is_false = known & ~word_bit(pred_true, p);
      fatal64 |= is_false & ~_mm512_test_epi8_mask(p, actionable8);
      count64(is_false);
      pred_unknown64[k] = ~known;
    }
  for (uint32_t i = block; i < l.size && i < block + 64; i += 8) {  // the padding never survives
    const int lane8 = static_cast<int>(i - block);
    const __m512i flags = _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(l.flags + i)));
    __mmask8 fatal = static_cast<__mmask8>(fatal64 >> lane8);
    const __m512i any_index = _mm512_cvtepu16_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(l.any + i)));
    const __m512i any = few_any ? _mm512_permutex2var_epi64(any_lo, any_index, any_hi)
                                : _mm512_i64gather_epi64(any_index, reinterpret_cast<const long long*>(f.any_masks), 8);
    const __mmask8 any_false = _mm512_test_epi64_mask(any, any) & ~_mm512_test_epi64_mask(held, any);
    fatal |= any_false & ~_mm512_test_epi64_mask(flags, any_actionable);
    __mmask8 fact_false[2], unknown[2];
    for (int k = 0; k < 2; ++k) {
      const __m512i id = _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(l.fact_id[k] + i)));
      const __m512i ops = _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(l.fact_ops[k] + i)));
      const __m512i value = fact_value(id);
      const __m512i bound = _mm512_loadu_si512(l.fact_k[k] + i);
      const __mmask8 known = _mm512_test_epi64_mask(_mm512_srlv_epi64(known_bits, id), one);
      const __mmask8 lt = _mm512_cmplt_epi64_mask(value, bound);
      const __mmask8 gt = _mm512_cmpgt_epi64_mask(value, bound);
      const __mmask8 eq = ~(lt | gt);
      const __mmask8 holds = (lt & _mm512_test_epi64_mask(ops, op_bit[0])) |
                             (eq & _mm512_test_epi64_mask(ops, op_bit[1])) |
                             (gt & _mm512_test_epi64_mask(ops, op_bit[2]));
      fact_false[k] = known & ~holds;
      unknown[k] = ~known;
      fatal |= fact_false[k] & ~_mm512_test_epi64_mask(flags, fact_actionable[k]);
    }
    const __mmask8 pred_unknown[2] = {static_cast<__mmask8>(pred_unknown64[0] >> lane8),
                                      static_cast<__mmask8>(pred_unknown64[1] >> lane8)};
    const __m512i industry = _mm512_cvtepu16_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(l.industry + i)));
    const __mmask8 has_industry = _mm512_cmpneq_epi64_mask(industry, no_industry);
    const __mmask8 industry_under = _mm512_cmpeq_epi64_mask(industry, under[0]) | _mm512_cmpeq_epi64_mask(industry, under[1]) |
                                    _mm512_cmpeq_epi64_mask(industry, under[2]) | _mm512_cmpeq_epi64_mask(industry, under[3]);
    const __mmask8 industry_unknown = f.industry_known ? 0 : has_industry;
    if (f.industry_known) fatal |= has_industry & ~industry_under;
    // How many conditions are false: at least one, at least two (a bit-sliced count).
    __mmask8 some_false = static_cast<__mmask8>(some64 >> lane8), two_false = static_cast<__mmask8>(two64 >> lane8);
    for (__mmask8 m : {any_false, fact_false[0], fact_false[1]}) {
      two_false |= some_false & m;
      some_false |= m;
    }
    const __mmask8 some_unknown = unknown[0] | unknown[1] | industry_unknown | pred_unknown[0] | pred_unknown[1];
    fatal |= two_false | (some_false & (some_unknown | _mm512_test_epi64_mask(flags, single)));
    fatal |= static_cast<__mmask8>(~f.in_force[i >> 3]);
    const __mmask8 live = static_cast<__mmask8>(~fatal);
    // Survivors compacted in a register (a compressing store to memory is slow on some CPUs):
    // index | (false count + 2 × unknown count) << kStartShift.
    __m256i packed = _mm256_add_epi32(lane, _mm256_set1_epi32(static_cast<int>(i)));
    packed = _mm256_mask_add_epi32(packed, some_false, packed, false_start);
    packed = _mm256_mask_add_epi32(packed, unknown[0], packed, unknown_start);
    packed = _mm256_mask_add_epi32(packed, unknown[1], packed, unknown_start);
    packed = _mm256_mask_add_epi32(packed, industry_unknown, packed, unknown_start);
    packed = _mm256_mask_add_epi32(packed, pred_unknown[0], packed, unknown_start);
    packed = _mm256_mask_add_epi32(packed, pred_unknown[1], packed, unknown_start);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(survivors + n), _mm256_maskz_compress_epi32(live, packed));
    n += static_cast<uint32_t>(__builtin_popcount(live));
  }
  }
  // Padding entries are never in force, so every survivor is a real entry.
  return n;
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

uint32_t PolicyIndex::PrefilterList(const ListView& list, const FirmBits& firm, uint32_t* survivors) {
#if defined(__x86_64__)
  static const bool have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  if (have && !plan_internal::SimdDisabled()) return PrefilterAvx512(list, firm, survivors);
#endif
  return PrefilterListPortable(list, firm, survivors);
}

PolicyIndex::CondRec PolicyIndex::Compile(const Node& condition) {
  CondRec c;
  const Node* n = &condition;
  while (n->kind == NodeKind::kNot) {
    c.negate ^= 1;
    n = n->children[0].get();
  }
  c.kind = CondKind::kGeneric;
  // `a or b or …` / `a and b and …` of plain tags: one mask test when the library has ≤ 64 tags.
  auto tag_mask = [&](const Node& m) -> std::optional<int64_t> {
    if (catalog_.taxonomy().num_tags() > 64 || m.children.empty()) return std::nullopt;
    uint64_t mask = 0;
    for (const auto& child : m.children) {
      if (child->kind != NodeKind::kTag) return std::nullopt;
      mask |= uint64_t{1} << child->tag.value;
    }
    return static_cast<int64_t>(mask);
  };
  auto add_code = [&](const std::string& code) {
    codes_.push_back(code);
    return static_cast<int32_t>(codes_.size() - 1);
  };
  if (n->kind == NodeKind::kTag) {
    c.kind = CondKind::kTag;
    c.id = static_cast<int32_t>(n->tag.value);
  } else if ((n->kind == NodeKind::kOr || n->kind == NodeKind::kAnd) && tag_mask(*n)) {
    c.kind = n->kind == NodeKind::kOr ? CondKind::kTagAny : CondKind::kTagAll;
    c.k = *tag_mask(*n);
  } else if (n->kind == NodeKind::kCompare && n->children.size() == 2) {
    const Node* a = n->children[0].get();
    const Node* b = n->children[1].get();
    if (a->kind == NodeKind::kFact && b->kind == NodeKind::kNumber) {
      c.kind = CondKind::kFactCmp;
      c.op_mask = ComparisonMask(n->op);
      c.id = static_cast<int32_t>(a->fact.value);
      c.k = b->number.raw();
    } else if (a->kind == NodeKind::kNumber && b->kind == NodeKind::kFact) {
      c.kind = CondKind::kFactCmp;
      c.op_mask = ComparisonMask(Flip(n->op));
      c.id = static_cast<int32_t>(b->fact.value);
      c.k = a->number.raw();
    } else if (a->kind == NodeKind::kFact && b->kind == NodeKind::kFact) {
      c.kind = CondKind::kFactFact;
      c.op_mask = ComparisonMask(n->op);
      c.id = static_cast<int32_t>(a->fact.value);
      c.k = static_cast<int64_t>(b->fact.value);
    }
  } else if (n->kind == NodeKind::kCall && n->func == Func::kHasFact && n->children.size() == 1 &&
             n->children[0]->kind == NodeKind::kFact) {
    c.kind = CondKind::kHasFact;
    c.id = static_cast<int32_t>(n->children[0]->fact.value);
  } else if (n->kind == NodeKind::kUnder && n->children[0]->kind == NodeKind::kBuiltin &&
             (n->children[0]->builtin == Builtin::kRegion ||
              n->children[0]->builtin == Builtin::kIndustry)) {
    c.kind = n->children[0]->builtin == Builtin::kRegion ? CondKind::kRegionUnder
                                                         : CondKind::kIndustryUnder;
    c.id = add_code(n->text);
  }
  if (c.kind == CondKind::kGeneric) {
    c.negate = 0;  // evaluated whole, `not`s included
    auto [it, added] = generic_by_text_.emplace(condition.ToString(), static_cast<int32_t>(generic_source_.size()));
    if (added) generic_source_.push_back(&condition);  // compiled after the benefits (constructor)
    c.id = it->second;
  }
  return c;
}

void PolicyIndex::Match(const FirmView& view, std::vector<PolicyHit>* out) const {
  out->clear();
  Scratch& s = ThreadScratch();
  s.Begin(generic_.size());
  const Firm& firm = view.firm();
  const Taxonomy& tax = catalog_.taxonomy();
  const absl::CivilDay as_of = view.AsOf();
  const int32_t today = DayNumber(as_of);

  // The tags held on as_of, closed upwards over the hierarchy.
  s.held.assign((static_cast<size_t>(tax.num_tags()) + 63) / 64, 0);
  for (const TagGrantRecord& g : firm.tags) {
    if (!g.HeldOn(as_of)) continue;
    for (TagId a : tax.tag(g.tag).ancestors) s.held[a.value / 64] |= uint64_t{1} << (a.value % 64);
  }
  const uint64_t held0 = s.held.empty() ? 0 : s.held[0];
  RowProgram::Row row;
  row.facts = firm.facts.data();
  row.held = s.held.data();
  row.region = firm.region;
  row.industry = firm.industry;
  row.founded_known = firm.founded.has_value();
  if (firm.founded) row.founded = RowProgram::DayOf(*firm.founded);
  row.as_of = RowProgram::DayOf(as_of);

  // Candidates: unscoped policies and those scoped to the firm's province, city or county,
  // of the sublists the firm's tags and industry section select. In scope, the scope condition
  // is true and is not visited.
  const absl::string_view region = firm.region;
  const bool in_scope = region.size() == 6;
  const ScopeList* lists[kMaxLists];
  int num_lists = 0;
  const int section = firm.industry.empty() ? -1  // unknown: every section's
                      : firm.industry[0] >= 'A' && firm.industry[0] <= 'Z' ? firm.industry[0] - 'A'
                                                                           : 26;  // none
  auto add_scope = [&](absl::string_view code) {
    auto it = by_scope_.find(code);
    if (it == by_scope_.end()) return;
    const ScopeGroup& g = it->second;
    if (g.unkeyed != nullptr) lists[num_lists++] = g.unkeyed;
    for (uint64_t t = held0 & g.tag_keys; t != 0; t &= t - 1) {
      lists[num_lists++] = g.keyed[__builtin_popcountll(g.tag_keys & ((t & -t) - 1))];
    }
    const int first_section = __builtin_popcountll(g.tag_keys);
    if (section < 0) {
      for (int k = first_section; k < static_cast<int>(g.keyed.size()); ++k) lists[num_lists++] = g.keyed[k];
    } else if (section < 26 && ((g.section_keys >> section) & 1)) {
      lists[num_lists++] = g.keyed[first_section + __builtin_popcount(g.section_keys & ((1u << section) - 1))];
    }
  };
  if (!in_scope) {
    lists[num_lists++] = &all_policies_;  // `region under` is unknown (or false): all are candidates
  } else {
    char buf[6];
    add_scope("");
    std::copy(region.begin(), region.end(), buf);
    buf[2] = buf[3] = buf[4] = buf[5] = '0';
    add_scope(absl::string_view(buf, 6));
    if (region.substr(2, 2) != "00") {
      buf[2] = region[2];
      buf[3] = region[3];
      add_scope(absl::string_view(buf, 6));
    }
    if (region.substr(4) != "00") add_scope(region);  // also "xx00yy", directly under a province
  }

  auto eval = [&](const CondRec& c) -> uint8_t {
    uint8_t v;
    switch (c.kind) {
      case CondKind::kTag:
        v = (s.held[c.id / 64] >> (c.id % 64)) & 1 ? kTrue : kFalse;
        break;
      case CondKind::kTagAny:
        v = (held0 & static_cast<uint64_t>(c.k)) != 0 ? kTrue : kFalse;
        break;
      case CondKind::kTagAll:
        v = (held0 & static_cast<uint64_t>(c.k)) == static_cast<uint64_t>(c.k) ? kTrue : kFalse;
        break;
      case CondKind::kFactCmp: {
        const std::optional<Decimal>& f = firm.facts[c.id];
        if (!f) return kUnknown;
        v = CompareByMask(c.op_mask, f->raw(), c.k) ? kTrue : kFalse;
        break;
      }
      case CondKind::kFactFact: {
        const std::optional<Decimal>& a = firm.facts[c.id];
        const std::optional<Decimal>& b = firm.facts[c.k];
        if (!a || !b) return kUnknown;
        v = CompareByMask(c.op_mask, a->raw(), b->raw()) ? kTrue : kFalse;
        break;
      }
      case CondKind::kHasFact:
        v = firm.facts[c.id].has_value() ? kTrue : kFalse;
        break;
      case CondKind::kRegionUnder:
        if (firm.region.empty()) return kUnknown;
        v = Taxonomy::RegionUnder(firm.region, codes_[c.id]) ? kTrue : kFalse;
        break;
      case CondKind::kIndustryUnder:
        if (firm.industry.empty()) return kUnknown;
        v = Taxonomy::IndustryUnder(firm.industry, codes_[c.id]) ? kTrue : kFalse;
        break;
      default: {
        if (s.stamp[c.id] != s.query) {
          s.stamp[c.id] = s.query;
          const uint32_t start = generic_start_[c.id];
          if (start != RowProgram::kNone) {
            const RowProgram::Result r = programs_.Run(start, row);
            s.value[c.id] = r.known ? static_cast<uint8_t>(r.raw) : kUnknown;
          } else {
            s.value[c.id] = FromValue(Evaluate(*generic_[c.id], view));
          }
          ++s.stats.generic;
        }
        return s.value[c.id];
      }
    }
    return static_cast<uint8_t>(v ^ c.negate);
  };

  // What the prefilter reads of the firm (fact ids < 63; slot kNoFact is always known).
  FirmBits bits;
  bits.held0 = held0;
  bits.fact_known = uint64_t{1} << kNoFact;
  for (size_t k = 0; k < firm.facts.size() && k < kNoFact; ++k) {
    bits.fact_raw[k] = firm.facts[k] ? firm.facts[k]->raw() : 0;
    bits.fact_known |= uint64_t{firm.facts[k].has_value()} << k;
  }
  // The shared predicates the lists test, evaluated once (generic ones through the memo).
  uint64_t wanted = 0;
  for (int l = 0; l < num_lists; ++l) wanted |= lists[l]->preds;
  for (; wanted != 0; wanted &= wanted - 1) {
    const int id = __builtin_ctzll(wanted);
    const uint8_t v = eval(preds_[id]);
    bits.pred_known |= uint64_t{v != kUnknown} << id;
    bits.pred_true |= uint64_t{v == kTrue} << id;
  }
  bits.any_masks = any_masks_.data();
  bits.num_any_masks = num_any_masks_;
  bits.industry_known = !firm.industry.empty();
  if (bits.industry_known && !industries_.empty()) {
    int k = 0;
    for (size_t len : {1, 3, 4, 5}) {  // the levels Taxonomy::IndustryUnder knows
      if (len > firm.industry.size()) break;
      auto it = industries_.find(absl::string_view(firm.industry).substr(0, len));
      if (it != industries_.end()) bits.industry_under[k++] = it->second;
    }
  }

  // Per scope list: the prefilter over every entry, then the visit of the survivors' remaining
  // conditions, which lie in recs_ in the same order as the lists.
  int candidates = 0, visited = 0, visits = 0;
  // Each list is in catalog order: its hits are a sorted run.
  int runs = 0;
  uint32_t lo_word = UINT32_MAX, hi_word = 0;
  for (int l = 0; l < num_lists; ++l) {
    const ListView list = View(*lists[l]);
    const size_t run_begin = out->size();
    candidates += static_cast<int>(list.size);
    if (s.survivors.size() < list.size + 16) s.survivors.resize(list.size + 16);
    uint32_t* survivors = s.survivors.data();
    bits.in_force = ListInForce(*lists[l], today);
    const uint32_t num_survivors = PrefilterList(list, bits, survivors);
    visited += static_cast<int>(num_survivors);
    for (uint32_t j = 0; j < num_survivors; ++j) {
      const uint32_t e = survivors[j] & ((1u << kStartShift) - 1);
      const uint32_t start = survivors[j] >> kStartShift;
      const int p = list.policy[e];
      const uint8_t flags = list.flags[e];
      int false_count = start & 1;
      int unknown_count = start >> 1;
      bool ineligible = false;
      const CondRec* rec = recs_.data() + list.first[e];
      const uint32_t count = list.count[e] + (in_scope ? 0 : (flags & kScoped));
      uint32_t i = 0;
      // The prefilter's false condition, if any, was actionable (a non-actionable one is fatal).
      bool false_actionable = true;
      const bool single = (flags & kSingle) != 0;
      for (; i < count; ++i) {
        const uint8_t v = eval(rec[i]);
        if (v == kFalse) {
          ++false_count;
          false_actionable = false_actionable && rec[i].actionable;
        } else if (v == kUnknown) {
          ++unknown_count;
        } else {
          continue;
        }
        if (semantics::DecidedIneligible(false_count, unknown_count, false_actionable, single)) {
          ineligible = true;
          break;
        }
      }
      visits += static_cast<int>(i + (ineligible ? 1 : 0));
      if (ineligible) continue;
      // Not decided after every condition: the status from the tally (a policy the index did
      // not mark single has at least two conditions).
      semantics::Tally tally;
      tally.conditions = single ? 1 : 2;
      tally.falses = false_count;
      tally.unknowns = unknown_count;
      tally.false_actionable = false_actionable;
      MatchStatus status = semantics::StatusOf(tally);
      if (status == INELIGIBLE) continue;
      // Built in place (a copy from the stack stalls on store forwarding).
      PolicyHit& hit = out->emplace_back();
      hit.policy = p;
      hit.grouped = (flags & kGrouped) != 0;
      hit.status = status;
      if (status != ELIGIBLE) continue;
      // Eligible: the benefit exactly as the reference computes it.
      const uint32_t program = list.benefit[e];
      bool has_benefit = program != RowProgram::kNone;
      if (has_benefit) {
        const RowProgram::Result r = programs_.Run(program, row);
        if (r.known) hit.set_benefit(Decimal::FromRawUnchecked(semantics::GrantAmountRaw(r.raw)));
      }
      if (flags & kSlow) {  // a benefit that did not compile
        has_benefit = true;
        const Value b = Evaluate(*benefit_[p], view);
        if (!b.is_unknown()) hit.set_benefit(semantics::GrantAmount(b.number));
      }
      hit.status = semantics::WithBenefit(hit.status, (flags & kAutoGrant) != 0, has_benefit, hit.has_benefit);
    }
    if (out->size() > run_begin) {
      ++runs;
      lo_word = std::min<uint32_t>(lo_word, static_cast<uint32_t>((*out)[run_begin].policy) / 64);
      hi_word = std::max<uint32_t>(hi_word, static_cast<uint32_t>(out->back().policy) / 64);
    }
  }
  s.stats.candidates = candidates;
  s.stats.visited = visited;
  s.stats.conditions = visits;
  // The lists' sorted runs of hits, put into catalog order: each hit's policy marked in a
  // per-thread bitmap over the catalog, the marked words read in order (no compare per hit,
  // so no mispredicted branch; no allocation once warm).
  if (runs > 1) {
    thread_local std::vector<uint64_t> marked;   // all zero between queries
    thread_local std::vector<uint32_t> hit_of;   // by catalog index: the marked policy's hit
    thread_local std::vector<PolicyHit> merged;
    if (marked.size() < policies_.size() / 64 + 1) marked.resize(policies_.size() / 64 + 1, 0);
    if (hit_of.size() < policies_.size()) hit_of.resize(policies_.size());
    const PolicyHit* hits = out->data();
    for (uint32_t h = 0; h < out->size(); ++h) {
      const uint32_t p = static_cast<uint32_t>(hits[h].policy);
      marked[p / 64] |= uint64_t{1} << (p % 64);
      hit_of[p] = h;
    }
    merged.resize(out->size());
    PolicyHit* next = merged.data();
    for (uint32_t w = lo_word; w <= hi_word; ++w) {
      for (uint64_t bits = marked[w]; bits != 0; bits &= bits - 1) {
        *next++ = hits[hit_of[w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits))]];
      }
      marked[w] = 0;
    }
    out->swap(merged);
  }

  // Exclusive groups: of a group's eligible members the largest known benefit wins (ties and
  // unknowns keep the smaller catalog index, as ApplyExclusiveGroups); the others are EXCLUDED.
  if (num_groups_ > 0) {
    // Winners by group, index into *out; only the groups seen are touched (and reset).
    constexpr int kNone = -1;
    thread_local std::vector<int> winner;
    thread_local std::vector<int> seen;
    if (winner.size() < static_cast<size_t>(num_groups_)) winner.assign(num_groups_, kNone);
    seen.clear();
    for (int i = 0; i < static_cast<int>(out->size()); ++i) {
      const PolicyHit& h = (*out)[i];
      if (!h.grouped || h.status != ELIGIBLE) continue;
      const int g = policies_[h.policy].group;
      int& w = winner[g];
      if (w == kNone) {
        w = i;
        seen.push_back(g);
        continue;
      }
      const PolicyHit& wh = (*out)[w];
      if (semantics::BeatsGroupWinner(h.has_benefit, h.benefit_raw, wh.has_benefit, wh.benefit_raw)) w = i;
    }
    for (int i = 0; i < static_cast<int>(out->size()) && !seen.empty(); ++i) {
      PolicyHit& h = (*out)[i];
      if (!h.grouped || h.status != ELIGIBLE) continue;
      if (winner[policies_[h.policy].group] != i) h.status = EXCLUDED;
    }
    for (int g : seen) winner[g] = kNone;
  }
}

std::vector<Outcome> PolicyIndex::MatchAll(const FirmView& view) const {
  std::vector<PolicyHit> hits;
  Match(view, &hits);
  std::vector<Outcome> out(catalog_.policies().size());
  for (const PolicyHit& h : hits) out[h.policy] = h.outcome();
  return out;
}

const uint8_t* PolicyIndex::ListInForce(const ScopeList& list, int32_t day) const {
  Scratch& s = ThreadScratch();
  if (s.in_force_index != instance_ || s.in_force_day != day) {
    s.in_force.assign(entries_.size() / 8 + 1, 0);
    for (size_t i = 0; i < entries_.size(); ++i) {
      const int32_t p = entries_.policy[i];
      if (p >= static_cast<int32_t>(policies_.size())) continue;  // padding: never in force
      const PolicyEntry& e = policies_[p];
      if (e.has_eligibility && e.valid_from <= day && day <= e.valid_to) {
        s.in_force[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
      }
    }
    s.in_force_index = instance_;
    s.in_force_day = day;
  }
  return s.in_force.data() + list.begin / 8;  // (a list begins at a multiple of 8)
}

PolicyIndex::Stats PolicyIndex::LastStats() { return ThreadScratch().stats; }

}  // namespace polmatch
