#include "engine/match/policy_index.h"

#include <algorithm>
#include <climits>

#include "engine/expr/eval.h"
#include "engine/index/firm_store.h"
#include "engine/match/plan_eval.h"
#include "engine/taxonomy/taxonomy.h"

namespace polmatch {
namespace {

using plan_internal::CompareRaw;

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
  const auto& policies = catalog.policies();
  absl::flat_hash_map<std::string, int> group_index;
  for (const auto& [name, members] : catalog.groups()) {
    if (members.size() > 1) group_index.emplace(name, 0);
  }
  for (auto& [name, index] : group_index) index = num_groups_++;
  absl::flat_hash_map<std::string, int> distinct;
  policies_.resize(policies.size());
  std::vector<std::vector<CondRec>> policy_recs(policies.size());
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
    // Tag conditions go into the prefilter (decided by a few word operations for the whole
    // scope list); the rest are visited.
    Prefilter f;
    f.policy = static_cast<int32_t>(p);
    std::vector<CondRec> rest;
    for (const CondRec& r : recs) {
      if (r.kind == CondKind::kTag && r.id < 64 && !r.negate) {
        const uint64_t bit = uint64_t{1} << r.id;
        uint64_t& mask = r.actionable ? f.change_mask : f.fixed_mask;
        uint64_t& want = r.actionable ? f.change_want : f.fixed_want;
        if (((f.fixed_mask | f.change_mask) & bit) == 0) {
          mask |= bit;
          want |= bit;
          continue;
        }
      } else if (r.kind == CondKind::kTag && r.id < 64 && r.negate) {
        const uint64_t bit = uint64_t{1} << r.id;
        uint64_t& mask = r.actionable ? f.change_mask : f.fixed_mask;
        if (((f.fixed_mask | f.change_mask) & bit) == 0) {
          mask |= bit;  // wanted clear
          continue;
        }
      } else if (r.kind == CondKind::kTagAny && !r.negate && f.any_mask == 0) {
        f.any_mask = static_cast<uint64_t>(r.k);
        if (r.actionable) f.flags |= kAnyActionable;
        continue;
      } else if (r.kind == CondKind::kFactCmp && !r.negate && f.fact_id < 0 && r.id < 64) {
        f.fact_id = static_cast<int8_t>(r.id);
        f.fact_op = static_cast<uint8_t>(r.op);
        f.fact_k = r.k;
        if (r.actionable) f.flags |= kFactActionable;
        continue;
      }
      rest.push_back(r);  // e.g. the same tag twice (`t and not t`): the visit decides
    }
    f.count = static_cast<uint16_t>(rest.size());
    if (scope_rec) f.flags |= kScoped;
    f.total = static_cast<uint16_t>(recs.size() + (scope_rec ? 1 : 0));
    recs = std::move(rest);
    by_scope_[scope].push_back(f);
    policy_recs[p] = std::move(recs);
    if (scope_rec) policy_recs[p].push_back(*scope_rec);
  }
  // Conditions laid out in the order of the scope lists, so that a firm's visits walk forward
  // through a few contiguous stretches of memory.
  for (auto& [scope, list] : by_scope_) {
    for (Prefilter& f : list) {
      f.first = static_cast<uint32_t>(recs_.size());
      recs_.insert(recs_.end(), policy_recs[f.policy].begin(), policy_recs[f.policy].end());
      all_policies_.push_back(f);
    }
  }
  std::sort(all_policies_.begin(), all_policies_.end(),
            [](const Prefilter& a, const Prefilter& b) { return a.policy < b.policy; });
  num_conditions_ = static_cast<int>(distinct.size());
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
      c.op = n->op;
      c.id = static_cast<int32_t>(a->fact.value);
      c.k = b->number.raw();
    } else if (a->kind == NodeKind::kNumber && b->kind == NodeKind::kFact) {
      c.kind = CondKind::kFactCmp;
      c.op = Flip(n->op);
      c.id = static_cast<int32_t>(b->fact.value);
      c.k = a->number.raw();
    } else if (a->kind == NodeKind::kFact && b->kind == NodeKind::kFact) {
      c.kind = CondKind::kFactFact;
      c.op = n->op;
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
    auto [it, added] = generic_by_text_.emplace(condition.ToString(), static_cast<int32_t>(generic_.size()));
    if (added) generic_.push_back(&condition);
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

  // Candidates: unscoped policies and those scoped to the firm's province, city or county. In
  // scope, the scope condition is true and is not visited.
  const absl::string_view region = firm.region;
  const bool in_scope = region.size() == 6;
  const std::vector<Prefilter>* lists[4];
  int num_lists = 0;
  auto add_scope = [&](absl::string_view code) {
    auto it = by_scope_.find(code);
    if (it != by_scope_.end()) lists[num_lists++] = &it->second;
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
        v = CompareRaw(c.op, f->raw(), c.k) ? kTrue : kFalse;
        break;
      }
      case CondKind::kFactFact: {
        const std::optional<Decimal>& a = firm.facts[c.id];
        const std::optional<Decimal>& b = firm.facts[c.k];
        if (!a || !b) return kUnknown;
        v = CompareRaw(c.op, a->raw(), b->raw()) ? kTrue : kFalse;
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
          s.value[c.id] = FromValue(Evaluate(*generic_[c.id], view));
          ++s.stats.generic;
        }
        return s.value[c.id];
      }
    }
    return static_cast<uint8_t>(v ^ c.negate);
  };

  // The firm's facts as the prefilter reads them (fact ids < 64).
  int64_t fact_raw[64];
  uint64_t fact_known = 0;
  for (size_t k = 0; k < firm.facts.size() && k < 64; ++k) {
    fact_raw[k] = firm.facts[k] ? firm.facts[k]->raw() : 0;
    if (firm.facts[k]) fact_known |= uint64_t{1} << k;
  }
  // The prefilter's verdict on a policy's tag conditions and its one fact condition: -1 when
  // INELIGIBLE is certain, else the number of false conditions (0 or 1, then an actionable one)
  // plus 2 × the number of unknown ones (0 or 1).
  auto prefilter = [&](const Prefilter& f) -> int {
    if ((held0 & f.fixed_mask) != f.fixed_want) return -1;
    const bool any_false = f.any_mask != 0 && (held0 & f.any_mask) == 0;
    if (any_false && (f.flags & kAnyActionable) == 0) return -1;
    const uint64_t changes = (held0 ^ f.change_want) & f.change_mask;  // the false ones
    if ((changes & (changes - 1)) != 0 || (changes != 0 && any_false)) return -1;  // two or more
    int falses = (changes != 0 || any_false) ? 1 : 0;
    if (f.fact_id < 0) return falses;
    if (((fact_known >> f.fact_id) & 1) == 0) return falses > 0 ? -1 : 2;  // unknown
    if (CompareRaw(static_cast<Op>(f.fact_op), fact_raw[f.fact_id], f.fact_k)) return falses;
    return (falses > 0 || (f.flags & kFactActionable) == 0) ? -1 : 1;
  };

  // One pass over the scope lists: each policy's prefilter, then (if it survives) the visit of
  // its remaining conditions, which lie in recs_ in the same order as the lists.
  int candidates = 0, visited = 0, visits = 0;
  size_t hits_end[4];  // each scope list is in catalog order: the hits are sorted runs
  for (int l = 0; l < num_lists; ++l) {
    candidates += static_cast<int>(lists[l]->size());
    for (const Prefilter& e : *lists[l]) {
      const int start = prefilter(e);
      if (start < 0) continue;
      const int p = e.policy;
      const PolicyEntry& entry = policies_[p];  // validity: not in the list's cache line
      if (!entry.has_eligibility || today < entry.valid_from || today > entry.valid_to) continue;
      ++visited;
      int false_count = start & 1;
      int unknown_count = start >> 1;
      bool ineligible = false;
      const CondRec* rec = recs_.data() + e.first;
      const uint32_t count = e.count + (in_scope ? 0 : (e.flags & kScoped));
      uint32_t i = 0;
      for (; i < count; ++i) {
        const uint8_t v = eval(rec[i]);
        if (v == kFalse) {
          // Decided: a false condition that is not actionable, or a second false one, or a false
          // one next to an unknown one leaves no near miss.
          if (!rec[i].actionable || false_count > 0 || unknown_count > 0) {
            ineligible = true;
            break;
          }
          ++false_count;
        } else if (v == kUnknown) {
          if (false_count > 0) {
            ineligible = true;
            break;
          }
          ++unknown_count;
        }
      }
      visits += static_cast<int>(i + (ineligible ? 1 : 0));
      if (ineligible) continue;
      PolicyHit hit;
      hit.policy = p;
      if (false_count == 1) {
        if (e.total < 2) continue;  // a single false condition is not "one step away"
        hit.outcome.status = NEAR_MISS;
      } else if (unknown_count > 0) {
        hit.outcome.status = UNDETERMINED;
      } else {
        // Eligible: the benefit and rank exactly as the reference computes them.
        const CompiledPolicy& cp = catalog_.policies()[p];
        std::optional<Decimal> benefit;
        if (cp.benefit) {
          const Value b = Evaluate(*cp.benefit, view);
          if (!b.is_unknown()) benefit = b.number.is_negative() ? Decimal() : b.number.RoundHalfUp(2);
        }
        if (cp.auto_grant() && cp.benefit && !benefit) {
          hit.outcome.status = UNDETERMINED;
        } else {
          hit.outcome.status = ELIGIBLE;
          hit.outcome.benefit = benefit;
          if (cp.rank_by) {
            const Value r = Evaluate(*cp.rank_by, view);
            if (!r.is_unknown()) hit.outcome.rank = r.number;
          }
        }
      }
      out->push_back(std::move(hit));
    }
    hits_end[l] = out->size();
  }
  s.stats.candidates = candidates;
  s.stats.visited = visited;
  s.stats.conditions = visits;
  for (int l = 1; l < num_lists; ++l) {
    std::inplace_merge(out->begin(), out->begin() + hits_end[l - 1], out->begin() + hits_end[l],
                       [](const PolicyHit& a, const PolicyHit& b) { return a.policy < b.policy; });
  }

  // Exclusive groups: of a group's eligible members the largest known benefit wins (ties and
  // unknowns keep the smaller catalog index, as ApplyExclusiveGroups); the others are EXCLUDED.
  if (num_groups_ > 0) {
    constexpr int kNone = -1;
    std::vector<int> winner;  // by group, index into *out
    for (int i = 0; i < static_cast<int>(out->size()); ++i) {
      const PolicyHit& h = (*out)[i];
      const int g = policies_[h.policy].group;
      if (g < 0 || h.outcome.status != ELIGIBLE) continue;
      if (winner.empty()) winner.assign(num_groups_, kNone);
      int& w = winner[g];
      if (w == kNone) {
        w = i;
        continue;
      }
      const auto& b = h.outcome.benefit;
      const auto& wb = (*out)[w].outcome.benefit;
      if (b && (!wb || *b > *wb)) w = i;
    }
    if (!winner.empty()) {
      for (int i = 0; i < static_cast<int>(out->size()); ++i) {
        PolicyHit& h = (*out)[i];
        const int g = policies_[h.policy].group;
        if (g >= 0 && h.outcome.status == ELIGIBLE && winner[g] != i) h.outcome.status = EXCLUDED;
      }
    }
  }
}

std::vector<Outcome> PolicyIndex::MatchAll(const FirmView& view) const {
  std::vector<PolicyHit> hits;
  Match(view, &hits);
  std::vector<Outcome> out(catalog_.policies().size());
  for (PolicyHit& h : hits) out[h.policy] = std::move(h.outcome);
  return out;
}

PolicyIndex::Stats PolicyIndex::LastStats() { return ThreadScratch().stats; }

}  // namespace polmatch
