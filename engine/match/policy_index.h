// File: policy_index.h
//
// PolicyIndex answers one firm against a whole catalog in microseconds (the embedded engine's
// single-firm path, SPEC §6). It is the catalog turned around for one firm at a time:
//
// * Candidates by region scope. A policy with a top-level `region under "X"` condition is
//   INELIGIBLE for every firm outside X (the condition is false and not actionable, so it cannot
//   be a near miss), so policies are listed under their scope and a firm looks up only the lists
//   of its country, province, city and county: most of a province's catalog is never touched.
//   Each scope's list is split again by an industry section or a tag the firm must have (a
//   non-actionable condition), and a firm reads only the sublists of its own (ScopeGroup).
// * Shared conditions. Every distinct top-level condition of the catalog (structurally equal
//   conditions of different policies are one) is compiled once: tag tests become a bit of the
//   firm's held-tag vector, `fact op constant` an integer comparison, `region/industry under`
//   a prefix test; anything else is evaluated by the reference evaluator once per firm and
//   memoised, however many policies share it.
// * Shared predicates. The conditions the prefilter's fixed slots do not take and that several
//   policies share (`years_between(founded, as_of) >= 3`, `rd_expense / revenue >= 3%`,
//   `revenue > revenue_last_year`, `valid_from(qual.hitech) >= …`: up to 63, the most used
//   first) are evaluated once per firm, before the prefilter, into two bit words (known, true),
//   and the prefilter tests up to two of them per policy like tags.
// * Prefilter. The lists are stored column by column, about 44 bytes per policy; one
//   branch-free pass over a list (with AVX-512 where the CPU has it: the byte-sized tag and
//   predicate slots 64 entries at a time, the rest eight at a time) tests
//   up to three tag conditions, one `a or b or …` of tags, up to two `fact op constant`
//   conditions, one `industry under` and up to two shared predicates of every policy, and
//   whether it is in force on the day, and keeps only the policies that may still be something
//   other than INELIGIBLE.
// * Early exit. A survivor's remaining conditions are visited cheapest first, and the visit
//   stops as soon as the status is decided INELIGIBLE: a false non-actionable condition, two
//   false conditions, or a false and an unknown one (a near miss needs every other condition
//   true). Generic conditions and benefits run as RowPrograms (compact postfix code) where they
//   compile; the rest are evaluated by the reference evaluator on copies laid out together in
//   the order of the lists, not on nodes scattered over the heap.
//
// The statuses and benefits equal ReferenceMatcher::EvaluateFirm's (exclusive groups applied;
// limits are a property of the whole registry and are left to the caller, so rank_by is not
// computed); tests check it on random catalogs against the reference
// (tests/bulk_differential_test.cc) and on generated catalogs through the engine
// (tests/engine_differential_test.cc).
//
// Immutable once built and safe to use from any number of threads (per-thread scratch space).
// The catalog must outlive the index.
#ifndef POLMATCH_MATCH_POLICY_INDEX_H_
#define POLMATCH_MATCH_POLICY_INDEX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/catalog/catalog.h"
#include "engine/expr/ast.h"
#include "engine/ingest/firm.h"
#include "engine/match/outcome.h"
#include "engine/match/row_program.h"
#include "engine/util/strong_id.h"

namespace polmatch {

// One policy's outcome for the firm; only policies that are not INELIGIBLE are reported.
// 24 bytes (an Outcome is 40): a query moves a few hundred of them.
struct PolicyHit {
  CatalogIndex policy;            // 4 bytes
  MatchStatus status = INELIGIBLE;
  bool grouped = false;           // a member of an exclusive group (of two or more)
  bool has_benefit = false;
  int64_t benefit_raw = 0;        // Decimal raw, rounded to the fen, when has_benefit

  std::optional<Decimal> benefit() const {
    return has_benefit ? std::optional<Decimal>(Decimal::FromRawUnchecked(benefit_raw)) : std::nullopt;
  }
  void set_benefit(Decimal d) {
    has_benefit = true;
    benefit_raw = d.raw();
  }
  Outcome outcome() const {  // (rank not filled: see above)
    Outcome o;
    o.status = status;
    o.benefit = benefit();
    return o;
  }
};

class PolicyIndex {
 public:
  explicit PolicyIndex(const Catalog& catalog);
  // Not copied or moved: the index keeps pointers to its own lists.
  PolicyIndex(const PolicyIndex&) = delete;
  PolicyIndex& operator=(const PolicyIndex&) = delete;

