#include "engine/gen/firm_generator.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/ingest/credit_code.h"
#include "engine/util/json_string.h"
#include "engine/util/status_macros.h"

namespace polmatch::gen {
namespace {

constexpr uint64_t kOrgCodes = 852891037441ULL;  // 31^8
constexpr char kCodeAlphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

// GB/T 4754 sections: share of enterprises (法人企业, order of magnitude of the 2018 economic
// census: F and C lead, then L, M, E, I), share doing R&D, words for names.
struct SectionSpec {
  char letter;
  double weight;
  double innovative_share;
  std::vector<std::string> name_words;
};

const std::vector<SectionSpec>& SectionSpecs() {
  static const std::vector<SectionSpec> kSpecs = {
      {'A', 3.0, 0.15, {"农业发展", "生态农业", "农业科技"}},
      {'B', 0.4, 0.20, {"矿业"}},
      {'C', 20.0, 0.70, {"机械", "电子", "新材料", "精密制造", "智能装备", "食品", "化工", "塑胶制品"}},
      {'D', 0.6, 0.30, {"新能源", "能源", "电力工程"}},
      {'E', 6.0, 0.25, {"建设工程", "建筑工程", "装饰工程"}},
      {'F', 28.0, 0.22, {"贸易", "商贸", "供应链管理", "实业"}},
      {'G', 3.0, 0.15, {"物流", "运输", "仓储服务"}},
      {'H', 2.5, 0.04, {"餐饮管理", "酒店管理"}},
      {'I', 6.0, 0.85, {"信息技术", "网络科技", "软件", "数据科技"}},
      {'J', 1.0, 0.15, {"投资管理", "融资租赁"}},
      {'K', 3.0, 0.04, {"房地产开发", "物业管理"}},
      {'L', 12.0, 0.22, {"商务咨询", "企业管理", "人力资源"}},
      {'M', 8.0, 0.85, {"科技", "技术服务", "检测技术", "工程设计"}},
      {'N', 1.0, 0.30, {"环境工程", "环保科技"}},
      {'O', 3.0, 0.04, {"家政服务", "汽车维修"}},
      {'P', 0.5, 0.15, {"教育科技", "培训服务"}},
      {'Q', 0.4, 0.30, {"健康管理", "医疗科技"}},
      {'R', 2.0, 0.10, {"文化传媒", "体育发展"}},
      {'S', 0.1, 0.02, {"社会服务"}},
  };
  return kSpecs;
}

// Divisions heavier than the default weight 1 within their section.
double DivisionWeight(const std::string& division) {
  static const std::pair<const char*, double> kWeights[] = {
      {"C13", 3}, {"C14", 2}, {"C16", 0.05}, {"C17", 2}, {"C18", 3}, {"C19", 1.5}, {"C21", 2},
      {"C23", 2}, {"C25", 0.3}, {"C26", 3}, {"C27", 1.5}, {"C28", 0.3}, {"C29", 4}, {"C30", 4},
      {"C31", 0.8}, {"C33", 6}, {"C34", 5}, {"C35", 4}, {"C36", 2}, {"C37", 0.8}, {"C38", 5},
      {"C39", 5}, {"C40", 1.5}, {"C42", 0.3}, {"C43", 0.5}, {"F51", 6}, {"F52", 4}, {"I63", 0.5},
      {"I64", 3}, {"I65", 6}, {"M73", 1}, {"M74", 3}, {"M75", 6}, {"L71", 1}, {"L72", 9}};
  for (const auto& [code, w] : kWeights) {
    if (division == code) return w;
  }
  return 1.0;
}

// 字号 characters: two make a trade name.
constexpr const char* kTradeNameChars[] = {
    "华", "宏", "盛", "鑫", "达", "通", "源", "泰", "恒", "兴", "瑞", "丰", "创", "新", "联",
    "合", "金", "银", "远", "航", "明", "嘉", "信", "诚", "德", "安", "康", "永", "佳", "美",
    "润", "星", "宇", "海", "天", "龙", "凤", "博", "雅", "智", "慧", "科", "锐", "中", "鼎",
    "晟", "昌", "隆", "裕", "祥", "和", "福", "顺", "利", "正", "大", "东", "南", "北", "方",
    "圆", "志", "立", "群", "辉", "腾", "飞", "越", "卓", "峰", "汇", "聚", "朗", "晨", "启",
    "佰", "亿", "万", "家", "力"};

// Every tag and fact id written; Create checks the tag library has them.
constexpr const char* kTagIds[] = {
    "qual.hitech", "qual.hitech_reserve", "qual.sme_tech", "qual.specialized", "stat.above_scale",
    "credit.blacklist", "credit.abnormal", "credit.integrity_list", "park.hitech_zone",
    "org.new_rd_institution.public_interest", "org.new_rd_institution.enterprise",
    "org.academician_workstation", "org.academician_workstation.provincial_expert",
    "org.academician_workstation.haizhi", "org.incubator", "org.maker_space",
    "org.eng_center.city", "org.eng_center.province", "org.eng_center.national",
    "org.key_lab.city", "org.key_lab.province", "org.key_lab.national", "org.public_platform",
    "org.tech_transfer", "org.tech_commissioner_station", "proj.sci_award", "proj.sci_plan",
    "proj.sci_plan.national_lead", "fin.vc_subfund", "fin.kedandai_repaid", "field.new_materials"};
constexpr const char* kFactIds[] = {
    "revenue", "revenue_last_year", "employees", "tax_paid", "total_assets", "total_cost",
    "rd_expense", "rd_expense_3y", "revenue_3y", "hitech_product_revenue", "tech_staff",
    "invention_patents", "ip_class2", "new_rd_equipment_investment", "tech_service_fees",
    "instrument_sharing_fees", "local_tech_contract_amount", "provincial_support",
    "platform_equipment_investment"};

// Platforms and institutions: rate among innovative firms, where the record comes from.
struct OrgTag {
  const char* id;
  double rate;
  const char* source;
};
constexpr OrgTag kOrgTags[] = {
    {"org.new_rd_institution.enterprise", 0.003, "省科技厅新型研发机构备案"},
    {"org.new_rd_institution.public_interest", 0.001, "省科技厅新型研发机构备案"},
    {"org.academician_workstation", 0.002, "省科协院士工作站名单"},
    {"org.academician_workstation.provincial_expert", 0.002, "省科协专家工作站名单"},
    {"org.academician_workstation.haizhi", 0.0005, "省科协海智计划工作站名单"},
    {"org.incubator", 0.001, "科技企业孵化器认定名单"},
    {"org.maker_space", 0.002, "众创空间备案名单"},
    {"org.eng_center.city", 0.010, "市科技局工程技术研究中心名单"},
    {"org.eng_center.province", 0.004, "省科技厅工程技术研究中心名单"},
    {"org.eng_center.national", 0.0003, "科技部国家工程技术研究中心名单"},
    {"org.key_lab.city", 0.003, "市科技局重点实验室名单"},
    {"org.key_lab.province", 0.0015, "省科技厅重点实验室名单"},
    {"org.key_lab.national", 0.0001, "科技部重点实验室名单"},
    {"org.public_platform", 0.001, "产业发展公共平台认定名单"},
    {"org.tech_transfer", 0.001, "技术转移示范机构名单"},
    {"org.tech_commissioner_station", 0.0005, "科技特派员工作站名单"},
    {"proj.sci_award", 0.005, "科技成果奖励库"},
    {"fin.vc_subfund", 0.005, "创投子基金投资企业库"},
};

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

void AppendDate(absl::CivilDay d, std::string* out) {
  char buf[10];
  int64_t y = d.year();
  buf[0] = static_cast<char>('0' + y / 1000 % 10);
  buf[1] = static_cast<char>('0' + y / 100 % 10);
  buf[2] = static_cast<char>('0' + y / 10 % 10);
  buf[3] = static_cast<char>('0' + y % 10);
  buf[4] = '-';
  buf[5] = static_cast<char>('0' + d.month() / 10);
  buf[6] = static_cast<char>('0' + d.month() % 10);
  buf[7] = '-';
  buf[8] = static_cast<char>('0' + d.day() / 10);
  buf[9] = static_cast<char>('0' + d.day() % 10);
  out->append(buf, 10);
}

// Whole yuan amount of `yuan`, in fen precision: "1234567.89".
int64_t ToFen(double yuan) {
  yuan = std::min(std::max(yuan, 0.0), 9.0e11);
  return static_cast<int64_t>(yuan * 100.0 + 0.5);
}

class FactWriter {
 public:
  explicit FactWriter(std::string* out) : out_(out) {}
  void Fen(const char* id, int64_t fen) {
    Key(id);
    absl::StrAppend(out_, fen / 100, ".");
    const int cents = static_cast<int>(fen % 100);
    out_->push_back(static_cast<char>('0' + cents / 10));
    out_->push_back(static_cast<char>('0' + cents % 10));
    out_->push_back('"');
  }
  void Yuan(const char* id, double yuan) { Fen(id, ToFen(yuan)); }
  void Count(const char* id, int64_t n) {
    Key(id);
    absl::StrAppend(out_, n, "\"");
  }
  void Close() {
    if (any_) out_->push_back('}');
  }

