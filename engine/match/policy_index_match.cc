// File: policy_index_match.cc
//
// A query of the single-firm path (PolicyIndex::Match), in five steps:
//   1. CandidateLists: the scope lists the firm's region, tags and industry section select;
//   2. ReadFirmBits:   what the prefilter reads of the firm (held tags, facts, shared predicates);
//   3. per list, PrefilterList (policy_index_prefilter.cc), then VisitSurvivors: the remaining
//      conditions of each survivor with the early exit, the status and the benefit (semantics.h);
//   4. MergeRuns: the lists' sorted runs of hits into catalog order;
//   5. ApplyExclusiveGroups.
#include <algorithm>
#include <climits>

#include "engine/expr/eval.h"
#include "engine/index/firm_store.h"
#include "engine/match/policy_index.h"
#include "engine/match/semantics.h"
#include "engine/taxonomy/taxonomy.h"
#include "engine/util/truth.h"

namespace polmatch {
namespace {

// Condition values as the memo and the visit keep them: Truth's byte (util/truth.h).
constexpr uint8_t kFalse = static_cast<uint8_t>(Truth::kFalse);
constexpr uint8_t kTrue = static_cast<uint8_t>(Truth::kTrue);
constexpr uint8_t kUnknown = static_cast<uint8_t>(Truth::kUnknown);

}  // namespace

namespace policy_index_internal {

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

}  // namespace policy_index_internal

namespace {

using policy_index_internal::Scratch;

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

}  // namespace

// The value of one compiled condition for the firm of one query; generic conditions are
// evaluated once per query (a RowProgram, else the reference evaluator) and memoised.
class PolicyIndex::Conditions {
 public:
  Conditions(const PolicyIndex& index, const FirmView& view, const RowProgram::Row& row, Scratch& s,
             uint64_t held0)
      : index_(index), view_(view), firm_(view.firm()), row_(row), s_(s), held0_(held0) {}

  uint8_t operator()(const CondRec& c) const {
    uint8_t v;
    switch (c.kind) {
      case CondKind::kTag:
        v = (s_.held[c.id / 64] >> (c.id % 64)) & 1 ? kTrue : kFalse;
        break;
      case CondKind::kTagAny:
        v = (held0_ & static_cast<uint64_t>(c.k)) != 0 ? kTrue : kFalse;
        break;
      case CondKind::kTagAll:
        v = (held0_ & static_cast<uint64_t>(c.k)) == static_cast<uint64_t>(c.k) ? kTrue : kFalse;
        break;
      case CondKind::kFactCmp: {
        const std::optional<Decimal>& f = firm_.facts[c.id];
        if (!f) return kUnknown;
        v = CompareByMask(c.op_mask, f->raw(), c.k) ? kTrue : kFalse;
        break;
      }
      case CondKind::kFactFact: {
        const std::optional<Decimal>& a = firm_.facts[c.id];
        const std::optional<Decimal>& b = firm_.facts[c.k];
        if (!a || !b) return kUnknown;
        v = CompareByMask(c.op_mask, a->raw(), b->raw()) ? kTrue : kFalse;
        break;
      }
      case CondKind::kHasFact:
        v = firm_.facts[c.id].has_value() ? kTrue : kFalse;
        break;
      case CondKind::kRegionUnder:
        if (firm_.region.empty()) return kUnknown;
        v = Taxonomy::RegionUnder(firm_.region, index_.codes_[c.id]) ? kTrue : kFalse;
        break;
      case CondKind::kIndustryUnder:
        if (firm_.industry.empty()) return kUnknown;
        v = Taxonomy::IndustryUnder(firm_.industry, index_.codes_[c.id]) ? kTrue : kFalse;
        break;
      default: {
        if (s_.stamp[c.id] != s_.query) {
          s_.stamp[c.id] = s_.query;
          const uint32_t start = index_.generic_start_[c.id];
          if (start != RowProgram::kNone) {
            const RowProgram::Result r = index_.programs_.Run(start, row_);
            s_.value[c.id] = r.known ? static_cast<uint8_t>(r.raw) : kUnknown;
          } else {
            s_.value[c.id] = static_cast<uint8_t>(semantics::TruthOf(Evaluate(*index_.generic_[c.id], view_)));
          }
          ++s_.stats.generic;
        }
        return s_.value[c.id];
      }
    }
    return static_cast<uint8_t>(v ^ c.negate);
  }

