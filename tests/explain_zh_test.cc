// The Chinese renderer: every operator and function of the rule language (SPEC §3) as a firm
// reads it, with the firm's data, and benefit computations; amounts in 元/万元/亿元.
#include "engine/match/explain_zh.h"

#include "engine/expr/parser.h"
#include "engine/ingest/firm.h"
#include "engine/util/dates.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using testing::MakeFirm;
using testing::MakeProfile;
using testing::RealTaxonomy;

TEST(YuanZhTest, AmountsInYuanWanYi) {
  const auto y = [](const char* s) { return YuanZh(*Decimal::Parse(s)); };
  EXPECT_EQ(y("10000000"), "1,000万元");
  EXPECT_EQ(y("12000000"), "1,200万元");
  EXPECT_EQ(y("2000000.004"), "200万元");
  EXPECT_EQ(y("17400"), "1.74万元");
  EXPECT_EQ(y("150000000"), "1.5亿元");
  EXPECT_EQ(y("1200000000000"), "12,000亿元");
  EXPECT_EQ(y("12345678"), "12,345,678元");
  EXPECT_EQ(y("17434.68"), "17,434.68元");
  EXPECT_EQ(y("17434.6"), "17,434.60元");
  EXPECT_EQ(y("500"), "500元");
  EXPECT_EQ(y("0"), "0元");
  EXPECT_EQ(y("-20000"), "-2万元");
  EXPECT_EQ(PercentZh(*Decimal::Parse("0.2")), "20%");
  EXPECT_EQ(PercentZh(*Decimal::Parse("0.125")), "12.5%");
}

class ExplainZhTest : public ::testing::Test {
 protected:
  ExplainZhTest() : zh_(RealTaxonomy()) {
    profile_ = MakeProfile("441502", 1, "I6513", "2020-03-15");
    auto& f = *profile_.mutable_facts();
    f["revenue"] = "12000000";
    f["revenue_last_year"] = "10000000";
    f["employees"] = "100";
    f["tech_staff"] = "8";
    f["ip_class2"] = "3";
    f["new_rd_equipment_investment"] = "15000000";
    f["provincial_support"] = "400000";
    auto* t = profile_.add_tags();
    t->set_id("qual.hitech");
    t->set_valid_from("2021-01-01");
    t->set_valid_to("2023-12-31");
    profile_.add_tags()->set_id("org.new_rd_institution.public_interest");
  }
  std::unique_ptr<Node> Compile(const std::string& src, Type type) {
    ExprError err;
    auto n = CompileExpr(src, RealTaxonomy(), type, &err);
    EXPECT_TRUE(n.ok()) << src << ": " << err.message;
    return n.ok() ? std::move(*n) : nullptr;
  }
  // The condition alone, and with the firm's data.
  std::string Cond(const std::string& src) {
    auto n = Compile(src, Type::kBool);
    return n ? zh_.Condition(*n) : "";
  }
  std::string WithFirm(const std::string& src) {
    auto n = Compile(src, Type::kBool);
    if (!n) return "";
    firm_ = MakeFirm(profile_);
    return zh_.ConditionWithFirm(*n, FirmView(firm_, RealTaxonomy(), *ParseDate("2023-06-30")));
  }
  std::string Computation(const std::string& src) {
    auto n = Compile(src, Type::kNumber);
    if (!n) return "";
    firm_ = MakeFirm(profile_);
    return zh_.Computation(*n, FirmView(firm_, RealTaxonomy(), *ParseDate("2023-06-30")));
  }
  ChineseRenderer zh_;
  FirmProfile profile_;
  Firm firm_;
};

TEST_F(ExplainZhTest, ComparisonsOfFacts) {
  EXPECT_EQ(WithFirm("revenue >= 1000万"), "年营业收入不低于1,000万元(贵企业:1,200万元)");
  EXPECT_EQ(Cond("revenue > 1000万"), "年营业收入高于1,000万元");
  EXPECT_EQ(Cond("revenue <= 2亿"), "年营业收入不超过2亿元");
  EXPECT_EQ(Cond("revenue < 5000万元"), "年营业收入低于5,000万元");
  EXPECT_EQ(Cond("revenue == 0"), "年营业收入等于0元");
  EXPECT_EQ(Cond("revenue != 0"), "年营业收入不等于0元");
  EXPECT_EQ(Cond("1000万 <= revenue"), "年营业收入不低于1,000万元");
  EXPECT_EQ(Cond("employees >= 10"), "从业人数不少于10人");
  EXPECT_EQ(Cond("employees > 10"), "从业人数多于10人");
  EXPECT_EQ(Cond("employees < 10"), "从业人数少于10人");
  EXPECT_EQ(Cond("invention_patents >= 1"), "有效发明专利数不少于1项");
  EXPECT_EQ(Cond("营业收入 >= 1000万"), "年营业收入不低于1,000万元");  // a Chinese alias
  EXPECT_EQ(WithFirm("rd_expense > 0"), "研发费用高于0元(贵企业:暂无数据)");
  EXPECT_EQ(WithFirm("revenue > revenue_last_year"),
            "年营业收入高于上年营业收入(贵企业:年营业收入1,200万元,上年营业收入1,000万元,即须高于1,000万元)");
}

