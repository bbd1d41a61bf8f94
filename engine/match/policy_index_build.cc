// File: policy_index_build.cc
//
// Building a PolicyIndex: each policy's conditions compiled into records, the prefilter's slots
// filled, the shared predicates chosen, and the scope lists laid out column by column
// (policy_index.h says what each part is for). The query side is policy_index_match.cc, the
// prefilters policy_index_prefilter.cc.
#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <tuple>

#include "engine/expr/comparison.h"
#include "engine/index/firm_store.h"
#include "engine/match/policy_index.h"
#include "engine/taxonomy/taxonomy.h"

namespace polmatch {
namespace {
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
      c.op_mask = ComparisonMask(MirroredComparison(n->op));
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

}  // namespace polmatch