 private:
  void Key(const char* id) {
    out_->append(any_ ? ",\"" : ",\"facts\":{\"");
    any_ = true;
    out_->append(id);
    out_->append("\":\"");
  }
  std::string* out_;
  bool any_ = false;
};

}  // namespace

absl::StatusOr<FirmGenerator> FirmGenerator::Create(const Taxonomy& taxonomy,
                                                    const GenOptions& options) {
  for (const char* id : kTagIds) {
    if (!taxonomy.FindTag(id)) {
      return absl::FailedPreconditionError(
          absl::StrCat("the tag library has no tag \"", id, "\", which the generator writes"));
    }
  }
  for (const char* id : kFactIds) {
    if (!taxonomy.FindFact(id)) {
      return absl::FailedPreconditionError(
          absl::StrCat("the tag library has no fact \"", id, "\", which the generator writes"));
    }
  }
  ASSIGN_OR_RETURN(Geography geo,
                   Geography::Build(taxonomy, options.regions.empty() ? DefaultRegions()
                                                                      : options.regions));
  if (geo.cities().empty()) return absl::InvalidArgumentError("no region to generate firms in");
  FirmGenerator gen(options, std::move(geo));

  const std::vector<std::string> industry_codes = taxonomy.IndustryCodes();
  std::vector<double> section_weights;
  for (const SectionSpec& spec : SectionSpecs()) {
    Section section;
    section.letter = spec.letter;
    section.innovative_share = spec.innovative_share;
    section.name_words = spec.name_words;
    std::vector<double> division_weights;
    for (const std::string& code : industry_codes) {
      if (code.size() != 3 || code[0] != spec.letter) continue;
      // The finest listed codes under the division: classes, else groups, else itself.
      std::vector<std::string> finest;
      for (size_t len : {5u, 4u}) {
        for (const std::string& c : industry_codes) {
          if (c.size() == len && c.compare(0, 3, code) == 0) finest.push_back(c);
        }
        if (!finest.empty()) break;
      }
      if (finest.empty()) finest.push_back(code);
      section.division_codes.push_back(std::move(finest));
      division_weights.push_back(DivisionWeight(code));
    }
    if (section.division_codes.empty()) continue;  // section not in the tag library
    section.division_cumulative = Cumulative(division_weights);
    gen.sections_.push_back(std::move(section));
    section_weights.push_back(spec.weight);
  }
  if (gen.sections_.empty()) {
    return absl::FailedPreconditionError("the tag library lists no GB/T 4754 divisions");
  }
  gen.section_cumulative_ = Cumulative(section_weights);

  gen.first_founding_day_ = absl::CivilDay(options.as_of.year() - 30, 1, 1);
  gen.founding_span_days_ = options.as_of - gen.first_founding_day_ + 1;
  // Organisation codes: an affine bijection of the firm's index modulo 31^8, so codes are unique
  // and look scattered. The multiplier must be coprime with 31.
  uint64_t mix = SplitMix64(options.seed);
  gen.code_multiplier_ = (0x9E3779B97F4A7C15ULL % kOrgCodes) | 1;
  if (gen.code_multiplier_ % 31 == 0) gen.code_multiplier_ += 2;
  gen.code_offset_ = mix % kOrgCodes;
  return gen;
}

void FirmGenerator::AppendCreditCode(const std::string& county, std::string* out) {
  const uint64_t n = static_cast<uint64_t>(
      (static_cast<unsigned __int128>(static_cast<uint64_t>(next_)) * code_multiplier_ +
       code_offset_) % kOrgCodes);
  char code[18];
  code[0] = '9';  // registered by 市场监管 (工商)
  code[1] = '1';  // 企业
  std::copy(county.begin(), county.end(), code + 2);
  // GB 11714 organisation code: 8 body characters and a check character.
  static constexpr int kWeights[8] = {3, 7, 9, 10, 5, 8, 4, 2};
  uint64_t v = n;
  int sum = 0;
  for (int i = 7; i >= 0; --i) {
    char c = kCodeAlphabet[v % 31];
    v /= 31;
    code[8 + i] = c;
    const int value = c <= '9' ? c - '0' : c - 'A' + 10;
    sum += value * kWeights[i];
  }
  const int check = 11 - sum % 11;
  code[16] = check == 10 ? 'X' : check == 11 ? '0' : static_cast<char>('0' + check);
  code[17] = *CreditCodeCheckChar(absl::string_view(code, 17));
  out->append(code, 18);
}

void FirmGenerator::AppendTag(const char* id, const char* source,
                              std::optional<absl::CivilDay> from,
                              std::optional<absl::CivilDay> to, std::string* out) {
  out->append(any_tag_ ? ",{\"id\":\"" : ",\"tags\":[{\"id\":\"");
  any_tag_ = true;
  out->append(id);
  out->push_back('"');
  if (from) {
    out->append(",\"valid_from\":\"");
    AppendDate(*from, out);
    out->push_back('"');
  }
  if (to) {
    out->append(",\"valid_to\":\"");
    AppendDate(*to, out);
    out->push_back('"');
  }
  out->append(",\"source\":\"");
  out->append(source);
  out->append("\"}");
}

void FirmGenerator::AppendNext(std::string* out) {
  GenRandom& rng = rng_;
  const absl::CivilDay as_of = options_.as_of;
  const int64_t year = as_of.year();

  // Where and what.
  const GenCity& city = geo_.cities()[rng.Pick(geo_.firm_city_cumulative())];
  const GenCounty& county = city.counties[rng.Pick(city.county_cumulative)];
  const Section& section = sections_[rng.Pick(section_cumulative_)];
  const std::vector<std::string>& division =
      section.division_codes[rng.Pick(section.division_cumulative)];
  const std::string& industry = division[rng.Below(division.size())];

  // Founded: density growing e^(3t) over the 30-year window (most surviving firms are young).
  constexpr double kGrowth = 3.0;
  const double t = std::log1p(rng.Uniform() * std::expm1(kGrowth)) / kGrowth;
  const int64_t founded_offset = std::min<int64_t>(
      static_cast<int64_t>(t * static_cast<double>(founding_span_days_)), founding_span_days_ - 1);
  const absl::CivilDay founded = first_founding_day_ + founded_offset;
  const double age = static_cast<double>(as_of - founded) / 365.25;

  // Size: one latent factor drives employees and revenue; older firms are somewhat bigger.
  const double size = rng.Normal() + 0.25 * (std::log1p(age) - std::log(7.0));
  const double employees_real =
      std::max(1.0, std::round(15.0 * std::exp(1.1 * (0.8 * size + 0.6 * rng.Normal()))));
  double revenue_real = 3.0e6 * std::exp(1.4 * (0.8 * size + 0.6 * rng.Normal()));
  if (age < 1.0) revenue_real *= std::max(0.05, age);  // part of a year in business
  const double size_boost = std::min(3.0, std::max(0.3, std::exp(0.5 * size)));

  const bool innovative = rng.Bernoulli(section.innovative_share);
  const bool manufacturing = section.letter == 'C';

  // Line head.
  out->append("{\"credit_code\":\"");
  AppendCreditCode(county.code, out);
  out->append("\",\"name\":\"");
  AppendJsonEscaped(city.display_name.empty() ? county.name : city.display_name, out);
  out->append(kTradeNameChars[rng.Below(std::size(kTradeNameChars))]);
  out->append(kTradeNameChars[rng.Below(std::size(kTradeNameChars))]);
  out->append(section.name_words[rng.Below(section.name_words.size())]);
  out->append(size > 1.8 && rng.Bernoulli(0.4) ? "股份有限公司" : "有限公司");
  out->append("\",\"region\":\"");
  out->append(county.code);
  out->append("\",\"industry\":\"");
  out->append(industry);
  out->append("\",\"founded\":\"");
  AppendDate(founded, out);
  out->push_back('"');

  // Qualifications first (they shape the R&D facts).
  const absl::CivilDay eligible_from = founded + 365;  // most recognitions need a year of trading
  auto in_window = [&](absl::CivilDay d) { return d >= eligible_from && d <= as_of; };
  std::optional<absl::CivilDay> hitech_from;
  if (innovative && rng.Bernoulli(0.066 * size_boost)) {
    // Certificates are issued October–December and last three years; a 2021 one has lapsed.
    static const std::vector<double> kYearCumulative = Cumulative({0.15, 0.28, 0.28, 0.29});
    const int64_t y = year - 4 + static_cast<int64_t>(rng.Pick(kYearCumulative));
    const absl::CivilDay from = absl::CivilDay(y, 10, 1) + rng.Between(0, 91);
    if (in_window(from)) hitech_from = from;
  }
  // Tags are decided before the facts (which depend on them) but written after them.
  std::string& tag_out = tag_buffer_;
  tag_out.clear();
  any_tag_ = false;
  if (hitech_from) {
    AppendTag("qual.hitech", "省科技厅高新技术企业认定名单", hitech_from,
              absl::CivilDay(hitech_from->year() + 3, hitech_from->month(), hitech_from->day()) - 1,
              &tag_out);
  }
  const bool hitech = hitech_from.has_value();
  if (innovative && !hitech && rng.Bernoulli(0.03)) {
    const absl::CivilDay from = absl::CivilDay(year - 3 + rng.Between(0, 2), 6, 1) + rng.Between(0, 120);
    if (in_window(from)) {
      AppendTag("qual.hitech_reserve", "市科技局高企后备库",
                from, absl::CivilDay(from.year() + 2, from.month(), from.day()) - 1, &tag_out);
    }
  }
  bool sme_tech = false;
  if (innovative && employees_real <= 500 && revenue_real <= 2.0e8 && rng.Bernoulli(0.11)) {
    // 科技型中小企业 入库 for one calendar year; last year's entries have lapsed.
    const int64_t y = rng.Bernoulli(0.75) ? year : year - 1;
    absl::CivilDay from = absl::CivilDay(y, 3, 1) + rng.Between(0, 150);
    if (from > as_of) from = as_of - rng.Between(0, 30);
    if (from >= founded + 90 && from <= as_of) {
      AppendTag("qual.sme_tech", "科技型中小企业评价服务平台", from, absl::CivilDay(from.year(), 12, 31),
                &tag_out);
      sme_tech = true;
    }
  }
  bool specialized = false;
  if (innovative && employees_real >= 10 &&
      rng.Bernoulli((manufacturing ? 0.065 : 0.022) * size_boost)) {
    static const std::vector<double> kYearCumulative = Cumulative({0.15, 0.28, 0.28, 0.29});
    const int64_t y = year - 4 + static_cast<int64_t>(rng.Pick(kYearCumulative));
    const absl::CivilDay from = absl::CivilDay(y, 7, 1) + rng.Between(0, 91);
    if (in_window(from)) {
      AppendTag("qual.specialized", "省工信厅专精特新中小企业名单", from,
                absl::CivilDay(from.year() + 3, from.month(), from.day()) - 1, &tag_out);
      specialized = true;
    }
  }
  if (revenue_real >= 2.0e7 && rng.Bernoulli(0.75)) {
    AppendTag("stat.above_scale", "统计联网直报平台", std::nullopt, std::nullopt, &tag_out);
  }
  if (rng.Bernoulli(0.03)) {
    const absl::CivilDay from = std::max(founded, as_of - rng.Between(30, 1800));
    std::optional<absl::CivilDay> to;
    if (rng.Bernoulli(0.5)) to = absl::CivilDay(from.year() + 3, from.month(), from.day()) - 1;
    AppendTag("credit.blacklist", "信用中国", from, to, &tag_out);
  }
  if (rng.Bernoulli(0.05)) {
    const absl::CivilDay from = std::max(founded, as_of - rng.Between(0, 2500));
    std::optional<absl::CivilDay> to;
    if (rng.Bernoulli(0.15)) to = std::min(as_of, from + rng.Between(30, 700));
    AppendTag("credit.abnormal", "国家企业信用信息公示系统", from, to, &tag_out);
  }
  if (rng.Bernoulli(0.02)) {
    const int64_t y = year - rng.Between(0, 1);
    AppendTag("credit.integrity_list", "市场监管局诚信名录", std::max(founded, absl::CivilDay(y, 1, 1)),
              absl::CivilDay(y + 1, 12, 31), &tag_out);
  }
  if (rng.Bernoulli(innovative ? 0.06 : 0.012)) {
    AppendTag("park.hitech_zone", "高新区管委会", founded, std::nullopt, &tag_out);
  }
  bool public_platform = false;
  bool new_rd_institution = false;
  if (innovative) {
    for (const OrgTag& org : kOrgTags) {
      if (!rng.Bernoulli(org.rate * size_boost)) continue;
      const absl::CivilDay from = std::max(eligible_from, as_of - rng.Between(0, 3000));
      if (from > as_of) continue;
      AppendTag(org.id, org.source, from, std::nullopt, &tag_out);
      public_platform = public_platform || absl::StartsWith(org.id, "org.public_platform");
      new_rd_institution = new_rd_institution || absl::StartsWith(org.id, "org.new_rd_institution");
    }
    if (rng.Bernoulli(0.015 * size_boost)) {
      const int64_t y = year - rng.Between(0, 3);
      const char* id = rng.Bernoulli(0.03) ? "proj.sci_plan.national_lead" : "proj.sci_plan";
      const absl::CivilDay from = std::max(founded, absl::CivilDay(y, 1, 1));
      const absl::CivilDay to(y + 2, 12, 31);  // a three-year project
      if (from <= to) AppendTag(id, "科技计划项目承担企业库", from, to, &tag_out);
    }
    if (rng.Bernoulli(0.008)) {
      const int64_t y = year - rng.Between(0, 1);
      AppendTag("fin.kedandai_repaid", "市地方金融监管局科担贷名单",
                std::max(founded, absl::CivilDay(y, 1, 1)), absl::CivilDay(y + 1, 12, 31), &tag_out);
    }
    if (manufacturing && rng.Bernoulli(0.02)) {
      AppendTag("field.new_materials", "省工信厅新材料企业名录", std::nullopt, std::nullopt, &tag_out);
    }
  }
  if (any_tag_) tag_out.push_back(']');

  // Facts: each known with probability 0.9 (a missing fact is unknown, not zero).
  FactWriter facts(out);
  auto known = [&] { return !rng.Bernoulli(0.10); };
  const double growth = std::exp(0.06 + 0.25 * rng.Normal());
  if (known()) facts.Yuan("revenue", revenue_real);
  const bool traded_last_year = age >= 1.5;
  const double revenue_last_year = revenue_real / growth;
  if (traded_last_year && known()) facts.Yuan("revenue_last_year", revenue_last_year);
  if (known()) facts.Count("employees", static_cast<int64_t>(employees_real));
  const double tax_rate = std::min(0.25, 0.03 * std::exp(0.6 * rng.Normal()));
  if (known()) facts.Yuan("tax_paid", revenue_real * tax_rate);
  if (rng.Bernoulli(0.6)) facts.Yuan("total_assets", revenue_real * rng.LogNormal(1.2, 0.5));
  if (rng.Bernoulli(0.5)) facts.Yuan("total_cost", revenue_real * (0.8 + 0.25 * rng.Uniform()));
  const bool qualified = hitech || specialized || sme_tech;
  if (innovative) {
    const double rd_ratio =
        std::min(0.6, (hitech ? 0.06 : 0.035) * std::exp(0.7 * rng.Normal()));
    const double rd = revenue_real * rd_ratio;
    if (known()) facts.Yuan("rd_expense", rd);
    const double years = std::min(3.0, age);
    const double revenue_3y = revenue_real + (years > 1 ? revenue_last_year : 0) +
                              (years > 2 ? revenue_last_year / growth : 0);
    if (age >= 1.0 && known()) facts.Yuan("rd_expense_3y", revenue_3y * rd_ratio);
    if (age >= 1.0 && known()) facts.Yuan("revenue_3y", revenue_3y);
    if (hitech && known()) {
      facts.Yuan("hitech_product_revenue", revenue_real * (0.6 + 0.35 * rng.Uniform()));
    }
    if (known()) {
      facts.Count("tech_staff", static_cast<int64_t>(std::min(
                                    employees_real, std::round(employees_real * rng.LogNormal(0.15, 0.5)))));
    }
  }
  if (known()) {
    int64_t patents = 0;
    if (innovative) {
      patents = rng.Bernoulli(qualified ? 0.8 : 0.35) ? 1 + rng.Geometric((qualified ? 4.0 : 1.5) * size_boost) : 0;
    } else if (rng.Bernoulli(0.03)) {
      patents = 1 + rng.Geometric(0.5);
    }
    facts.Count("invention_patents", patents);
  }
  if (innovative) {
    if (known()) facts.Count("ip_class2", rng.Geometric(qualified ? 8.0 : 2.0));
    if (rng.Bernoulli(new_rd_institution ? 0.9 : 0.08)) {
      facts.Yuan("new_rd_equipment_investment", rng.LogNormal(new_rd_institution ? 2.0e6 : 5.0e5, 1.0));
    }
    if (rng.Bernoulli(0.10)) facts.Yuan("tech_service_fees", rng.LogNormal(5.0e4, 1.0));
    if (rng.Bernoulli(0.04)) facts.Yuan("instrument_sharing_fees", rng.LogNormal(3.0e4, 0.9));
    if (rng.Bernoulli(0.04)) facts.Yuan("local_tech_contract_amount", rng.LogNormal(5.0e5, 1.2));
    if ((hitech || specialized) && rng.Bernoulli(0.15)) {
      facts.Yuan("provincial_support", rng.LogNormal(5.0e5, 0.8));
    }
    if (public_platform) facts.Yuan("platform_equipment_investment", rng.LogNormal(3.0e6, 0.8));
  }
  facts.Close();
  out->append(tag_buffer_);
  out->append("}\n");
  ++next_;
}

}  // namespace polmatch::gen