TEST_F(ExplainZhTest, ArithmeticAndFunctions) {
  EXPECT_EQ(WithFirm("tech_staff >= employees * 10%"),
            "科技人员数不少于从业人数的10%(贵企业:科技人员数8人,从业人数100人,即须不少于10人)");
  EXPECT_EQ(Cond("revenue - revenue_last_year >= 100万"), "年营业收入 − 上年营业收入不低于100万元");
  EXPECT_EQ(Cond("revenue + tax_paid >= 100万"), "年营业收入 + 纳税额不低于100万元");
  EXPECT_EQ(Cond("revenue / 2 >= 100万"), "年营业收入 ÷ 2不低于100万元");
  EXPECT_EQ(Cond("revenue * 2 >= 100万"), "年营业收入 × 2不低于100万元");
  EXPECT_EQ(Cond("-revenue < 0"), "负年营业收入低于0元");
  EXPECT_EQ(Cond("(revenue - revenue_last_year) / revenue_last_year >= 20%"),
            "年营业收入较上年营业收入的增长率不低于20%");
  EXPECT_EQ(Cond("tech_staff / employees >= 10%"), "科技人员数占从业人数的比例不低于10%");
  EXPECT_EQ(Cond("abs(revenue - revenue_last_year) <= 100万"),
            "(年营业收入 − 上年营业收入)的绝对值不超过100万元");
  EXPECT_EQ(Cond("min(revenue, tax_paid) >= 50万"), "年营业收入与纳税额中的较小者不低于50万元");
  EXPECT_EQ(Cond("max(revenue, tax_paid) >= 50万"), "年营业收入与纳税额中的较大者不低于50万元");
  EXPECT_EQ(Cond("rd_expense_3y >= revenue_3y * if(revenue <= 5000万, 5%, if(revenue <= 2亿, 4%, 3%))"),
            "近三年研究开发费用总额不低于近三年销售收入总额 × (若年营业收入不超过5,000万元为5%,"
            "否则为若年营业收入不超过2亿元为4%,否则为3%)");
  EXPECT_EQ(Cond("tier(tech_staff / employees, 10%, 4, 15%, 8) >= 4"),
            "按科技人员数占从业人数的比例分档(达到10%为4,达到15%为8,不足最低档为0)不低于4");
  EXPECT_EQ(Cond("tier(revenue, 100万, 10, 500万, 20) >= 10"),
            "按年营业收入分档(达到100万元为10,达到500万元为20,不足最低档为0)不低于10");
  EXPECT_EQ(Cond("has_fact(total_cost)"), "已提供成本费用支出总额数据");
  EXPECT_EQ(Cond("not has_fact(total_cost)"), "未提供成本费用支出总额数据");
}

TEST_F(ExplainZhTest, DatesAndValidity) {
  EXPECT_EQ(WithFirm("years_between(founded, as_of) >= 1"), "成立满1年(贵企业:成立于2020-03-15,已成立3年)");
  EXPECT_EQ(Cond("years_between(founded, as_of) < 3"), "成立不满3年");
  EXPECT_EQ(Cond("not (years_between(founded, as_of) >= 3)"), "成立不满3年");
  EXPECT_EQ(Cond("years_between(founded, date(\"2024-01-01\")) > 2"),
            "成立日期至2024-01-01的整年数多于2年");
  EXPECT_EQ(Cond("days_between(founded, as_of) >= 365"), "成立日期至评估日的天数不少于365天");
  EXPECT_EQ(Cond("founded >= date(\"2020-01-01\")"), "成立日期不早于2020-01-01");
  EXPECT_EQ(Cond("founded < date(\"2020-01-01\")"), "成立日期早于2020-01-01");
  EXPECT_EQ(Cond("founded <= as_of"), "成立日期不晚于评估日");
  EXPECT_EQ(Cond("founded > date(\"2020-01-01\")"), "成立日期晚于2020-01-01");
  EXPECT_EQ(Cond("valid_to(qual.hitech) >= as_of"), "高新技术企业资格有效期截止日不早于评估日");
  EXPECT_EQ(Cond("valid_from(qual.hitech) <= date(\"2022-01-01\")"),
            "高新技术企业资格生效日不晚于2022-01-01");
}

