#include "engine/output/night.h"

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/util/framing.h"
#include "engine/util/amounts.h"
#include "google/protobuf/util/json_util.h"

namespace polmatch {
namespace {

// ---- bytes ------------------------------------------------------------------------------------

template <typename T>
void Put(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out->append(buf, sizeof(T));
}
void PutString(std::string* out, absl::string_view s) {
  Put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out->append(s.data(), s.size());
}

class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}
  template <typename T>
  bool Get(T* v) {
    if (data_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetBytes(size_t n, absl::string_view* out) {
    if (data_.size() - pos_ < n) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool GetString(std::string* out) {
    uint32_t n;
    absl::string_view s;
    if (!Get(&n) || !GetBytes(n, &s)) return false;
    *out = std::string(s);
    return true;
  }
  size_t remaining() const { return data_.size() - pos_; }

 private:
  absl::string_view data_;
  size_t pos_ = 0;
};

constexpr char kMagic[8] = {'P', 'M', 'S', 'T', 'A', 'T', 'E', '\n'};
constexpr uint32_t kVersion = 2;
constexpr size_t kCodeLen = NightResult::kCodeLen;


void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void AppendCsvField(std::string* out, absl::string_view s) {
  if (s.find_first_of(",\"\n\r") == absl::string_view::npos) {
    out->append(s.data(), s.size());
    return;
  }
  out->push_back('"');
  for (char c : s) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

std::vector<uint32_t> CodeOrder(const NightResult& night) {
  std::vector<uint32_t> order(night.num_firms());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return night.code(a) < night.code(b); });
  return order;
}

}  // namespace

MatchStatus PolicyNight::StatusOf(uint32_t firm) const {
  for (MatchStatus s : kKeptStatuses) {
    if (by_status[s].contains(firm)) return s;
  }
  return INELIGIBLE;
}

std::optional<Decimal> PolicyNight::BenefitOf(uint32_t firm) const {
  auto it = std::lower_bound(benefits.begin(), benefits.end(), std::make_pair(firm, INT64_MIN));
  if (it == benefits.end() || it->first != firm) return std::nullopt;
  return Decimal::FromRawUnchecked(it->second);
}

NightBuilder::NightBuilder(std::string as_of, std::vector<std::string> policy_ids,
                           std::vector<bool> auto_grant) {
  night_.as_of = std::move(as_of);
  night_.policies.resize(policy_ids.size());
  for (size_t i = 0; i < policy_ids.size(); ++i) {
    night_.policies[i].id = std::move(policy_ids[i]);
    night_.policies[i].auto_grant = i < auto_grant.size() && auto_grant[i];
  }
}

uint32_t NightBuilder::AddFirm(std::string credit_code, std::string name) {
  credit_code.resize(kCodeLen, ' ');
  night_.codes.append(credit_code);
  night_.names.push_back(std::move(name));
  return night_.num_firms() - 1;
}

void NightBuilder::Set(uint32_t firm, size_t policy, const Outcome& o) {
  PolicyNight& p = night_.policies[policy];
  if (o.status != INELIGIBLE && o.status != STATUS_UNSPECIFIED) p.by_status[o.status].add(firm);
  if (o.benefit && (o.status == ELIGIBLE || o.status == EXCLUDED || o.status == NOT_SELECTED)) {
    p.benefits.emplace_back(firm, o.benefit->raw());
  }
}

NightResult NightBuilder::Finish() && {
  night_.code_order = CodeOrder(night_);
  for (PolicyNight& p : night_.policies) {
    for (Roaring& r : p.by_status) r.runOptimize();
    std::sort(p.benefits.begin(), p.benefits.end());
  }
  return std::move(night_);
}

std::string SerializeState(const NightResult& night) {
  std::string out(kMagic, sizeof kMagic);
  Put<uint32_t>(&out, kVersion);
  PutString(&out, night.as_of);
  Put<uint32_t>(&out, night.num_firms());
  out.append(night.codes);
  for (uint32_t firm : night.code_order) Put<uint32_t>(&out, firm);
  Put<uint32_t>(&out, static_cast<uint32_t>(night.policies.size()));
  std::string buf;
  for (const PolicyNight& p : night.policies) {
    PutString(&out, p.id);
    Put<uint8_t>(&out, p.auto_grant ? 1 : 0);
    for (MatchStatus s : kKeptStatuses) {
      const Roaring& r = p.by_status[s];
      buf.resize(r.getSizeInBytes(true));
      r.write(buf.data(), true);
      PutString(&out, buf);
    }
    Put<uint32_t>(&out, static_cast<uint32_t>(p.benefits.size()));
    for (const auto& [firm, raw] : p.benefits) {
      Put<uint32_t>(&out, firm);
      Put<int64_t>(&out, raw);
    }
  }
  AppendChecksum(&out);
  return out;
}

absl::StatusOr<NightResult> ParseState(absl::string_view bytes) {
  constexpr absl::string_view kCorrupt = "state file is corrupt";
  auto corrupt = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat(kCorrupt, ": ", why));
  };
  absl::StatusOr<absl::string_view> body =
      VerifyFrame(bytes, absl::string_view(kMagic, sizeof kMagic), "state file", kCorrupt);
  if (!body.ok()) return body.status();
  Reader in(*body);
  NightResult night;
  uint32_t version, nfirms, npolicies;
  if (!in.Get(&version)) return corrupt("truncated header");
  if (version != kVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("state file version ", version, " is not supported (want ", kVersion, ")"));
  }
  if (!in.GetString(&night.as_of) || !in.Get(&nfirms)) return corrupt("truncated header");
  absl::string_view codes;
  if (static_cast<uint64_t>(nfirms) * (kCodeLen + 4) > in.remaining() ||
      !in.GetBytes(size_t{nfirms} * kCodeLen, &codes)) {
    return corrupt("truncated codes");
  }
  night.codes = std::string(codes);
  night.code_order.resize(nfirms);
  std::vector<bool> seen(nfirms, false);
  for (uint32_t i = 0; i < nfirms; ++i) {
    uint32_t firm = 0;
    in.Get(&firm);
    if (firm >= nfirms || seen[firm]) return corrupt("code order is not a permutation");
    seen[firm] = true;
    night.code_order[i] = firm;
    if (i > 0 && !(night.code(night.code_order[i - 1]) < night.code(firm))) {
      return corrupt("codes out of order");
    }
  }
  if (!in.Get(&npolicies)) return corrupt("truncated policy count");
  for (uint32_t i = 0; i < npolicies; ++i) {
    PolicyNight p;
    uint8_t auto_grant;
    if (!in.GetString(&p.id) || !in.Get(&auto_grant)) return corrupt("truncated policy");
    p.auto_grant = auto_grant != 0;
    for (MatchStatus s : kKeptStatuses) {
      std::string buf;
      if (!in.GetString(&buf)) return corrupt("truncated bitmap");
      try {
        p.by_status[s] = Roaring::readSafe(buf.data(), buf.size());
      } catch (const std::exception&) {
        return corrupt("bad bitmap");
      }
      if (!p.by_status[s].isEmpty() && p.by_status[s].maximum() >= nfirms) {
        return corrupt("bitmap refers past the last firm");
      }
    }
    uint32_t nbenefits;
    if (!in.Get(&nbenefits) || static_cast<uint64_t>(nbenefits) * 12 > in.remaining()) {
      return corrupt("truncated benefits");
    }
    p.benefits.resize(nbenefits);
    for (auto& [firm, raw] : p.benefits) {
      in.Get(&firm);
      in.Get(&raw);
      if (firm >= nfirms) return corrupt("benefit refers past the last firm");
    }
    night.policies.push_back(std::move(p));
  }
  if (in.remaining() != 0) return corrupt("trailing bytes");
  return night;
}