  // The outcome of every policy that is not INELIGIBLE for `view`'s firm on view.AsOf(), by
  // ascending catalog index, exclusive groups applied (limits not). `out` is overwritten.
  void Match(const FirmView& view, std::vector<PolicyHit>* out) const;

  // Every policy's outcome (catalog order), for callers that want the dense form.
  std::vector<Outcome> MatchAll(const FirmView& view) const;

  // Work counters of the last Match on this thread (for benchmarks and tests).
  struct Stats {
    int candidates = 0;        // policies in the firm's scope lists
    int visited = 0;           // of which passed the prefilter
    int generic = 0;           // generic conditions evaluated (once each: RowProgram or reference)
    int conditions = 0;        // condition visits
  };
  static Stats LastStats();

 private:
  enum class CondKind : uint8_t {
    kTag,          // id: tag
    kTagAny,       // k: mask of tags (num_tags <= 64); `a or b or …`
    kTagAll,       // k: mask of tags; `a and b and …` (under a `not`)
    kFactCmp,      // fact id op k (Decimal raw)
    kFactFact,     // fact id op fact k
    kHasFact,      // id: fact
    kRegionUnder,  // id: index of codes_
    kIndustryUnder,
    kGeneric,      // id: memo slot (generic_)
  };
  // One condition of one policy, as visited: 16 bytes, a policy's conditions contiguous.
  struct CondRec {
    CondKind kind = CondKind::kGeneric;
    uint8_t negate = 0;
    uint8_t actionable = 0;
    uint8_t op_mask = 0;  // the comparison: bit 0 <, bit 1 ==, bit 2 >
    int32_t id = 0;
    int64_t k = 0;
  };
  struct PolicyEntry {  // what the visit needs beyond the list entry
    uint8_t has_eligibility = 0;
    int32_t valid_from = INT32_MIN;  // day numbers; open = INT32_MIN / INT32_MAX
    int32_t valid_to = INT32_MAX;
    int32_t group = -1;
  };

  // What a policy's tag, `fact op constant` and `industry under` conditions say, checked
  // without branches in one pass over a scope's list before any condition is visited: a policy
  // with a false non-actionable condition, two false conditions, or a false and an unknown one
  // is INELIGIBLE, and so is one that is not in force on the day. Only rejects what is certain;
  // the survivors' remaining conditions are decided by the visit.
  struct Prefilter {
    // Up to three tag conditions (tag ids < 63): the tag | wanted held << 6 | actionable << 7.
    uint8_t tag[3] = {kNoTag, kNoTag, kNoTag};
    uint16_t any = 0;                 // one `a or b or …` of tags: its mask's index in any_masks_
    int64_t fact_k[2] = {0, 0};       // `fact op constant`, fact ids < 63 (kNoFact: always true)
    int32_t policy = 0;
    uint32_t first = 0;               // into recs_: the conditions left to visit
    uint16_t count = 0;               // conditions visited in scope
    uint8_t fact_id[2] = {kNoFact, kNoFact};
    uint8_t fact_ops[2] = {7, 7};     // the comparisons (CondRec::op_mask)
    uint8_t flags = 0;                // kScoped, kAnyActionable, kFactActionable << i, kSingle, kAutoGrant, kGrouped
    uint16_t industry = kNoIndustry;  // a non-actionable `industry under X`: X's index in industries_
    uint32_t benefit = RowProgram::kNone;  // the compiled benefit's start in programs_
    uint8_t pred[2] = {kNoPred, kNoPred};  // shared predicates: id | actionable << 7
  };
  static constexpr uint8_t kNoTag = 0xff;
  static constexpr uint16_t kNoIndustry = 0xffff;  // no such condition: true
  static constexpr uint8_t kNoFact = 63;       // a slot that is always known and true
  static constexpr uint8_t kNoPred = 63;       // likewise for shared predicates (preds_)
  static constexpr uint8_t kScoped = 1;        // recs_[first + count] is the scope condition
  static constexpr uint8_t kAnyActionable = 2;
  static constexpr uint8_t kFactActionable = 4;  // << 0 or 1: for fact_id[0] / fact_id[1]
  static constexpr uint8_t kSingle = 16;       // one condition only: a false one is no near miss
  static constexpr uint8_t kAutoGrant = 32;    // 免申即享: an unknown benefit leaves it UNDETERMINED
  static constexpr uint8_t kGrouped = 64;      // in an exclusive group of two or more
  static constexpr uint8_t kSlow = 128;        // a benefit that did not compile