TEST_F(ExplainZhTest, TagsWithTheirPhrasesAndValidity) {
  EXPECT_EQ(WithFirm("qual.sme_tech"), "已入库科技型中小企业(贵企业:未入库)");
  EXPECT_EQ(WithFirm("qual.hitech"), "已认定高新技术企业(贵企业:已认定,有效期2021-01-01至2023-12-31)");
  EXPECT_EQ(WithFirm("高企"), "已认定高新技术企业(贵企业:已认定,有效期2021-01-01至2023-12-31)");
  EXPECT_EQ(WithFirm("not credit.blacklist"), "未被列入失信联合惩戒黑名单(贵企业:未被列入)");
  EXPECT_EQ(WithFirm("!credit.abnormal"), "未被列入经营异常名录(贵企业:未被列入)");
  // No phrase in the tag library: 属于 / 不属于, and the firm's 是 / 否.
  EXPECT_EQ(WithFirm("stat.above_scale"), "属于规模以上企业(贵企业:否)");
  EXPECT_EQ(Cond("not park.hitech_zone"), "不属于高新区园区企业");
  // Holding a child tag holds the parent.
  EXPECT_EQ(WithFirm("org.new_rd_institution"), "已认定新型研发机构(贵企业:已认定)");
  EXPECT_EQ(Cond("true"), "无条件满足");
  EXPECT_EQ(Cond("false"), "不可满足");
  EXPECT_EQ(Cond("qual.hitech == true"), "已认定高新技术企业");
  EXPECT_EQ(Cond("qual.hitech != true"), "未认定高新技术企业");
}

TEST_F(ExplainZhTest, OrAsOneOfAndNotAsNotIn) {
  EXPECT_EQ(WithFirm("proj.sci_award or qual.sme_tech or qual.hitech"),
            "属于科技成果奖励获奖企业、科技型中小企业、高新技术企业之一"
            "(贵企业:已认定高新技术企业(有效期2021-01-01至2023-12-31))");
  EXPECT_EQ(WithFirm("qual.sme_tech || qual.hitech_reserve"),
            "属于科技型中小企业、高新技术后备企业之一(贵企业:以上均不具备)");
  EXPECT_EQ(WithFirm("invention_patents >= 1 or ip_class2 >= 1"),
            "满足以下之一:有效发明专利数不少于1项;二类知识产权数不少于1项"
            "(贵企业:有效发明专利数暂无数据,二类知识产权数3项)");
  EXPECT_EQ(Cond("qual.hitech and revenue > 0"), "已认定高新技术企业,且年营业收入高于0元");
  EXPECT_EQ(Cond("qual.hitech && revenue > 0"), "已认定高新技术企业,且年营业收入高于0元");
  EXPECT_EQ(Cond("not (qual.hitech and revenue > 0)"),
            "满足以下之一:未认定高新技术企业;年营业收入不超过0元");
  EXPECT_EQ(Cond("not (qual.hitech or revenue > 0)"), "未认定高新技术企业,且年营业收入不超过0元");
  EXPECT_EQ(Cond("not (credit.blacklist or credit.abnormal)"),
            "不属于失信联合惩戒黑名单、经营异常名录中的任何一类");
  EXPECT_EQ(WithFirm("not (industry under \"C16\" or industry under \"H\")"),
            "不属于烟草制品业、住宿和餐饮业(贵企业:应用软件开发)");
  EXPECT_EQ(Cond("industry under \"C16\" or industry under \"H\""), "属于烟草制品业、住宿和餐饮业之一");
  EXPECT_EQ(Cond("not not qual.hitech"), "已认定高新技术企业");
  EXPECT_EQ(Cond("if(qual.hitech, revenue > 0, revenue > 100万)"),
            "若已认定高新技术企业则须年营业收入高于0元,否则须年营业收入高于100万元");
}