BatchSummary Summarize(const NightResult& night) {
  BatchSummary s;
  s.set_as_of(night.as_of);
  s.set_firms(static_cast<int32_t>(night.num_firms()));
  for (const PolicyNight& p : night.policies) {
    PolicySummary* ps = s.add_policies();
    ps->set_policy(p.id);
    ps->set_eligible(static_cast<int32_t>(p.by_status[ELIGIBLE].cardinality()));
    ps->set_undetermined(static_cast<int32_t>(p.by_status[UNDETERMINED].cardinality()));
    ps->set_near_miss(static_cast<int32_t>(p.by_status[NEAR_MISS].cardinality()));
    ps->set_excluded(static_cast<int32_t>(p.by_status[EXCLUDED].cardinality()));
    ps->set_not_selected(static_cast<int32_t>(p.by_status[NOT_SELECTED].cardinality()));
    ps->set_auto_granted(p.auto_grant ? ps->eligible() : 0);
    YuanTotal total;
    for (const auto& [firm, raw] : p.benefits) {
      if (p.by_status[ELIGIBLE].contains(firm)) total.Add(Decimal::FromRawUnchecked(raw));
    }
    ps->set_benefit_total_yuan(total.ToFixed2());
  }
  return s;
}

std::string SummaryJson(const NightResult& night) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  opts.add_whitespace = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(Summarize(night), &out, opts);
  return out;
}