  // Every list's entries (a list's policies by ascending catalog index), list after list, column
  // by column: the prefilter streams a few columns of every entry of a list, eight entries at a
  // time where the CPU has AVX-512. Each list is padded to a multiple of 8 with entries of a
  // policy that is never in force.
  struct Entries {
    std::vector<uint8_t> tag[3];
    std::vector<uint16_t> any;
    std::vector<int64_t> fact_k[2];
    std::vector<uint8_t> fact_id[2], fact_ops[2], flags;
    std::vector<uint16_t> industry;
    std::vector<int32_t> policy;
    std::vector<uint32_t> first;
    std::vector<uint16_t> count;
    std::vector<uint32_t> benefit;
    std::vector<uint8_t> pred[2];

    void Add(const Prefilter& f);
    size_t size() const { return policy.size(); }
  };
  // A list: a stretch of entries_ (16 bytes, so that the few dozen lists a firm reads cost a
  // cache line each, not one per column).
  struct ScopeList {
    uint32_t begin = 0;  // in entries_, a multiple of 8
    uint32_t size = 0;   // without the padding
    uint64_t preds = 0;  // the shared predicates its entries test, a bit each
  };
  // One list's columns, as pointers to its first entry (built per query, on the stack).
  struct ListView {
    const uint8_t* tag[3];
    const uint16_t* any;
    const int64_t* fact_k[2];
    const uint8_t *fact_id[2], *fact_ops[2], *flags;
    const uint16_t* industry;
    const int32_t* policy;
    const uint32_t* first;
    const uint16_t* count;
    const uint32_t* benefit;
    const uint8_t* pred[2];
    uint32_t size;
  };
  ListView View(const ScopeList& list) const;
  // Appends a list of `prefilters` (padded) to entries_.
  ScopeList AddList(const std::vector<const Prefilter*>& prefilters, int32_t never_in_force);
  // A scope's policies, split by what a firm must have for them to be more than INELIGIBLE:
  // a tag (a non-actionable tag condition), an industry section (a non-actionable `industry
  // under`), or nothing. A firm reads the sublists of the tags it holds and of its section (of
  // every section when its industry is unknown), and the unkeyed one.
  struct ScopeGroup {
    uint64_t tag_keys = 0;            // tags with a sublist (ids < 63)
    uint32_t section_keys = 0;        // sections A..Z with a sublist
    std::vector<ScopeList*> keyed;    // by tag, ascending, then by section, ascending
    ScopeList* unkeyed = nullptr;
  };
  static constexpr uint8_t kSectionKey = 64;  // + section - 'A'
  static constexpr uint8_t kNoKey = 255;
  static constexpr int kMaxLists = 4 * (1 + 63 + 26);  // a firm reads at most

  // What the prefilter knows of the firm.
  struct FirmBits {
    uint64_t held0 = 0;         // tags 0..63 held
    // The industries_ the firm's industry is under (unused slots kNoIndustry - 1: none is), and
    // whether its industry is known.
    uint16_t industry_under[4] = {kNoIndustry - 1, kNoIndustry - 1, kNoIndustry - 1, kNoIndustry - 1};
    bool industry_known = false;
    uint64_t fact_known = 0;    // facts 0..62 known, and kNoFact
    int64_t fact_raw[64] = {};  // their values (0 if unknown)
    // The shared predicates the firm's lists test: known, and known and true (bit kNoPred: both).
    uint64_t pred_known = uint64_t{1} << kNoPred;
    uint64_t pred_true = uint64_t{1} << kNoPred;
    const uint8_t* in_force = nullptr;    // of the list's entries, a bit each (ListInForce)
    const uint64_t* any_masks = nullptr;  // PolicyIndex::any_masks_ (at least 16)
    size_t num_any_masks = 0;
  };
  // A survivor of the prefilter: its entry | its verdict << kStartShift (a list holds fewer than
  // 2^24 entries: a catalog of 16 million policies is far beyond what the loader is built for).
  static constexpr int kStartShift = 24;
  // The prefilter over a whole list: the surviving entries' indexes and their verdicts (the
  // number of false conditions, 0 or 1, plus 2 × the number of unknown ones); returns how many.
  // `survivors` has room for the list's padded size + 8.
  static uint32_t PrefilterList(const ListView& list, const FirmBits& firm, uint32_t* survivors);
  static uint32_t PrefilterListPortable(const ListView& list, const FirmBits& firm, uint32_t* survivors);
  static uint32_t PrefilterAvx512(const ListView& list, const FirmBits& firm, uint32_t* survivors);
  static uint32_t Verdict(const ListView& list, uint32_t i, const FirmBits& firm);

