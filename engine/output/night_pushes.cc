// File: night_pushes.cc
//
// pushes.jsonl: tonight's pushes, or with a previous night what changed
// (new, changed, revoked), in credit-code order (see night.h).
#include <algorithm>
#include <atomic>

#include "engine/output/night.h"
#include "engine/output/night_internal.h"
#include "engine/util/json_string.h"
#include "engine/util/parallel.h"

namespace polmatch {

using night_internal::AppendYuan;

namespace {

constexpr uint32_t kNone = UINT32_MAX;
constexpr uint32_t kGoneBit = 0x80000000u;  // in MergedFirms::at: a previous firm id

// Tonight's and last night's registries merged in credit-code order: a push's firm is identified
// by its merged position, which is also the output order.
struct MergedFirms {
  bool same_firms = false;            // the same codes by firm id (ids correspond one to one)
  uint32_t size = 0;                  // merged positions
  std::vector<uint32_t> m_of_cur;     // merged position of each current firm
  std::vector<uint32_t> m_of_prev;    // of each previous firm (registry changed only)
  std::vector<uint32_t> prev_of_cur;  // previous id of each current firm, kNone = new (changed only)
  std::vector<uint32_t> cur_of_prev;  // current id of each previous firm, kNone = gone (changed only)
  std::vector<uint32_t> at_storage;
  const uint32_t* at = nullptr;       // merged position → current id, or previous id | kGoneBit
};

MergedFirms MergeFirms(const NightResult& night, const NightResult* previous) {
  MergedFirms m;
  const uint32_t n = night.num_firms();
  m.same_firms = previous != nullptr && previous->codes == night.codes;
  if (previous == nullptr || m.same_firms) {
    m.size = n;
    m.m_of_cur.resize(n);
    for (uint32_t i = 0; i < n; ++i) m.m_of_cur[night.code_order[i]] = i;
    m.at = night.code_order.data();
    return m;
  }
  const auto& co = night.code_order;
  const auto& po = previous->code_order;
  m.m_of_cur.assign(n, kNone);
  m.prev_of_cur.assign(n, kNone);
  m.m_of_prev.assign(previous->num_firms(), kNone);
  m.cur_of_prev.assign(previous->num_firms(), kNone);
  m.at_storage.reserve(size_t{n} + previous->num_firms());
  size_t i = 0, j = 0;
  while (i < co.size() || j < po.size()) {
    const uint32_t pos = static_cast<uint32_t>(m.at_storage.size());
    if (j == po.size() || (i < co.size() && night.code(co[i]) < previous->code(po[j]))) {
      m.m_of_cur[co[i]] = pos;
      m.at_storage.push_back(co[i++]);
    } else if (i == co.size() || previous->code(po[j]) < night.code(co[i])) {
      m.m_of_prev[po[j]] = pos;
      m.at_storage.push_back(po[j++] | kGoneBit);
    } else {
      m.m_of_cur[co[i]] = pos;
      m.m_of_prev[po[j]] = pos;
      m.prev_of_cur[co[i]] = po[j];
      m.cur_of_prev[po[j]] = co[i];
      m.at_storage.push_back(co[i]);
      ++i;
      ++j;
    }
  }
  m.size = static_cast<uint32_t>(m.at_storage.size());
  m.at = m.at_storage.data();
  return m;
}

// One policy of the output (tonight's, or last night's withdrawn one).
struct PushKey {
  std::string json_id;               // the id as a JSON string
  const PolicyNight* cur = nullptr;  // tonight's policy, if any
  const PolicyNight* prev = nullptr; // last night's, if any (with a --previous)
  bool unchanged = false;            // same firms, same bitmaps and benefits: nothing to push
};

// The firms of one group of merged positions [lo, hi): current ids and previous ids. `all` = the
// group holds every position (no filtering).
struct FirmGroup {
  uint32_t lo = 0, hi = 0;
  bool all = true;
  Roaring cur;
  Roaring prev;  // previous ids (registry changed only; else `cur` serves both)
};

// A key's pushes, ascending by merged position.
struct PushList {
  std::vector<uint32_t> pos;
  std::vector<uint16_t> meta;       // see Meta()
  std::vector<int64_t> benefits;    // raw, for the entries with has_benefit, in order
  std::vector<int64_t> previous_benefits;  // raw, for the entries with has_previous_benefit
};

struct PushEntry {
  uint32_t pos;
  uint16_t meta;
  int64_t benefit;
  int64_t previous_benefit;
};

// status | change << 3 | has_benefit << 5 | previous_status << 6 | has_previous_benefit << 9 |
// reason << 10
uint16_t Meta(MatchStatus status, Push::Change change, bool has_benefit,
              MatchStatus previous = STATUS_UNSPECIFIED, bool has_previous_benefit = false,
              Push::Reason reason = Push::REASON_UNSPECIFIED) {
  return static_cast<uint16_t>(status | (change << 3) | (has_benefit ? 1 << 5 : 0) | (previous << 6) |
                               (has_previous_benefit ? 1 << 9 : 0) | (reason << 10));
}
MatchStatus MetaStatus(uint16_t m) { return static_cast<MatchStatus>(m & 7); }
Push::Change MetaChange(uint16_t m) { return static_cast<Push::Change>((m >> 3) & 3); }
bool MetaHasBenefit(uint16_t m) { return (m >> 5) & 1; }
MatchStatus MetaPrevious(uint16_t m) { return static_cast<MatchStatus>((m >> 6) & 7); }
bool MetaHasPreviousBenefit(uint16_t m) { return (m >> 9) & 1; }
Push::Reason MetaReason(uint16_t m) { return static_cast<Push::Reason>((m >> 10) & 3); }

Roaring Pushable(const PolicyNight& p, StatusMask statuses) {
  Roaring r;
  for (MatchStatus s : kKeptStatuses) {
    if ((statuses >> s) & 1) r |= p.by_status[s];
  }
  return r;
}

bool SamePolicy(const PolicyNight& a, const PolicyNight& b) {
  if (a.benefits != b.benefits) return false;
  for (MatchStatus s : kKeptStatuses) {
    if (!(a.by_status[s] == b.by_status[s])) return false;
  }
  return true;
}

// The pushes of one key, in the semantics of SPEC §5 (see PushesJsonl).
void BuildPushList(const PushKey& key, const MergedFirms& m, const FirmGroup& g, StatusMask statuses,
                   std::vector<PushEntry>* entries, PushList* out) {
  entries->clear();
  out->pos.clear();
  out->meta.clear();
  out->benefits.clear();
  out->previous_benefits.clear();
  const PolicyNight* cur = key.cur;
  const PolicyNight* prev = key.prev;
  if (key.unchanged) return;
  // `r` restricted to the group's `ids` (`*storage` holds the intersection when one is needed).
  auto in_group = [&](const Roaring& r, const Roaring& ids, Roaring* storage) -> const Roaring& {
    if (g.all) return r;
    *storage = r & ids;
    return *storage;
  };
  const Roaring& prev_ids = m.same_firms ? g.cur : g.prev;
  Roaring prev_pushable, prev_pushable_storage, status_storage;
  const Roaring* prev_pushable_g = &prev_pushable;
  if (prev != nullptr) {
    prev_pushable = Pushable(*prev, statuses);
    prev_pushable_g = &in_group(prev_pushable, prev_ids, &prev_pushable_storage);
  }
  // A revocation, with what was pushed before.
  const auto revoke = [&](uint32_t pos, MatchStatus now, uint32_t pf, Push::Reason reason) {
    const std::optional<Decimal> before = prev->BenefitOf(pf);
    entries->push_back({pos, Meta(now, Push::REVOKED, false, prev->StatusOf(pf), before.has_value(), reason), 0,
                        before ? before->raw() : 0});
  };
  if (cur != nullptr) {
    for (MatchStatus status : kKeptStatuses) {
      if (((statuses >> status) & 1) == 0) continue;
      auto b = cur->benefits.begin();
      for (uint32_t firm : in_group(cur->by_status[status], g.cur, &status_storage)) {
        std::optional<Decimal> benefit;  // == cur->BenefitOf(firm), walking along
        while (b != cur->benefits.end() && b->first < firm) ++b;
        if (b != cur->benefits.end() && b->first == firm) benefit = Decimal::FromRawUnchecked(b->second);
        uint16_t meta = Meta(status, Push::NEW, benefit.has_value());
        int64_t previous_benefit = 0;
        if (prev != nullptr) {
          const uint32_t pf = m.same_firms ? firm : m.prev_of_cur[firm];
          if (pf != kNone && prev_pushable.contains(pf)) {
            const MatchStatus before = prev->StatusOf(pf);
            const std::optional<Decimal> before_benefit = prev->BenefitOf(pf);
            if (before == status && before_benefit == benefit) continue;
            meta = Meta(status, Push::CHANGED, benefit.has_value(), before, before_benefit.has_value());
            previous_benefit = before_benefit ? before_benefit->raw() : 0;
          }
        }
        entries->push_back({m.m_of_cur[firm], meta, benefit ? benefit->raw() : 0, previous_benefit});
      }
    }
    if (prev != nullptr) {
      // Revocations of firms still registered: pushable before, not now.
      const Roaring pushable = Pushable(*cur, statuses);
      const Push::Reason reason = cur->in_force ? Push::CONDITION_LOST : Push::POLICY_ENDED;
      if (m.same_firms) {
        for (uint32_t firm : *prev_pushable_g - pushable) {
          revoke(m.m_of_cur[firm], cur->StatusOf(firm), firm, reason);
        }
      } else {
        for (uint32_t pf : *prev_pushable_g) {
          const uint32_t firm = m.cur_of_prev[pf];
          if (firm != kNone && !pushable.contains(firm)) revoke(m.m_of_cur[firm], cur->StatusOf(firm), pf, reason);
        }
      }
    }
  }
  if (prev != nullptr) {
    for (uint32_t pf : *prev_pushable_g) {
      const uint32_t firm = m.same_firms ? pf : m.cur_of_prev[pf];
      if (firm == kNone) {
        // A firm gone from the registry: revoke its pushes.
        revoke(m.m_of_prev[pf], INELIGIBLE, pf, Push::FIRM_GONE);
      } else if (cur == nullptr) {
        // A policy withdrawn from the catalog.
        revoke(m.m_of_cur[firm], INELIGIBLE, pf, Push::POLICY_ENDED);
      }
    }
  }
  bool sorted = true;
  for (size_t i = 1; i < entries->size() && sorted; ++i) sorted = (*entries)[i - 1].pos < (*entries)[i].pos;
  if (!sorted) {
    std::sort(entries->begin(), entries->end(),
              [](const PushEntry& a, const PushEntry& b) { return a.pos < b.pos; });
  }
  out->pos.resize(entries->size());
  out->meta.resize(entries->size());
  for (size_t i = 0; i < entries->size(); ++i) {
    out->pos[i] = (*entries)[i].pos;
    out->meta[i] = (*entries)[i].meta;
  }
  for (const PushEntry& e : *entries) {
    if (MetaHasBenefit(e.meta)) out->benefits.push_back(e.benefit);
    if (MetaHasPreviousBenefit(e.meta)) out->previous_benefits.push_back(e.previous_benefit);
  }
}

}  // namespace

absl::Status WritePushesJsonl(const NightResult& night, const NightResult* previous, ByteSink* sink,
                              const StreamOptions& options) {
  const StatusMask statuses = options.push_statuses & ~(1 << INELIGIBLE) & ~(1 << STATUS_UNSPECIFIED);
  const PushTextSource* texts = options.push_texts;
  const MergedFirms m = MergeFirms(night, previous);
  // Keys: tonight's policies and last night's, merged by id (both are in ascending id order).
  std::vector<PushKey> keys;
  std::vector<int> text_policy;  // PushTextSource::PolicyIndex of each key
  {
    size_t i = 0, j = 0;
    const size_t np = previous != nullptr ? previous->policies.size() : 0;
    while (i < night.policies.size() || j < np) {
      PushKey k;
      if (j == np || (i < night.policies.size() && night.policies[i].id < previous->policies[j].id)) {
        k.cur = &night.policies[i++];
      } else if (i == night.policies.size() || previous->policies[j].id < night.policies[i].id) {
        k.prev = &previous->policies[j++];
      } else {
        k.cur = &night.policies[i++];
        k.prev = &previous->policies[j++];
      }
      const std::string& id = k.cur != nullptr ? k.cur->id : k.prev->id;
      AppendJsonString(id, &k.json_id);
      text_policy.push_back(texts != nullptr && k.cur != nullptr ? texts->PolicyIndex(id) : -1);
      keys.push_back(std::move(k));
    }
  }
  for (PushKey& k : keys) {
    k.unchanged = k.cur != nullptr && k.prev != nullptr && m.same_firms && SamePolicy(*k.cur, *k.prev);
  }
  // Memory stays bounded: the merged positions are cut into groups of at most ~kGroupPushes
  // pushes (estimated from the bitmaps' counts); a group's pushes are listed per key, written,
  // and dropped before the next.
  uint64_t estimate = 0;
  for (const PushKey& k : keys) {
    if (k.unchanged) continue;
    for (const PolicyNight* p : {k.cur, k.prev}) {
      if (p == nullptr) continue;
      for (MatchStatus st : kKeptStatuses) {
        if ((statuses >> st) & 1) estimate += p->by_status[st].cardinality();
      }
    }
  }
  constexpr uint32_t kWindow = 1 << 16;
  const uint64_t groups = std::max<uint64_t>(1, (estimate + options.group_pushes - 1) / options.group_pushes);
  const uint64_t group_size = std::max<uint64_t>(1, (m.size + groups - 1) / groups);

  std::vector<PushList> lists(keys.size());
  std::string status_names[8], change_names[3], reason_names[4];
  for (int s = 0; s < 7; ++s) {
    if (MatchStatus_IsValid(s)) status_names[s] = MatchStatus_Name(static_cast<MatchStatus>(s));
  }
  for (int c = 0; c < 3; ++c) change_names[c] = Push::Change_Name(static_cast<Push::Change>(c));
  for (int r = 0; r < 4; ++r) reason_names[r] = Push::Reason_Name(static_cast<Push::Reason>(r));
  struct Item {
    uint32_t key;
    uint32_t index;
    uint32_t benefit;
    uint32_t previous_benefit;
  };
  // One line of pushes.jsonl.
  const auto append_push = [&](const Item& it, std::string* line, PushWords* words) {
    const PushList& l = lists[it.key];
    const uint32_t firm = m.at[l.pos[it.index]];
    const bool gone = (firm & kGoneBit) != 0;
    const absl::string_view code = gone ? previous->code(firm & ~kGoneBit) : night.code(firm);
    const uint16_t meta = l.meta[it.index];
    line->append("{\"credit_code\":\"");
    line->append(code.data(), code.size());
    line->append("\",\"policy\":");
    line->append(keys[it.key].json_id);
    line->append(",\"status\":\"");
    line->append(status_names[MetaStatus(meta)]);
    line->append("\",\"benefit_yuan\":\"");
    if (MetaHasBenefit(meta)) AppendYuan(line, l.benefits[it.benefit]);
    line->append("\",\"change\":\"");
    line->append(change_names[MetaChange(meta)]);
    line->append("\"");
    if (!gone && !night.name(firm).empty()) {
      line->append(",\"name\":");
      AppendJsonString(night.name(firm), line);
    }
    if (texts != nullptr) {
      PushFacts f;
      f.policy = text_policy[it.key];
      f.firm = gone ? UINT32_MAX : firm;
      f.status = MetaStatus(meta);
      f.change = MetaChange(meta);
      if (MetaHasBenefit(meta)) f.benefit = Decimal::FromRawUnchecked(l.benefits[it.benefit]);
      f.previous_status = MetaPrevious(meta);
      if (MetaHasPreviousBenefit(meta)) {
        f.previous_benefit = Decimal::FromRawUnchecked(l.previous_benefits[it.previous_benefit]);
      }
      f.reason = MetaReason(meta);
      texts->Describe(f, words);
      for (const auto& [name, value] : {std::pair<const char*, const std::string*>{"title", &words->title},
                                        {"message", &words->message},
                                        {"missing", &words->missing}}) {
        if (value->empty()) continue;
        line->append(",\"");
        line->append(name);
        line->append("\":");
        AppendJsonString(*value, line);
      }
      if (!words->data_needed.empty()) {
        line->append(",\"data_needed\":[");
        for (size_t i = 0; i < words->data_needed.size(); ++i) {
          if (i > 0) line->push_back(',');
          AppendJsonString(words->data_needed[i], line);
        }
        line->append("]");
      }
    }
    if (MetaChange(meta) != Push::NEW) {
      line->append(",\"previous_status\":\"");
      line->append(status_names[MetaPrevious(meta)]);
      line->append("\",\"previous_benefit_yuan\":\"");
      if (MetaHasPreviousBenefit(meta)) AppendYuan(line, l.previous_benefits[it.previous_benefit]);
      line->append("\"");
    }
    if (MetaChange(meta) == Push::REVOKED) {
      line->append(",\"reason\":\"");
      line->append(reason_names[MetaReason(meta)]);
      line->append("\"");
      if (texts != nullptr && !words->lost_condition.empty()) {
        line->append(",\"lost_condition\":");
        AppendJsonString(words->lost_condition, line);
      }
    }
    line->append("}\n");
  };
  const int threads = texts != nullptr ? std::max(1, options.threads) : 1;
  std::vector<std::string> parts(threads);
  std::vector<PushWords> words(threads);
  std::vector<size_t> cursor(keys.size()), benefit_cursor(keys.size()), previous_cursor(keys.size());
  std::vector<uint32_t> count(kWindow + 1);
  std::vector<uint32_t> offsets;
  std::vector<Item> items, sorted;
  ChunkedWriter w(sink, options.chunk);
  std::string& out = w.buf();
  for (uint64_t lo = 0; lo < m.size || lo == 0; lo += group_size) {
    FirmGroup g;
    g.lo = static_cast<uint32_t>(lo);
    g.hi = static_cast<uint32_t>(std::min<uint64_t>(m.size, lo + group_size));
    g.all = g.lo == 0 && g.hi == m.size;
    if (!g.all) {
      std::vector<uint32_t> ids;
      for (uint32_t f = 0; f < m.m_of_cur.size(); ++f) {
        if (m.m_of_cur[f] >= g.lo && m.m_of_cur[f] < g.hi) ids.push_back(f);
      }
      g.cur.addMany(ids.size(), ids.data());
      g.cur.runOptimize();
      if (previous != nullptr && !m.same_firms) {
        ids.clear();
        for (uint32_t f = 0; f < m.m_of_prev.size(); ++f) {
          if (m.m_of_prev[f] >= g.lo && m.m_of_prev[f] < g.hi) ids.push_back(f);
        }
        g.prev.addMany(ids.size(), ids.data());
        g.prev.runOptimize();
      }
    }
    // Each key's pushes in the group, on `threads` threads.
    {
      std::atomic<size_t> next{0};
      ParallelFor(std::min<int>(options.threads, static_cast<int>(keys.size())), [&](int) {
        std::vector<PushEntry> entries;
        for (size_t k; (k = next.fetch_add(1)) < keys.size();) {
          BuildPushList(keys[k], m, g, statuses, &entries, &lists[k]);
        }
      });
    }
    std::vector<uint32_t> live;  // keys with pushes
    for (uint32_t k = 0; k < lists.size(); ++k) {
      if (!lists[k].pos.empty()) live.push_back(k);
    }
    std::fill(cursor.begin(), cursor.end(), 0);
    std::fill(benefit_cursor.begin(), benefit_cursor.end(), 0);
    std::fill(previous_cursor.begin(), previous_cursor.end(), 0);
    // Written window by window of merged positions: within a window, ordered by position
    // (credit code) then key (policy id) with a counting sort.
    for (uint32_t base = g.lo; base < g.hi && !live.empty(); base += kWindow) {
      const uint32_t end = base + std::min(kWindow, g.hi - base);
      items.clear();
      offsets.clear();
      std::fill(count.begin(), count.end(), 0);
      for (uint32_t k : live) {
        const PushList& l = lists[k];
        size_t& c = cursor[k];
        size_t& bc = benefit_cursor[k];
        size_t& pc = previous_cursor[k];
        for (; c < l.pos.size() && l.pos[c] < end; ++c) {
          items.push_back({k, static_cast<uint32_t>(c), static_cast<uint32_t>(bc), static_cast<uint32_t>(pc)});
          offsets.push_back(l.pos[c] - base);
          ++count[l.pos[c] - base + 1];
          bc += MetaHasBenefit(l.meta[c]);
          pc += MetaHasPreviousBenefit(l.meta[c]);
        }
      }
      for (uint32_t i = 1; i <= kWindow; ++i) count[i] += count[i - 1];
      sorted.resize(items.size());
      for (size_t i = 0; i < items.size(); ++i) sorted[count[offsets[i]]++] = items[i];
      if (threads == 1) {
        for (const Item& it : sorted) {
          append_push(it, &out, &words[0]);
          if (absl::Status s = w.MaybeFlush(); !s.ok()) return s;
        }
        continue;
      }
      // With words, lines are made on `threads` threads, a batch at a time, and written in order.
      constexpr size_t kBatch = 1 << 14;
      for (size_t b0 = 0; b0 < sorted.size(); b0 += kBatch) {
        const size_t b1 = std::min(sorted.size(), b0 + kBatch);
        const size_t per = (b1 - b0 + threads - 1) / threads;
        ParallelFor(threads, [&](int t) {
          parts[t].clear();
          for (size_t i = b0 + t * per; i < std::min(b1, b0 + (t + 1) * per); ++i) {
            append_push(sorted[i], &parts[t], &words[t]);
          }
        });
        for (const std::string& part : parts) {
          out.append(part);
          if (absl::Status s = w.MaybeFlush(); !s.ok()) return s;
        }
      }
    }
    if (m.size == 0) break;
  }
  return w.Flush();
}

std::string PushesJsonl(const NightResult& night, const NightResult* previous,
                        const StreamOptions& options) {
  std::string out;
  StringSink sink(&out);
  (void)WritePushesJsonl(night, previous, &sink, options);
  return out;
}

std::string PushesJsonl(const NightResult& night, const NightResult* previous) {
  std::string out;
  StringSink sink(&out);
  (void)WritePushesJsonl(night, previous, &sink);
  return out;
}

}  // namespace polmatch