std::string GrantsCsv(const NightResult& night) {
  std::string out = "policy_id,credit_code,name,benefit_yuan\n";
  std::vector<uint32_t> rank(night.num_firms());
  for (uint32_t i = 0; i < rank.size(); ++i) rank[night.code_order[i]] = i;
  std::vector<uint32_t> firms;
  for (const PolicyNight& p : night.policies) {
    if (!p.auto_grant) continue;
    firms.resize(p.by_status[ELIGIBLE].cardinality());
    p.by_status[ELIGIBLE].toUint32Array(firms.data());
    std::sort(firms.begin(), firms.end(), [&](uint32_t a, uint32_t b) { return rank[a] < rank[b]; });
    for (uint32_t firm : firms) {
      AppendCsvField(&out, p.id);
      out.push_back(',');
      const absl::string_view code = night.code(firm);
      out.append(code.data(), code.size());
      out.push_back(',');
      AppendCsvField(&out, night.name(firm));
      out.push_back(',');
      if (std::optional<Decimal> b = p.BenefitOf(firm)) out.append(FormatYuan(*b));
      out.push_back('\n');
    }
  }
  return out;
}

namespace {

struct PushRow {
  uint32_t firm;       // current id, or previous id for firms gone tonight
  bool gone;           // the firm is not in tonight's registry
  uint32_t policy;     // index in `ids`
  MatchStatus status;
  std::optional<Decimal> benefit;
  Push::Change change;
};

}  // namespace

