#include "engine/output/push_texts.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace polmatch {

StoreRowView::Grant StoreRowView::Holding(TagId id) const {
  Grant best;
  const int32_t day = DayNumber(as_of_);
  for (TagId d : tax_.tag(id).descendants) {
    const TagGrantColumn g = store_.grants(d);
    const uint32_t* lo = std::lower_bound(g.rows, g.rows + g.size, row_);
    for (size_t i = lo - g.rows; i < g.size && g.rows[i] == row_; ++i) {
      if (g.from[i] > day || g.to[i] < day) continue;
      // Ends later (open = latest) wins; then starts earlier (open = earliest), as FirmView.
      if (!best.held || g.to[i] > best.to || (g.to[i] == best.to && g.from[i] < best.from)) {
        best = {true, g.from[i], g.to[i]};
      }
    }
  }
  return best;
}

std::optional<absl::CivilDay> StoreRowView::TagValidFrom(TagId id) const {
  const Grant g = Holding(id);
  if (!g.held || g.from == kOpenFrom) return std::nullopt;
  return DayFromNumber(g.from);
}

std::optional<absl::CivilDay> StoreRowView::TagValidTo(TagId id) const {
  const Grant g = Holding(id);
  if (!g.held || g.to == kOpenTo) return std::nullopt;
  return DayFromNumber(g.to);
}

PushTexts::PushTexts(const Catalog& catalog, absl::CivilDay as_of, const FirmStore* store)
    : catalog_(catalog), as_of_(as_of), store_(store), zh_(catalog.taxonomy()) {
  for (const CompiledPolicy& p : catalog.policies()) {
    std::vector<std::string>& c = conditions_.emplace_back();
    for (const Node* n : p.conditions) c.push_back(zh_.Condition(*n));
    quoted_titles_.push_back(absl::StrCat("「", p.policy.title(), "」"));
  }
}

PushTexts::PushTexts(const Catalog& catalog, absl::CivilDay as_of, const std::vector<Firm>* firms)
    : PushTexts(catalog, as_of, static_cast<const FirmStore*>(nullptr)) {
  firms_ = firms;
}

void PushTexts::Describe(const PushFacts& f, PushWords* out) const {
  if (f.firm == UINT32_MAX) return Describe(f, nullptr, out);
  if (store_ != nullptr) {
    const StoreRowView view(*store_, catalog_.taxonomy(), f.firm, as_of_);
    return Describe(f, &view, out);
  }
  const FirmView view((*firms_)[f.firm], catalog_.taxonomy(), as_of_);
  Describe(f, &view, out);
}

