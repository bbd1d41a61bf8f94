#include "engine/match/explain_zh.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/expr/comparison.h"
#include "engine/util/amounts.h"
#include "engine/util/dates.h"

namespace polmatch {
namespace {

constexpr int64_t kWan = 10'000;
constexpr int64_t kYi = 100'000'000;

bool IsConstant(const Node& n) {
  if (n.kind == NodeKind::kFact || n.kind == NodeKind::kTag || n.kind == NodeKind::kBuiltin ||
      n.kind == NodeKind::kIdent) {
    return false;
  }
  for (const auto& c : n.children) {
    if (!IsConstant(*c)) return false;
  }
  return true;
}

// No fact and no firm-dependent builtin: only literals and tags (a cap like if(tag, 200万, 100万)).
bool ReadsNoFact(const Node& n) {
  if (n.kind == NodeKind::kFact || n.kind == NodeKind::kBuiltin) return false;
  for (const auto& c : n.children) {
    if (!ReadsNoFact(*c)) return false;
  }
  return true;
}

bool IsFoundedToAsOf(const Node& n) {
  return n.kind == NodeKind::kCall && n.func == Func::kYearsBetween && n.children.size() == 2 &&
         n.children[0]->kind == NodeKind::kBuiltin && n.children[0]->builtin == Builtin::kFounded &&
         n.children[1]->kind == NodeKind::kBuiltin && n.children[1]->builtin == Builtin::kAsOf;
}

bool IsUnder(const Node& n, Builtin b) {
  return n.kind == NodeKind::kUnder && n.children.size() == 1 &&
         n.children[0]->kind == NodeKind::kBuiltin && n.children[0]->builtin == b;
}

void Leaves(const Node& n, std::vector<const Node*>* out) {
  if (n.kind == NodeKind::kTag || n.kind == NodeKind::kFact ||
      (n.kind == NodeKind::kBuiltin && n.builtin != Builtin::kAsOf)) {
    for (const Node* seen : *out) {
      if (seen->kind == n.kind && seen->tag == n.tag && seen->fact == n.fact &&
          seen->builtin == n.builtin) {
        return;
      }
    }
    out->push_back(&n);
    return;
  }
  for (const auto& c : n.children) Leaves(*c, out);
}

}  // namespace

std::string YuanZh(Decimal yuan) {
  const Decimal d = yuan.RoundHalfUp(2);
  const int64_t raw = d.raw();
  const int64_t mag = raw < 0 ? -raw : raw;
  const std::string sign = raw < 0 ? "-" : "";
  const int64_t one = Decimal::kOne;
  if (mag >= kYi * one && mag % (kYi / 100 * one) == 0) {
    return absl::StrCat(sign, WithThousands(Decimal::FromRawUnchecked(mag / kYi).ToString()), "亿元");
  }
  if (mag >= kWan * one && mag % (100 * one) == 0) {
    return absl::StrCat(sign, WithThousands(Decimal::FromRawUnchecked(mag / kWan).ToString()), "万元");
  }
  const Decimal m = Decimal::FromRawUnchecked(mag);
  return absl::StrCat(sign, WithThousands(mag % one == 0 ? m.ToString() : m.ToFixed(2)), "元");
}

std::string PercentZh(Decimal ratio) {
  std::optional<Decimal> p = Mul(ratio, Decimal::FromRawUnchecked(100 * Decimal::kOne));
  return p ? absl::StrCat(p->ToString(), "%") : ratio.ToString();
}

const char* StatusZh(MatchStatus status) {
  switch (status) {
    case ELIGIBLE: return "符合条件";
    case UNDETERMINED: return "待补充数据";
    case NEAR_MISS: return "还差一项条件";
    case INELIGIBLE: return "不符合条件";
    case EXCLUDED: return "就高不重复,未享受";
    case NOT_SELECTED: return "符合条件但未入选";
    default: return "未评估";
  }
}

// ---- numbers and dimensions -------------------------------------------------------------------

ChineseRenderer::Dim ChineseRenderer::DimOf(const Node& n) const {
  switch (n.kind) {
    case NodeKind::kFact:
      switch (tax_.fact(n.fact).unit) {
        case YUAN: return Dim::kYuan;
        case PERSONS: return Dim::kPersons;
        case COUNT: return Dim::kCount;
        case RATIO: return Dim::kRatio;
        case YEARS: return Dim::kYears;
        default: return Dim::kNone;
      }
    case NodeKind::kNeg: return DimOf(*n.children[0]);
    case NodeKind::kArith: {
      const Dim a = DimOf(*n.children[0]);
      const Dim b = DimOf(*n.children[1]);
      switch (n.op) {
        case Op::kAdd:
        case Op::kSub: return a != Dim::kNone ? a : b;
        case Op::kMul: return a == Dim::kNone ? b : (b == Dim::kNone ? a : Dim::kNone);
        case Op::kDiv:
          if (a == b && a != Dim::kNone) return Dim::kRatio;
          return b == Dim::kNone ? a : Dim::kNone;
        default: return Dim::kNone;
      }
    }
    case NodeKind::kCall:
      switch (n.func) {
        case Func::kYearsBetween: return Dim::kYears;
        case Func::kDaysBetween: return Dim::kDays;
        case Func::kMin:
        case Func::kMax:
        case Func::kAbs:
          for (const auto& c : n.children) {
            if (Dim d = DimOf(*c); d != Dim::kNone) return d;
          }
          return Dim::kNone;
        case Func::kIf:
          for (size_t i = 1; i < n.children.size(); ++i) {
            if (Dim d = DimOf(*n.children[i]); d != Dim::kNone) return d;
          }
          return Dim::kNone;
        case Func::kTier:
          for (size_t i = 2; i < n.children.size(); i += 2) {
            if (Dim d = DimOf(*n.children[i]); d != Dim::kNone) return d;
          }
          return Dim::kNone;
        default: return Dim::kNone;
      }
    default: return Dim::kNone;
  }
}

std::string ChineseRenderer::Number(Decimal v, Dim dim) const {
  switch (dim) {
    case Dim::kYuan: return YuanZh(v);
    case Dim::kPersons: return absl::StrCat(WithThousands(v.ToString()), "人");
    case Dim::kCount: return absl::StrCat(WithThousands(v.ToString()), "项");
    case Dim::kRatio: return PercentZh(v);
    case Dim::kYears: return absl::StrCat(WithThousands(v.ToString()), "年");
    case Dim::kDays: return absl::StrCat(WithThousands(v.ToString()), "天");
    case Dim::kFactor: {
      const int64_t mag = v.raw() < 0 ? -v.raw() : v.raw();
      if (mag > 0 && mag < Decimal::kOne) return PercentZh(v);
      return WithThousands(v.ToString());
    }
    case Dim::kNone: return WithThousands(v.ToString());
  }
  return v.ToString();
}

// ---- names of codes ---------------------------------------------------------------------------

std::string ChineseRenderer::RegionName(absl::string_view code) const {
  if (code.size() != 6) return absl::StrCat("代码为", code, "的地区");
  const auto name_of = [&](absl::string_view c) { return std::string(tax_.RegionName(c)); };
  const std::string province = name_of(absl::StrCat(code.substr(0, 2), "0000"));
  if (absl::EndsWith(code, "0000")) return province.empty() ? absl::StrCat("代码为", code, "的地区") : province;
  std::string city = name_of(absl::StrCat(code.substr(0, 4), "00"));
  // 直辖市 and 省直辖县级行政区划 have placeholder names at the city level.
  if (city.empty() || city == "市辖区" || city == "县" || absl::StrContains(city, "直辖")) city = province;
  if (absl::EndsWith(code, "00")) return city.empty() ? absl::StrCat("代码为", code, "的地区") : city;
  const std::string county = name_of(code);
  if (county.empty()) return city.empty() ? absl::StrCat("代码为", code, "的地区") : city;
  return city + county;
}

std::string ChineseRenderer::IndustryName(absl::string_view code) const {
  for (size_t len = code.size(); len > 0; len = len > 3 ? len - 1 : (len == 3 ? 1 : 0)) {
    absl::string_view name = tax_.IndustryName(code.substr(0, len));
    if (!name.empty()) return std::string(name);
  }
  return absl::StrCat("代码为", code, "的行业");
}

std::string ChineseRenderer::Code(const Node& code_expr, const Node& literal) const {
  if (literal.kind != NodeKind::kString) return Expr(literal, Dim::kNone);
  if (code_expr.kind == NodeKind::kBuiltin && code_expr.builtin == Builtin::kIndustry) {
    return IndustryName(literal.text);
  }
  return RegionName(literal.text);
}

// ---- expressions ------------------------------------------------------------------------------

std::string ChineseRenderer::Quantity(const Node& expr) const { return Expr(expr, DimOf(expr)); }

std::string ChineseRenderer::Expr(const Node& n, Dim ctx, int parent_prec) const {
  switch (n.kind) {
    case NodeKind::kNumber: return Number(n.number, ctx);
    case NodeKind::kString:
      if (n.text.size() == 6 && tax_.IsKnownRegion(n.text)) return RegionName(n.text);
      if (tax_.IsKnownIndustry(n.text)) return std::string(tax_.IndustryName(n.text));
      return absl::StrCat("“", n.text, "”");
    case NodeKind::kBool: return n.boolean ? "是" : "否";
    case NodeKind::kIdent: return n.text;
    case NodeKind::kTag: return Bool(n, false);
    case NodeKind::kFact: return tax_.fact(n.fact).name;
    case NodeKind::kBuiltin:
      switch (n.builtin) {
        case Builtin::kRegion: return "注册地";
        case Builtin::kIndustry: return "所属行业";
        case Builtin::kFounded: return "成立日期";
        case Builtin::kAsOf: return "评估日";
      }
      return "";
    case NodeKind::kNeg: return absl::StrCat("负", Expr(*n.children[0], ctx, 3));
    case NodeKind::kArith: {
      const Node& a = *n.children[0];
      const Node& b = *n.children[1];
      const int prec = (n.op == Op::kMul || n.op == Op::kDiv) ? 2 : 1;
      std::string s;
      if (n.op == Op::kMul && (b.kind == NodeKind::kNumber || a.kind == NodeKind::kNumber)) {
        const Node& x = b.kind == NodeKind::kNumber ? a : b;
        const Node& k = b.kind == NodeKind::kNumber ? b : a;
        const int64_t mag = k.number.raw() < 0 ? -k.number.raw() : k.number.raw();
        if (mag > 0 && mag < Decimal::kOne) {
          // "从业人数的10%"
          s = absl::StrCat(Expr(x, ctx, 2), "的", PercentZh(k.number));
          return parent_prec > 0 ? absl::StrCat("(", s, ")") : s;
        }
      }
      if (n.op == Op::kDiv && a.kind == NodeKind::kArith && a.op == Op::kSub &&
          a.children[1]->Equals(b) && DimOf(b) != Dim::kNone) {
        // (a - b) / b: "年营业收入较上年营业收入的增长率"
        return absl::StrCat(Expr(*a.children[0], ctx, 3), "较", Expr(b, ctx, 3), "的增长率");
      }
      if (n.op == Op::kDiv && DimOf(a) != Dim::kNone && DimOf(a) == DimOf(b) &&
          a.kind == NodeKind::kFact && b.kind == NodeKind::kFact) {
        return absl::StrCat(Expr(a, ctx, 3), "占", Expr(b, ctx, 3), "的比例");
      }
      // Under × and ÷ a side without a unit of its own is a factor (20% reads as a percentage).
      const bool scale = n.op == Op::kMul || n.op == Op::kDiv;
      const Dim plain = ctx == Dim::kFactor ? Dim::kNone : ctx;
      const Dim ca = scale && DimOf(a) == Dim::kNone ? Dim::kFactor : (scale ? DimOf(a) : plain);
      const Dim cb = scale && DimOf(b) == Dim::kNone ? Dim::kFactor : (scale ? DimOf(b) : plain);
      const char* sym = n.op == Op::kAdd ? " + " : n.op == Op::kSub ? " − " : n.op == Op::kMul ? " × " : " ÷ ";
      s = absl::StrCat(Expr(a, ca, prec), sym, Expr(b, cb, prec + (n.op == Op::kSub || n.op == Op::kDiv ? 1 : 0)));
      return prec < parent_prec ? absl::StrCat("(", s, ")") : s;
    }
    case NodeKind::kCall: {
      const auto& c = n.children;
      switch (n.func) {
        case Func::kMin:
        case Func::kMax: {
          std::vector<std::string> parts;
          for (const auto& a : c) parts.push_back(Expr(*a, ctx));
          return absl::StrCat(absl::StrJoin(parts, "与"), "中的", n.func == Func::kMin ? "较小者" : "较大者");
        }
        case Func::kAbs: return absl::StrCat(Expr(*c[0], ctx, 3), "的绝对值");
        case Func::kIf: {
          std::string s = absl::StrCat("若", Bool(*c[0], false), "为", Expr(*c[1], ctx), ",否则为",
                                       Expr(*c[2], ctx));
          return parent_prec > 0 ? absl::StrCat("(", s, ")") : s;
        }
        case Func::kTier: {
          Dim tdim = DimOf(*c[0]);
          if (tdim == Dim::kNone) tdim = Dim::kFactor;
          std::vector<std::string> steps;
          for (size_t i = 1; i + 1 < c.size(); i += 2) {
            steps.push_back(absl::StrCat("达到", Expr(*c[i], tdim), "为", Expr(*c[i + 1], ctx)));
          }
          return absl::StrCat("按", Expr(*c[0], tdim == Dim::kFactor ? Dim::kNone : tdim, 3), "分档(",
                              absl::StrJoin(steps, ","), ",不足最低档为0)");
        }
        case Func::kDate: return FormatDate(n.date);
        case Func::kYearsBetween:
          if (IsFoundedToAsOf(n)) return "成立年限";
          return absl::StrCat(Expr(*c[0], Dim::kNone, 3), "至", Expr(*c[1], Dim::kNone, 3), "的整年数");
        case Func::kDaysBetween:
          return absl::StrCat(Expr(*c[0], Dim::kNone, 3), "至", Expr(*c[1], Dim::kNone, 3), "的天数");
        case Func::kValidFrom: return absl::StrCat(tax_.tag(c[0]->tag).name, "资格生效日");
        case Func::kValidTo: return absl::StrCat(tax_.tag(c[0]->tag).name, "资格有效期截止日");
        case Func::kHasFact: return Bool(n, false);
        case Func::kUnknownFunc: break;
      }
      std::vector<std::string> parts;
      for (const auto& a : c) parts.push_back(Expr(*a, Dim::kNone));
      return absl::StrCat("(", absl::StrJoin(parts, "、"), ")");
    }
    case NodeKind::kNot:
    case NodeKind::kAnd:
    case NodeKind::kOr:
    case NodeKind::kCompare:
    case NodeKind::kIn:
    case NodeKind::kUnder: return Bool(n, false);
  }
  return "";
}

std::string ChineseRenderer::TagPhrase(TagId tag, bool held) const {
  const TagInfo& t = tax_.tag(tag);
  if (held) return absl::StrCat(t.held_zh.empty() ? "属于" : t.held_zh, t.name);
  return absl::StrCat(t.not_held_zh.empty() ? "不属于" : t.not_held_zh, t.name);
}

std::string ChineseRenderer::Compare(const Node& lhs_in, Op op, const Node& rhs_in) const {
  const Node* lhs = &lhs_in;
  const Node* rhs = &rhs_in;
  if (IsConstant(*lhs) && !IsConstant(*rhs)) {
    std::swap(lhs, rhs);
    op = MirroredComparison(op);
  }
  // years_between(founded, as_of) op N: "成立满3年"
  if (IsFoundedToAsOf(*lhs) && rhs->kind == NodeKind::kNumber) {
    const std::string n = WithThousands(rhs->number.ToString());
    switch (op) {
      case Op::kGe: return absl::StrCat("成立满", n, "年");
      case Op::kGt: return absl::StrCat("成立超过", n, "年");
      case Op::kLt: return absl::StrCat("成立不满", n, "年");
      case Op::kLe: return absl::StrCat("成立不超过", n, "年");
      case Op::kEq: return absl::StrCat("成立恰好", n, "年");
      case Op::kNe: return absl::StrCat("成立年限不为", n, "年");
      default: break;
    }
  }
  if (lhs->type == Type::kRegion || lhs->type == Type::kIndustry) {
    const bool region = lhs->type == Type::kRegion;
    const std::string what = Code(*lhs, *rhs);
    if (op == Op::kEq) return region ? absl::StrCat("注册地为", what) : absl::StrCat("所属行业为", what);
    return region ? absl::StrCat("注册地不为", what) : absl::StrCat("所属行业不为", what);
  }
  if (lhs->type == Type::kDate) {
    const char* w = op == Op::kGe ? "不早于" : op == Op::kGt ? "晚于" : op == Op::kLe ? "不晚于"
                  : op == Op::kLt ? "早于" : op == Op::kEq ? "为" : "不为";
    return absl::StrCat(Expr(*lhs, Dim::kNone), w, Expr(*rhs, Dim::kNone));
  }
  if (lhs->type == Type::kBool) {
    const bool positive = (op == Op::kEq) == (rhs->kind != NodeKind::kBool || rhs->boolean);
    if (rhs->kind == NodeKind::kBool) return Bool(*lhs, !positive);
    return absl::StrCat(Bool(*lhs, false), op == Op::kEq ? "与" : "不同于", Bool(*rhs, false));
  }
  Dim dim = DimOf(*lhs);
  if (dim == Dim::kNone) dim = DimOf(*rhs);
  const bool counted = dim == Dim::kPersons || dim == Dim::kCount || dim == Dim::kYears || dim == Dim::kDays;
  const char* w = "";
  switch (op) {
    case Op::kGe: w = counted ? "不少于" : "不低于"; break;
    case Op::kGt: w = counted ? "多于" : "高于"; break;
    case Op::kLe: w = "不超过"; break;
    case Op::kLt: w = counted ? "少于" : "低于"; break;
    case Op::kEq: w = "等于"; break;
    case Op::kNe: w = "不等于"; break;
    default: break;
  }
  const Dim literal_dim = dim == Dim::kNone ? Dim::kFactor : dim;
  return absl::StrCat(Expr(*lhs, literal_dim, 1), w,
                      Expr(*rhs, rhs->kind == NodeKind::kNumber ? literal_dim : dim, 0));
}

std::string ChineseRenderer::Bool(const Node& n, bool negated) const {
  const auto& c = n.children;
  switch (n.kind) {
    case NodeKind::kBool: return (n.boolean != negated) ? "无条件满足" : "不可满足";
    case NodeKind::kTag: return TagPhrase(n.tag, !negated);
    case NodeKind::kNot: return Bool(*c[0], !negated);
    case NodeKind::kAnd:
    case NodeKind::kOr: {
      const bool any = (n.kind == NodeKind::kOr) != negated;  // after De Morgan: one of / all of
      bool all_tags = true, all_industry = true, all_region = true;
      for (const auto& k : c) {
        all_tags = all_tags && k->kind == NodeKind::kTag;
        all_industry = all_industry && IsUnder(*k, Builtin::kIndustry);
        all_region = all_region && IsUnder(*k, Builtin::kRegion);
      }
      if (n.kind == NodeKind::kOr && (all_tags || all_industry || all_region)) {
        std::vector<std::string> names;
        for (const auto& k : c) {
          names.push_back(all_tags ? tax_.tag(k->tag).name
                                   : all_industry ? IndustryName(k->text) : RegionName(k->text));
        }
        const std::string list = absl::StrJoin(names, "、");
        if (all_tags) return negated ? absl::StrCat("不属于", list, "中的任何一类") : absl::StrCat("属于", list, "之一");
        if (all_industry) return negated ? absl::StrCat("不属于", list) : absl::StrCat("属于", list, "之一");
        return negated ? absl::StrCat("注册地不在", list) : absl::StrCat("注册地在", list, "之一");
      }
      std::vector<std::string> parts;
      for (const auto& k : c) parts.push_back(Bool(*k, negated));
      if (any) return absl::StrCat("满足以下之一:", absl::StrJoin(parts, ";"));
      return absl::StrJoin(parts, ",且");
    }
    case NodeKind::kCompare: return Compare(*c[0], negated ? NegatedComparison(n.op) : n.op, *c[1]);
    case NodeKind::kIn: {
      std::vector<std::string> items;
      for (size_t i = 1; i < c.size(); ++i) {
        items.push_back(c[0]->type == Type::kRegion || c[0]->type == Type::kIndustry
                            ? Code(*c[0], *c[i])
                            : Expr(*c[i], DimOf(*c[0]) == Dim::kNone ? Dim::kNone : DimOf(*c[0])));
      }
      const std::string list = absl::StrJoin(items, "、");
      std::string subject = Expr(*c[0], Dim::kNone, 1);
      if (c[0]->type == Type::kRegion) {
        return negated ? absl::StrCat("注册地不在", list) : absl::StrCat("注册地在", list, "之一");
      }
      return negated ? absl::StrCat(subject, "不为", list, "中的任何一个")
                     : absl::StrCat(subject, "为", list, "之一");
    }
    case NodeKind::kUnder: {
      const bool region = c[0]->type == Type::kRegion;
      Node literal;
      literal.kind = NodeKind::kString;
      literal.text = n.text;
      const std::string what = Code(*c[0], literal);
      if (region) return absl::StrCat(negated ? "注册地不在" : "注册地在", what);
      return absl::StrCat(negated ? "不属于" : "属于", what);
    }
    case NodeKind::kCall:
      if (n.func == Func::kHasFact) {
        return absl::StrCat(negated ? "未提供" : "已提供", tax_.fact(c[0]->fact).name, "数据");
      }
      if (n.func == Func::kIf) {
        return absl::StrCat("若", Bool(*c[0], false), "则须", Bool(*c[1], negated), ",否则须",
                            Bool(*c[2], negated));
      }
      break;
    default: break;
  }
  return absl::StrCat(negated ? "并非" : "", Expr(n, Dim::kNone));
}

std::string ChineseRenderer::Condition(const Node& cond) const { return Bool(cond, false); }

// ---- the firm's data --------------------------------------------------------------------------

std::string ChineseRenderer::FirmTag(TagId tag, const FirmEnv& firm, bool alone) const {
  const TagInfo& t = tax_.tag(tag);
  const bool held = firm.HoldsTag(tag);
  std::string s;
  if (alone) {
    s = held ? (t.held_zh.empty() ? "是" : t.held_zh) : (t.not_held_zh.empty() ? "否" : t.not_held_zh);
  } else {
    s = TagPhrase(tag, held);
  }
  if (held) {
    const std::optional<absl::CivilDay> from = firm.TagValidFrom(tag);
    const std::optional<absl::CivilDay> to = firm.TagValidTo(tag);
    if (to) {
      absl::StrAppend(&s, alone ? "," : "(", "有效期", from ? FormatDate(*from) : "", "至", FormatDate(*to),
                      alone ? "" : ")");
    } else if (from) {
      absl::StrAppend(&s, alone ? "," : "(", FormatDate(*from), "起有效", alone ? "" : ")");
    }
  }
  return s;
}

std::string ChineseRenderer::FirmData(const Node& cond, const FirmEnv& firm) const {
  std::vector<const Node*> leaves;
  Leaves(cond, &leaves);
  if (leaves.empty()) return "";
  const bool alone = leaves.size() == 1;
  // An `or` of tags: the ones held, or that none is.
  if (cond.kind == NodeKind::kOr && !alone) {
    bool all_tags = true;
    for (const Node* l : leaves) all_tags = all_tags && l->kind == NodeKind::kTag;
    if (all_tags) {
      std::vector<std::string> held;
      for (const Node* l : leaves) {
        if (firm.HoldsTag(l->tag)) held.push_back(FirmTag(l->tag, firm, false));
      }
      return held.empty() ? std::string("以上均不具备") : absl::StrJoin(held, "、");
    }
  }
  std::vector<std::string> parts;
  for (const Node* l : leaves) {
    switch (l->kind) {
      case NodeKind::kFact: {
        const std::optional<Decimal> v = firm.Fact(l->fact);
        const std::string value = v ? Number(*v, DimOf(*l)) : std::string("暂无数据");
        parts.push_back(alone ? value : absl::StrCat(tax_.fact(l->fact).name, value));
        break;
      }
      case NodeKind::kTag: parts.push_back(FirmTag(l->tag, firm, alone)); break;
      default:
        switch (l->builtin) {
          case Builtin::kRegion: {
            const std::string v = firm.Region().empty() ? "暂无数据" : RegionName(firm.Region());
            parts.push_back(alone ? v : absl::StrCat("注册地", v));
            break;
          }
          case Builtin::kIndustry: {
            const std::string v = firm.Industry().empty() ? "暂无数据" : IndustryName(firm.Industry());
            parts.push_back(alone ? v : absl::StrCat("所属行业", v));
            break;
          }
          case Builtin::kFounded:
            parts.push_back(firm.Founded() ? absl::StrCat("成立于", FormatDate(*firm.Founded()))
                                           : std::string("成立日期暂无数据"));
            break;
          case Builtin::kAsOf: break;
        }
    }
  }
  // A fact compared with a computed threshold: what the threshold comes to for this firm.
  const Node* c = &cond;
  bool negated = false;
  while (c->kind == NodeKind::kNot) {
    c = c->children[0].get();
    negated = !negated;
  }
  if (c->kind == NodeKind::kCompare && !alone) {
    const Node* lhs = c->children[0].get();
    const Node* rhs = c->children[1].get();
    Op op = negated ? NegatedComparison(c->op) : c->op;
    if (rhs->kind == NodeKind::kFact && lhs->kind != NodeKind::kFact) {
      std::swap(lhs, rhs);
      op = MirroredComparison(op);
    }
    if (lhs->kind == NodeKind::kFact && !IsConstant(*rhs) && rhs->type == Type::kNumber) {
      const Value v = Evaluate(*rhs, firm);
      if (v.kind == Value::Kind::kNumber) {
        Node bound;
        bound.kind = NodeKind::kNumber;
        bound.type = Type::kNumber;
        bound.number = v.number;
        Node copy;
        copy.kind = NodeKind::kFact;
        copy.type = Type::kNumber;
        copy.fact = lhs->fact;
        parts.push_back(absl::StrCat("即须", Compare(copy, op, bound).substr(tax_.fact(lhs->fact).name.size())));
      }
    }
  }
  if (c->kind == NodeKind::kCompare && IsFoundedToAsOf(*c->children[0]) && firm.Founded()) {
    const Value v = Evaluate(*c->children[0], firm);
    if (v.kind == Value::Kind::kNumber) parts.push_back(absl::StrCat("已成立", v.number.ToString(), "年"));
  }
  return absl::StrJoin(parts, ",");
}

std::string ChineseRenderer::ConditionWithFirm(const Node& cond, const FirmEnv& firm) const {
  std::string s = Condition(cond);
  const std::string data = FirmData(cond, firm);
  if (!data.empty()) absl::StrAppend(&s, "(贵企业:", data, ")");
  return s;
}

void ChineseRenderer::MissingData(const Node& expr, const FirmEnv& firm,
                                  std::vector<std::string>* names) const {
  std::vector<const Node*> leaves;
  Leaves(expr, &leaves);
  for (const Node* l : leaves) {
    std::string name;
    if (l->kind == NodeKind::kFact && !firm.Fact(l->fact)) {
      name = tax_.fact(l->fact).name;
    } else if (l->kind == NodeKind::kBuiltin) {
      if (l->builtin == Builtin::kFounded && !firm.Founded()) name = "成立日期";
      if (l->builtin == Builtin::kIndustry && firm.Industry().empty()) name = "所属行业";
      if (l->builtin == Builtin::kRegion && firm.Region().empty()) name = "注册地";
    }
    if (!name.empty() && std::find(names->begin(), names->end(), name) == names->end()) {
      names->push_back(std::move(name));
    }
  }
}

// ---- benefit computations ---------------------------------------------------------------------

ChineseRenderer::Calc ChineseRenderer::Compute(const Node& n, const FirmEnv& firm, Dim ctx) const {
  Calc r;
  r.value = Evaluate(n, firm);
  const auto show = [&](const Value& v, Dim d) {
    return v.kind == Value::Kind::kNumber ? Number(v.number, d) : std::string("暂无数据");
  };
  const auto& c = n.children;
  switch (n.kind) {
    case NodeKind::kNumber: r.text = Number(n.number, ctx); return r;
    case NodeKind::kFact: r.text = absl::StrCat(tax_.fact(n.fact).name, show(r.value, DimOf(n))); return r;
    case NodeKind::kArith: {
      const bool scale = n.op == Op::kMul || n.op == Op::kDiv;
      const auto side = [&](const Node& k) {
        if (!scale) return ctx;
        const Dim d = DimOf(k);
        return d == Dim::kNone ? Dim::kFactor : d;
      };
      const Calc a = Compute(*c[0], firm, side(*c[0]));
      const Calc b = Compute(*c[1], firm, side(*c[1]));
      const char* sym = n.op == Op::kAdd ? " + " : n.op == Op::kSub ? " − " : n.op == Op::kMul ? " × " : " ÷ ";
      const auto wrap = [](const Calc& x) {
        return x.computed ? absl::StrCat("(", x.text, ")") : x.text;
      };
      r.text = absl::StrCat(wrap(a), sym, wrap(b));
      r.computed = true;
      return r;
    }
    case NodeKind::kCall:
      switch (n.func) {
        case Func::kMin:
        case Func::kMax:
          if (n.func == Func::kMin && c.size() == 2 && ReadsNoFact(*c[0]) != ReadsNoFact(*c[1])) {
            // A cap: "X = v,上限 cap"
            const Node& amount = ReadsNoFact(*c[0]) ? *c[1] : *c[0];
            const Node& cap = ReadsNoFact(*c[0]) ? *c[0] : *c[1];
            const Calc a = Compute(amount, firm, ctx);
            r.text = a.text;
            if (a.computed) absl::StrAppend(&r.text, " = ", show(a.value, ctx));
            const Node* cap_value = &cap;
            std::string why;
            while (cap_value->kind == NodeKind::kCall && cap_value->func == Func::kIf) {
              const Value cond = Evaluate(*cap_value->children[0], firm);
              if (cond.is_unknown()) break;
              why = Bool(*cap_value->children[0], !cond.boolean);
              cap_value = cap_value->children[cond.boolean ? 1 : 2].get();
            }
            const Value cv = Evaluate(cap, firm);
            absl::StrAppend(&r.text, ",", why, why.empty() ? "" : ",", "上限", show(cv, ctx));
            if (a.value.kind == Value::Kind::kNumber && cv.kind == Value::Kind::kNumber &&
                a.value.number > cv.number) {
              absl::StrAppend(&r.text, ",按上限计");
            }
            return r;
          }
          {
            std::vector<std::string> parts;
            for (const auto& k : c) {
              const Calc x = Compute(*k, firm, ctx);
              parts.push_back(x.computed ? absl::StrCat(x.text, " = ", show(x.value, ctx)) : x.text);
            }
            r.text = absl::StrCat("取", absl::StrJoin(parts, "与"), n.func == Func::kMin ? "中的较小者" : "中的较大者");
            r.computed = true;
            return r;
          }
        case Func::kIf: {
          const Value cond = Evaluate(*c[0], firm);
          if (cond.is_unknown()) {
            r.text = absl::StrCat("无法判断是否", Bool(*c[0], false));
            return r;
          }
          const Calc chosen = Compute(*c[cond.boolean ? 1 : 2], firm, ctx);
          r.text = absl::StrCat(Bool(*c[0], !cond.boolean), ",按", chosen.text);
          r.computed = chosen.computed;
          return r;
        }
        case Func::kTier: {
          Dim tdim = DimOf(*c[0]);
          const Calc x = Compute(*c[0], firm, tdim);
          if (tdim == Dim::kNone) tdim = Dim::kFactor;
          r.text = x.text;
          if (x.computed) absl::StrAppend(&r.text, " = ", show(x.value, tdim));
          std::optional<Decimal> best;
          for (size_t i = 1; i + 1 < c.size(); i += 2) {
            const Value t = Evaluate(*c[i], firm);
            if (x.value.kind == Value::Kind::kNumber && t.kind == Value::Kind::kNumber &&
                t.number <= x.value.number && (!best || t.number > *best)) {
              best = t.number;
            }
          }
          if (x.value.kind != Value::Kind::kNumber) return r;
          if (best) {
            absl::StrAppend(&r.text, ",达到", Number(*best, tdim), "档,得", show(r.value, ctx));
          } else {
            absl::StrAppend(&r.text, ",未达到最低档,得", show(r.value, ctx));
          }
          return r;
        }
        default: break;
      }
      break;
    default: break;
  }
  r.text = Expr(n, ctx);
  r.computed = n.kind != NodeKind::kNumber;
  return r;
}

std::string ChineseRenderer::Computation(const Node& benefit, const FirmEnv& firm) const {
  const Value v = Evaluate(benefit, firm);
  if (v.kind != Value::Kind::kNumber) {
    std::vector<std::string> missing;
    MissingData(benefit, firm, &missing);
    if (v.arithmetic_fault && missing.empty()) return "金额超出计算范围或除数为零,无法计算金额";
    if (missing.empty()) return "无法计算金额";
    return absl::StrCat("缺少", absl::StrJoin(missing, "、"), ",无法计算金额");
  }
  const Decimal amount = v.number.is_negative() ? Decimal() : v.number.RoundHalfUp(2);
  if (IsConstant(benefit)) return absl::StrCat("定额", YuanZh(amount));
  const Calc calc = Compute(benefit, firm, Dim::kYuan);
  std::string s = calc.text;
  if (calc.computed) absl::StrAppend(&s, " = ", YuanZh(v.number));
  if (v.number.is_negative()) absl::StrAppend(&s, ",金额不为负,按0元计");
  absl::StrAppend(&s, ",可获", YuanZh(amount));
  return s;
}

// ---- whole outcomes ---------------------------------------------------------------------------

ConditionsZh ReadConditions(const CompiledPolicy& p, const ChineseRenderer& zh, const FirmEnv& firm) {
  ConditionsZh r;
  bool all_true = true;
  for (size_t i = 0; i < p.conditions.size(); ++i) {
    const Value v = Evaluate(*p.conditions[i], firm);
    if (v.is_false() && r.first_false < 0) r.first_false = static_cast<int>(i);
    if (v.is_unknown()) zh.MissingData(*p.conditions[i], firm, &r.data_needed);
    all_true = all_true && v.is_true();
  }
  if (all_true && p.benefit != nullptr && Evaluate(*p.benefit, firm).is_unknown()) {
    zh.MissingData(*p.benefit, firm, &r.data_needed);
  }
  return r;
}

std::string ExplanationZh(const CompiledPolicy& p, const ChineseRenderer& zh, const FirmEnv& firm,
                          MatchStatus status, const std::optional<Decimal>& benefit) {
  if (!p.ActiveOn(firm.AsOf())) {
    return absl::StrCat("该政策在", FormatDate(firm.AsOf()), "不在有效期内(有效期",
                        p.policy.valid_from().empty() ? "不限" : p.policy.valid_from(), "至",
                        p.policy.valid_to().empty() ? "长期" : p.policy.valid_to(), ")。");
  }
  const ConditionsZh read = ReadConditions(p, zh, firm);
  const std::string amount_line =
      p.benefit != nullptr ? absl::StrCat("计算方法:", zh.Computation(*p.benefit, firm), "。")
                           : (p.policy.benefit_note().empty() ? std::string()
                                                              : absl::StrCat("支持内容:", p.policy.benefit_note(), "。"));
  switch (status) {
    case ELIGIBLE:
      if (p.auto_grant()) {
        return absl::StrCat("贵企业符合全部条件,无需申请即可享受(免申即享)",
                            benefit ? absl::StrCat(",可获", YuanZh(*benefit)) : "", "。", amount_line);
      }
      return absl::StrCat("贵企业符合全部条件,可按规定申报",
                          benefit ? absl::StrCat(",预计可获", YuanZh(*benefit)) : "", "。", amount_line);
    case NEAR_MISS:
      if (read.first_false >= 0) {
        return absl::StrCat("贵企业还差一项条件:", zh.ConditionWithFirm(*p.conditions[read.first_false], firm),
                            "。满足后即可", p.auto_grant() ? "享受" : "申报", "。");
      }
      return "贵企业还差一项条件。";
    case UNDETERMINED:
      if (read.data_needed.empty()) return absl::StrCat("现有数据不足以判断或计算金额。", amount_line);
      return absl::StrCat("现有数据不足以判断,请补充:", absl::StrJoin(read.data_needed, "、"), "。");
    case EXCLUDED:
      return absl::StrCat("贵企业符合条件,但同类政策就高不重复,已按金额更高的一项享受",
                          benefit ? absl::StrCat("(本项可获", YuanZh(*benefit), ")") : "", "。");
    case NOT_SELECTED:
      return absl::StrCat("贵企业符合条件,但本政策限", p.policy.limit(), "家,按",
                          p.rank_by != nullptr ? zh.Quantity(*p.rank_by) : std::string("排序规则"),
                          "从高到低排序,贵企业未入选。");
    default:
      if (read.first_false >= 0) {
        return absl::StrCat("贵企业不符合条件:", zh.ConditionWithFirm(*p.conditions[read.first_false], firm),
                            "。");
      }
      return "贵企业不符合条件。";
  }
}

}  // namespace polmatch