  // The steps of Match (policy_index_match.cc). Conditions evaluates one firm's compiled
  // conditions, memoising the generic ones.
  class Conditions;
  int CandidateLists(const Firm& firm, uint64_t held0, const ScopeList** lists) const;
  void ReadFirmBits(const Firm& firm, uint64_t held0, const ScopeList* const* lists, int num_lists,
                    const Conditions& eval, FirmBits* out) const;
  int VisitSurvivors(const ListView& list, const uint32_t* survivors, uint32_t num_survivors, bool in_scope,
                     const Conditions& eval, const RowProgram::Row& row, const FirmView& view,
                     std::vector<PolicyHit>* out) const;
  void MergeRuns(uint32_t lo_word, uint32_t hi_word, std::vector<PolicyHit>* out) const;
  void ApplyExclusiveGroups(std::vector<PolicyHit>* out) const;

  // The entries of a list whose policies are in force on a day (and have an eligibility rule), a
  // bit each; cached per thread for the last day asked.
  const uint8_t* ListInForce(const ScopeList& list, int32_t day) const;

  // The record of a condition; generic ones share a memo slot with their structural twins.
  CondRec Compile(const Node& condition);

  // Copies of the expressions a query evaluates (generic conditions, benefits), laid
  // out depth first in a few large blocks in the order of the scope lists: evaluating one reads
  // a few adjacent cache lines instead of nodes scattered over the heap by the parser.
  class NodeArena {
   public:
    NodeArena() = default;
    NodeArena(const NodeArena&) = delete;
    NodeArena& operator=(const NodeArena&) = delete;
    ~NodeArena();
    const Node* Copy(const Node& n);

   private:
    static constexpr size_t kBlock = 4096;  // nodes
    Node* Next();
    std::vector<std::unique_ptr<Node[]>> blocks_;
    size_t used_ = kBlock;  // in the last block
  };

  const Catalog& catalog_;
  NodeArena arena_;
  // The benefits and generic conditions that compile, in one pool: the benefits in the order
  // of the scope lists (Prefilter::benefit), then the generic conditions.
  RowProgram programs_;
  // By catalog index: a benefit that did not compile, as an arena copy (null = none).
  std::vector<const Node*> benefit_;
  // The shared predicates, by id (Prefilter::pred).
  std::vector<CondRec> preds_;
  // By memo slot: a generic condition's start in programs_, or (kNone) its arena copy.
  std::vector<uint32_t> generic_start_;
  std::vector<const Node*> generic_;
  std::vector<const Node*> generic_source_;  // the catalog's, while the index is built
  absl::flat_hash_map<std::string, int32_t> generic_by_text_;
  std::vector<std::string> codes_;
  // The tag masks of the `a or b or …` conditions the prefilter tests (index = Prefilter::any;
  // 0 is no condition).
  std::vector<uint64_t> any_masks_ = {0};
  size_t num_any_masks_ = 1;
  // The codes of the industry conditions the prefilter tests (index = Prefilter::industry).
  absl::flat_hash_map<std::string, uint16_t> industries_;
  std::vector<PolicyEntry> policies_;
  std::vector<CondRec> recs_;
  // Policies by region scope ("" = unscoped), ascending.
  absl::flat_hash_map<std::string, ScopeGroup> by_scope_;
  Entries entries_;
  std::vector<std::unique_ptr<ScopeList>> sublists_;  // what by_scope_ points to
  ScopeList all_policies_;  // for firms of unknown region
  int num_groups_ = 0;
  uint64_t instance_ = 0;  // unique per index: keys the per-thread ListInForce cache
};

}  // namespace polmatch

#endif  // POLMATCH_MATCH_POLICY_INDEX_H_
