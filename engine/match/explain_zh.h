// File: explain_zh.h
//
// The one Chinese renderer: what a firm's staff reads about a policy (SPEC §4 `text_zh` and
// `explanation_zh`, §5 push messages). Conditions, the firm's data behind them and benefit
// computations are written from the tag library's names, units and phrases (TagDef.held_zh /
// not_held_zh), regions and industries by their GB/T 2260 / 4754 names, amounts in 元/万元/亿元
// with thousands separators. Anything without a phrase of its own is written as infix arithmetic
// over Chinese names — never as ids or rule syntax. Deterministic; thread-safe (const).
//
// Example:
//   const ChineseRenderer zh(taxonomy);
//   zh.Condition(node);                     // "年营业收入不低于1,000万元"
//   zh.ConditionWithFirm(node, firm_view);  // "年营业收入不低于1,000万元(贵企业:1,200万元)"
//   zh.Computation(*policy.benefit, view);  // "新增研发仪器设备投资额1,500万元 × 20% = 300万元,
//                                           //  属于公益类新型研发机构,上限200万元,可获200万元"
#ifndef POLMATCH_MATCH_EXPLAIN_ZH_H_
#define POLMATCH_MATCH_EXPLAIN_ZH_H_

#include <optional>
#include <string>
#include <vector>

#include "engine/catalog/catalog.h"
#include "engine/expr/ast.h"
#include "engine/expr/eval.h"
#include "engine/taxonomy/taxonomy.h"
#include "engine/util/decimal.h"
#include "proto/polmatch.pb.h"

namespace polmatch {

// Money for people: "1,200万元", "1.5亿元", "17,434.68元", "500元" (rounded to the fen).
std::string YuanZh(Decimal yuan);
// A ratio as a percentage: 0.2 → "20%", 0.125 → "12.5%".
std::string PercentZh(Decimal ratio);
// A status as a firm reads it: ELIGIBLE → "符合条件", NEAR_MISS → "还差一项条件", …
const char* StatusZh(MatchStatus status);

class ChineseRenderer {
 public:
  explicit ChineseRenderer(const Taxonomy& taxonomy) : tax_(taxonomy) {}

  // A checked boolean expression as a requirement: "已入库科技型中小企业", "注册地在汕尾市".
  std::string Condition(const Node& cond) const;
  // The firm's data the expression reads: "1,200万元" (one fact), "未入库" (one tag),
  // "科技人员数8人,从业人数100人,即须不少于10人"; "" when it reads none.
  std::string FirmData(const Node& cond, const FirmEnv& firm) const;
  // Condition(cond) + "(贵企业:" + FirmData + ")" (without the parenthesis when no data is read).
  std::string ConditionWithFirm(const Node& cond, const FirmEnv& firm) const;
  // A numeric expression as a requirement's quantity: "从业人数的10%".
  std::string Quantity(const Node& expr) const;
  // A benefit computed for the firm, ending in what it may receive:
  // "省级扶持资金40万元 × 30% = 12万元,上限50万元,可获12万元". Unknown: "缺少…,无法计算金额".
  std::string Computation(const Node& benefit, const FirmEnv& firm) const;
  // Appends the Chinese names of the data `expr` reads that the firm lacks (each once, in the
  // order read): facts by name, "成立日期", "所属行业", "注册地".
  void MissingData(const Node& expr, const FirmEnv& firm, std::vector<std::string>* names) const;
  // A region code by name, with its city for a county: "汕尾市", "湖北省", "汕尾市城区".
  std::string RegionName(absl::string_view code) const;
  // An industry code by the name of it or its nearest listed ancestor.
  std::string IndustryName(absl::string_view code) const;

  const Taxonomy& taxonomy() const { return tax_; }

 private:
  enum class Dim { kNone, kFactor, kYuan, kPersons, kCount, kRatio, kYears, kDays };
  struct Calc {
    std::string text;
    Value value;
    bool computed = false;  // text shows an operation whose result is worth stating
  };
  Dim DimOf(const Node& n) const;
  std::string Number(Decimal v, Dim dim) const;
  std::string Expr(const Node& n, Dim ctx, int parent_prec = 0) const;
  std::string Bool(const Node& n, bool negated) const;
  std::string Compare(const Node& lhs, Op op, const Node& rhs) const;
  std::string TagPhrase(TagId tag, bool held) const;
  std::string FirmTag(TagId tag, const FirmEnv& firm, bool alone) const;
  std::string Code(const Node& code_expr, const Node& literal) const;
  Calc Compute(const Node& n, const FirmEnv& firm, Dim ctx) const;

  const Taxonomy& tax_;
};

// The whole outcome of one policy for one firm, in one line (SPEC §4 `explanation_zh`): the
// status, and where there is an amount, how it was computed.
std::string ExplanationZh(const CompiledPolicy& policy, const ChineseRenderer& zh,
                          const FirmEnv& firm, MatchStatus status,
                          const std::optional<Decimal>& benefit);

// The top-level conditions of `policy` that are false for the firm (first_false) and the data
// needed to decide the unknown ones (and the benefit, when eligibility holds but the amount is
// unknown). Shared by explanations and pushes.
struct ConditionsZh {
  int first_false = -1;                  // index into policy.conditions, or -1
  std::vector<std::string> data_needed;  // Chinese names
};
ConditionsZh ReadConditions(const CompiledPolicy& policy, const ChineseRenderer& zh,
                            const FirmEnv& firm);

}  // namespace polmatch

#endif  // POLMATCH_MATCH_EXPLAIN_ZH_H_