std::string PushesJsonl(const NightResult& night, const NightResult* previous) {
  std::vector<PushRow> rows;
  // Previous firm id of each current firm (-1 = new firm), and policy index maps by id.
  std::vector<int64_t> prev_of;
  std::vector<int64_t> gone_prev;  // previous ids of firms no longer registered
  std::vector<const PolicyNight*> prev_policy(night.policies.size(), nullptr);
  bool same_firms = false;
  if (previous != nullptr) {
    same_firms = previous->codes == night.codes;
    prev_of.assign(night.num_firms(), -1);
    // Merge the two registries in credit-code order.
    const auto& co = night.code_order;
    const auto& po = previous->code_order;
    size_t i = 0, j = 0;
    while (i < co.size() || j < po.size()) {
      if (j == po.size() || (i < co.size() && night.code(co[i]) < previous->code(po[j]))) {
        ++i;
      } else if (i == co.size() || previous->code(po[j]) < night.code(co[i])) {
        gone_prev.push_back(po[j++]);
      } else {
        prev_of[co[i++]] = po[j++];
      }
    }
    size_t k = 0;
    for (size_t p = 0; p < night.policies.size(); ++p) {
      while (k < previous->policies.size() && previous->policies[k].id < night.policies[p].id) ++k;
      if (k < previous->policies.size() && previous->policies[k].id == night.policies[p].id) {
        prev_policy[p] = &previous->policies[k];
      }
    }
  }
  // Policies: tonight's, plus (for revocations) last night's that are gone.
  std::vector<std::string> ids;
  for (const PolicyNight& p : night.policies) ids.push_back(p.id);
  for (size_t p = 0; p < night.policies.size(); ++p) {
    const PolicyNight& cur = night.policies[p];
    const PolicyNight* prev = prev_policy[p];
    if (prev != nullptr && same_firms && prev->benefits == cur.benefits) {
      bool same = true;
      for (MatchStatus s : kKeptStatuses) same = same && prev->by_status[s] == cur.by_status[s];
      if (same) continue;  // the steady-state fast path: nothing changed for this policy
    }
    Roaring pushable = cur.by_status[ELIGIBLE] | cur.by_status[NEAR_MISS] | cur.by_status[UNDETERMINED];
    for (uint32_t firm : pushable) {
      const MatchStatus status = cur.StatusOf(firm);
      const std::optional<Decimal> benefit = cur.BenefitOf(firm);
      Push::Change change = Push::NEW;
      if (prev != nullptr && prev_of[firm] >= 0) {
        const uint32_t pf = static_cast<uint32_t>(prev_of[firm]);
        const MatchStatus before = prev->StatusOf(pf);
        if (IsPushable(before)) {
          if (before == status && prev->BenefitOf(pf) == benefit) continue;
          change = Push::CHANGED;
        }
      }
      rows.push_back({firm, false, static_cast<uint32_t>(p), status, benefit, change});
    }
    if (prev == nullptr) continue;
    // Revocations of firms still registered: pushable before, not now.
    Roaring prev_pushable = prev->by_status[ELIGIBLE] | prev->by_status[NEAR_MISS] | prev->by_status[UNDETERMINED];
    if (same_firms) {
      for (uint32_t firm : prev_pushable - pushable) {
        rows.push_back({firm, false, static_cast<uint32_t>(p), cur.StatusOf(firm), std::nullopt, Push::REVOKED});
      }
    } else {
      for (size_t firm = 0; firm < prev_of.size(); ++firm) {
        if (prev_of[firm] >= 0 && prev_pushable.contains(static_cast<uint32_t>(prev_of[firm])) &&
            !pushable.contains(static_cast<uint32_t>(firm))) {
          rows.push_back({static_cast<uint32_t>(firm), false, static_cast<uint32_t>(p),
                          cur.StatusOf(static_cast<uint32_t>(firm)), std::nullopt, Push::REVOKED});
        }
      }
    }
  }
  if (previous != nullptr) {
    // Policies withdrawn from the catalog, and firms gone from the registry: revoke their pushes.
    for (const PolicyNight& prev : previous->policies) {
      const auto tonight_end = ids.begin() + static_cast<std::ptrdiff_t>(night.policies.size());
      const bool withdrawn = !std::binary_search(ids.begin(), tonight_end, prev.id);
      Roaring prev_pushable = prev.by_status[ELIGIBLE] | prev.by_status[NEAR_MISS] | prev.by_status[UNDETERMINED];
      uint32_t pidx = 0;
      if (withdrawn) {
        pidx = static_cast<uint32_t>(ids.size());
        ids.push_back(prev.id);
        for (size_t firm = 0; firm < prev_of.size(); ++firm) {
          if (prev_of[firm] >= 0 && prev_pushable.contains(static_cast<uint32_t>(prev_of[firm]))) {
            rows.push_back({static_cast<uint32_t>(firm), false, pidx, INELIGIBLE, std::nullopt, Push::REVOKED});
          }
        }
      } else {
        pidx = static_cast<uint32_t>(std::lower_bound(ids.begin(), tonight_end, prev.id) - ids.begin());
      }
      for (int64_t pf : gone_prev) {
        if (prev_pushable.contains(static_cast<uint32_t>(pf))) {
          rows.push_back({static_cast<uint32_t>(pf), true, pidx, INELIGIBLE, std::nullopt, Push::REVOKED});
        }
      }
    }
  }
  auto code_of = [&](const PushRow& r) -> absl::string_view {
    return r.gone ? previous->code(r.firm) : night.code(r.firm);
  };
  std::sort(rows.begin(), rows.end(), [&](const PushRow& a, const PushRow& b) {
    const absl::string_view ca = code_of(a);
    const absl::string_view cb = code_of(b);
    if (ca != cb) return ca < cb;
    return ids[a.policy] < ids[b.policy];
  });
  std::string out;
  out.reserve(rows.size() * 110);
  for (const PushRow& r : rows) {
    out.append("{\"credit_code\":\"");
    const absl::string_view code = code_of(r);
    out.append(code.data(), code.size());
    out.append("\",\"policy\":");
    AppendJsonString(&out, ids[r.policy]);
    out.append(",\"status\":\"");
    out.append(MatchStatus_Name(r.status));
    out.append("\",\"benefit_yuan\":\"");
    if (r.benefit) out.append(FormatYuan(*r.benefit));
    out.append("\",\"change\":\"");
    out.append(Push::Change_Name(r.change));
    out.append("\"}\n");
  }
  return out;
}

}  // namespace polmatch