TEST_F(ExplainZhTest, RegionsAndIndustriesByName) {
  EXPECT_EQ(WithFirm("region under \"441500\""), "注册地在汕尾市(贵企业:汕尾市城区)");
  EXPECT_EQ(Cond("region under \"420000\""), "注册地在湖北省");
  EXPECT_EQ(Cond("region under \"110105\""), "注册地在北京市朝阳区");
  EXPECT_EQ(Cond("not (region under \"441500\")"), "注册地不在汕尾市");
  EXPECT_EQ(Cond("region under \"441500\" or region under \"420100\""), "注册地在汕尾市、武汉市之一");
  EXPECT_EQ(Cond("region == \"441502\""), "注册地为汕尾市城区");
  EXPECT_EQ(Cond("region != \"441502\""), "注册地不为汕尾市城区");
  EXPECT_EQ(Cond("region in [\"441502\", \"441521\"]"), "注册地在汕尾市城区、汕尾市海丰县之一");
  EXPECT_EQ(Cond("not (region in [\"441502\"])"), "注册地不在汕尾市城区");
  EXPECT_EQ(WithFirm("industry under \"I\""),
            "属于信息传输、软件和信息技术服务业(贵企业:应用软件开发)");
  EXPECT_EQ(Cond("industry == \"I65\""), "所属行业为软件和信息技术服务业");
  EXPECT_EQ(Cond("industry in [\"I65\", \"C16\"]"), "所属行业为软件和信息技术服务业、烟草制品业之一");
  EXPECT_EQ(Cond("employees in [1, 2]"), "从业人数为1人、2人之一");
  EXPECT_EQ(Cond("not (employees in [1, 2])"), "从业人数不为1人、2人中的任何一个");
}

TEST_F(ExplainZhTest, BenefitComputations) {
  EXPECT_EQ(Computation("min(new_rd_equipment_investment * 20%, "
                        "if(org.new_rd_institution.public_interest, 200万, 100万))"),
            "新增研发仪器设备投资额1,500万元 × 20% = 300万元,已认定公益类新型研发机构,上限200万元,"
            "按上限计,可获200万元");
  profile_.clear_tags();
  EXPECT_EQ(Computation("min(new_rd_equipment_investment * 20%, "
                        "if(org.new_rd_institution.public_interest, 200万, 100万))"),
            "新增研发仪器设备投资额1,500万元 × 20% = 300万元,未认定公益类新型研发机构,上限100万元,"
            "按上限计,可获100万元");
  EXPECT_EQ(Computation("min(provincial_support * 30%, 50万)"),
            "省级扶持资金40万元 × 30% = 12万元,上限50万元,可获12万元");
  EXPECT_EQ(Computation("100万"), "定额100万元");
  EXPECT_EQ(Computation("tier(new_rd_equipment_investment, 100万, 10万, 500万, 50万)"),
            "新增研发仪器设备投资额1,500万元,达到500万元档,得50万元,可获50万元");
  EXPECT_EQ(Computation("tier(provincial_support, 100万, 10万)"),
            "省级扶持资金40万元,未达到最低档,得0元,可获0元");
  EXPECT_EQ(Computation("max(provincial_support * 10%, 5万)"),
            "取省级扶持资金40万元 × 10% = 4万元与5万元中的较大者 = 5万元,可获5万元");
  EXPECT_EQ(Computation("if(revenue > 1000万, 20万, 10万)"), "年营业收入高于1,000万元,按20万元,可获20万元");
  EXPECT_EQ(Computation("provincial_support - revenue"),
            "省级扶持资金40万元 − 年营业收入1,200万元 = -1,160万元,金额不为负,按0元计,可获0元");
  EXPECT_EQ(Computation("min(tech_service_fees * 5%, 50万)"), "缺少科技服务直接费用,无法计算金额");
  EXPECT_EQ(Computation("revenue / (employees - 100)"), "金额超出计算范围或除数为零,无法计算金额");
}

TEST_F(ExplainZhTest, MissingDataByName) {
  auto n = Compile("rd_expense_3y >= revenue_3y * 3% and years_between(founded, as_of) >= 1 and revenue > 0",
                   Type::kBool);
  profile_.clear_founded();
  firm_ = MakeFirm(profile_);
  std::vector<std::string> names;
  zh_.MissingData(*n, FirmView(firm_, RealTaxonomy(), *ParseDate("2023-06-30")), &names);
  EXPECT_EQ(names, (std::vector<std::string>{"近三年研究开发费用总额", "近三年销售收入总额", "成立日期"}));
}

}  // namespace
}  // namespace polmatch