void PushTexts::Describe(const PushFacts& f, const FirmEnv* firm, PushWords* out) const {
  out->title.clear();
  out->message.clear();
  out->missing.clear();
  out->lost_condition.clear();
  out->data_needed.clear();
  const CompiledPolicy* p = f.policy >= 0 ? &catalog_.policies()[f.policy] : nullptr;
  if (p != nullptr) out->title = p->policy.title();
  static const std::string* const kThisPolicy = new std::string("该政策");
  const std::string& t = p != nullptr ? quoted_titles_[f.policy] : *kThisPolicy;
  // The first condition that is false for the firm, with its data, into the (empty) *dst.
  const auto false_condition = [&](std::string* dst) {
    if (firm == nullptr) return;
    for (size_t i = 0; i < p->conditions.size(); ++i) {
      if (!Evaluate(*p->conditions[i], *firm).is_false()) continue;
      const std::string data = zh_.FirmData(*p->conditions[i], *firm);
      dst->append(conditions_[f.policy][i]);
      if (!data.empty()) absl::StrAppend(dst, "(贵企业:", data, ")");
      return;
    }
  };

  if (f.change == Push::REVOKED) {
    switch (f.reason) {
      case Push::FIRM_GONE:
        absl::StrAppend(&out->message, "贵企业已不在本地企业名录中,此前推送的", t, "不再适用。");
        return;
      case Push::POLICY_ENDED:
        if (p != nullptr && !p->policy.valid_to().empty() && p->valid_to && *p->valid_to < as_of_) {
          absl::StrAppend(&out->message, t, "已于", p->policy.valid_to(), "到期,此前推送的内容不再适用。");
        } else {
          absl::StrAppend(&out->message, t, "已停止执行,此前推送的内容不再适用。");
        }
        return;
      default: break;
    }
    if (p == nullptr || firm == nullptr) {
      absl::StrAppend(&out->message, "贵企业不再符合", t, "的条件,此前推送的内容不再适用。");
      return;
    }
    switch (f.status) {
      case EXCLUDED:
        out->lost_condition = "同类政策就高不重复,贵企业享受金额更高的一项";
        absl::StrAppend(&out->message, "贵企业仍符合", t, "的条件,但同类政策就高不重复,将享受金额更高的一项,本项推送不再适用。");
        return;
      case NOT_SELECTED:
        out->lost_condition = absl::StrCat("本政策限", p->policy.limit(), "家,贵企业未入选");
        absl::StrAppend(&out->message, "贵企业仍符合", t, "的条件,但未入选本政策的限额名单,此前推送的内容不再适用。");
        return;
      case UNDETERMINED: {
        const ConditionsZh read = ReadConditions(*p, zh_, *firm);
        out->lost_condition = absl::StrCat("缺少", absl::StrJoin(read.data_needed, "、"), "数据");
        absl::StrAppend(&out->message, "现有数据已不足以判断贵企业是否符合", t, "的条件,此前推送的内容不再适用;请补充",
                                    absl::StrJoin(read.data_needed, "、"), "。");
        return;
      }
      default:
        false_condition(&out->lost_condition);
        absl::StrAppend(&out->message, "贵企业不再符合", t, "的条件");
        if (!out->lost_condition.empty()) absl::StrAppend(&out->message, ":", out->lost_condition);
        out->message.append("。此前推送的内容不再适用。");
        return;
    }
  }

  const bool auto_grant = p != nullptr && p->auto_grant();
  switch (f.status) {
    case ELIGIBLE:
      if (auto_grant && f.benefit) {
        absl::StrAppend(&out->message, "贵企业符合", t, "的条件,无需申请即可获得", YuanZh(*f.benefit), "(免申即享)。");
      } else if (auto_grant) {
        absl::StrAppend(&out->message, "贵企业符合", t, "的条件,无需申请即可享受(免申即享)");
        if (!p->policy.benefit_note().empty()) absl::StrAppend(&out->message, ":", p->policy.benefit_note());
        out->message.append("。");
      } else {
        absl::StrAppend(&out->message, "贵企业符合", t, "的申报条件");
        if (f.benefit) absl::StrAppend(&out->message, ",预计可获", YuanZh(*f.benefit));
        out->message.append(",请按通知申报。");
      }
      break;
    case NEAR_MISS: {
      if (p != nullptr) false_condition(&out->missing);
      absl::StrAppend(&out->message, "贵企业距", t, "还差一项条件");
      if (!out->missing.empty()) absl::StrAppend(&out->message, ":", out->missing);
      absl::StrAppend(&out->message, "。达到后即可", auto_grant ? "享受" : "申报", "。");
      break;
    }
    case UNDETERMINED: {
      if (p != nullptr && firm != nullptr) out->data_needed = ReadConditions(*p, zh_, *firm).data_needed;
      if (out->data_needed.empty()) {
        absl::StrAppend(&out->message, "贵企业可能符合", t, "的条件,现有数据不足以判断,请与主管部门联系核实。");
      } else {
        absl::StrAppend(&out->message, "贵企业可能符合", t, "的条件,请补充以下数据以便核实:",
                                    absl::StrJoin(out->data_needed, "、"), "。");
      }
      break;
    }
    case EXCLUDED:
      absl::StrAppend(&out->message, "贵企业符合", t, "的条件,但同类政策就高不重复,将享受金额更高的一项。");
      break;
    case NOT_SELECTED:
      absl::StrAppend(&out->message, "贵企业符合", t, "的条件,但未入选本政策的限额名单。");
      break;
    default: break;
  }
  if (f.change == Push::CHANGED) {
    if (f.previous_status == f.status && f.previous_benefit && f.benefit) {
      absl::StrAppend(&out->message, "金额由", YuanZh(*f.previous_benefit), "调整为", YuanZh(*f.benefit), "。");
    } else {
      absl::StrAppend(&out->message, "(此前通知:", StatusZh(f.previous_status));
      if (f.previous_benefit) absl::StrAppend(&out->message, ",", YuanZh(*f.previous_benefit));
      out->message.append(")");
    }
  }
}

}  // namespace polmatch