 private:
  const PolicyIndex& index_;
  const FirmView& view_;
  const Firm& firm_;
  const RowProgram::Row& row_;
  Scratch& s_;
  const uint64_t held0_;
};

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

// Candidates: unscoped policies and those scoped to the firm's province, city or county, of the
// sublists the firm's tags and industry section select. In scope, the scope condition is true
// and is not visited. Returns how many lists were put in `lists` (room for kMaxLists).
int PolicyIndex::CandidateLists(const Firm& firm, uint64_t held0, const ScopeList** lists) const {
  const absl::string_view region = firm.region;
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
  if (region.size() != 6) {
    lists[num_lists++] = &all_policies_;  // `region under` is unknown (or false): all are candidates
    return num_lists;
  }
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
  return num_lists;
}

// What the prefilter reads of the firm (fact ids < 63; slot kNoFact is always known), and the
// shared predicates its lists test, evaluated once (generic ones through the memo).
void PolicyIndex::ReadFirmBits(const Firm& firm, uint64_t held0, const ScopeList* const* lists,
                               int num_lists, const Conditions& eval, FirmBits* out) const {
  FirmBits& bits = *out;
  bits.held0 = held0;
  bits.fact_known = uint64_t{1} << kNoFact;
  for (size_t k = 0; k < firm.facts.size() && k < kNoFact; ++k) {
    bits.fact_raw[k] = firm.facts[k] ? firm.facts[k]->raw() : 0;
    bits.fact_known |= uint64_t{firm.facts[k].has_value()} << k;
  }
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
}

// The survivors of one list's prefilter: each one's remaining conditions (in recs_, in list
// order) visited with the early exit of semantics::DecidedIneligible, then its status from the
// tally and, if ELIGIBLE, its benefit exactly as the reference computes it. Hits are appended to
// `out` in list order (= catalog order); returns the number of condition visits.
inline int PolicyIndex::VisitSurvivors(const ListView& list, const uint32_t* survivors, uint32_t num_survivors,
                                       bool in_scope, const Conditions& eval, const RowProgram::Row& row,
                                       const FirmView& view, std::vector<PolicyHit>* out) const {
  int visits = 0;
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
    hit.policy = CatalogIndex(static_cast<uint32_t>(p));
    hit.grouped = (flags & kGrouped) != 0;
    hit.status = status;
    if (status != ELIGIBLE) continue;
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
  return visits;
}

// The lists' sorted runs of hits, put into catalog order: each hit's policy marked in a
// per-thread bitmap over the catalog, the marked words [lo_word, hi_word] read in order (no
// compare per hit, so no mispredicted branch; no allocation once warm).
void PolicyIndex::MergeRuns(uint32_t lo_word, uint32_t hi_word, std::vector<PolicyHit>* out) const {
  thread_local std::vector<uint64_t> marked;   // all zero between queries
  thread_local std::vector<uint32_t> hit_of;   // by catalog index: the marked policy's hit
  thread_local std::vector<PolicyHit> merged;
  if (marked.size() < policies_.size() / 64 + 1) marked.resize(policies_.size() / 64 + 1, 0);
  if (hit_of.size() < policies_.size()) hit_of.resize(policies_.size());
  const PolicyHit* hits = out->data();
  for (uint32_t h = 0; h < out->size(); ++h) {
    const uint32_t p = hits[h].policy.value;
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

// Exclusive groups: of a group's eligible members the largest known benefit wins
// (semantics::BeatsGroupWinner: ties and unknowns keep the smaller catalog index, as
// ApplyExclusiveGroups); the others are EXCLUDED.
void PolicyIndex::ApplyExclusiveGroups(std::vector<PolicyHit>* out) const {
  // Winners by group, index into *out; only the groups seen are touched (and reset).
  constexpr int kNone = -1;
  thread_local std::vector<int> winner;
  thread_local std::vector<int> seen;
  if (winner.size() < static_cast<size_t>(num_groups_)) winner.assign(num_groups_, kNone);
  seen.clear();
  for (int i = 0; i < static_cast<int>(out->size()); ++i) {
    const PolicyHit& h = (*out)[i];
    if (!h.grouped || h.status != ELIGIBLE) continue;
    const int g = policies_[h.policy.value].group;
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
    if (winner[policies_[h.policy.value].group] != i) h.status = EXCLUDED;
  }
  for (int g : seen) winner[g] = kNone;
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

  const ScopeList* lists[kMaxLists];
  const int num_lists = CandidateLists(firm, held0, lists);
  const bool in_scope = firm.region.size() == 6;
  const Conditions eval(*this, view, row, s, held0);
  FirmBits bits;
  ReadFirmBits(firm, held0, lists, num_lists, eval, &bits);

  int candidates = 0, visited = 0, visits = 0;
  int runs = 0;  // each list is in catalog order: its hits are a sorted run
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
    visits += VisitSurvivors(list, survivors, num_survivors, in_scope, eval, row, view, out);
    if (out->size() > run_begin) {
      ++runs;
      lo_word = std::min<uint32_t>(lo_word, (*out)[run_begin].policy.value / 64);
      hi_word = std::max<uint32_t>(hi_word, out->back().policy.value / 64);
    }
  }
  s.stats.candidates = candidates;
  s.stats.visited = visited;
  s.stats.conditions = visits;
  if (runs > 1) MergeRuns(lo_word, hi_word, out);
  if (num_groups_ > 0) ApplyExclusiveGroups(out);
}

std::vector<Outcome> PolicyIndex::MatchAll(const FirmView& view) const {
  std::vector<PolicyHit> hits;
  Match(view, &hits);
  std::vector<Outcome> out(catalog_.policies().size());
  for (const PolicyHit& h : hits) out[h.policy.value] = h.outcome();
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