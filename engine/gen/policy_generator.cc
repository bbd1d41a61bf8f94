#include "engine/gen/policy_generator.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/catalog/catalog.h"
#include "engine/gen/geography.h"
#include "engine/gen/random.h"
#include "engine/util/dates.h"
#include "engine/util/status_macros.h"
#include "google/protobuf/text_format.h"

namespace polmatch::gen {
namespace {

// One top-level `and` term, with the slots it fills (a policy never has two terms on one slot,
// e.g. two lower bounds on revenue).
struct Condition {
  std::vector<std::string> slots;
  std::string text;
};

// What a theme contributes to a policy.
struct Draft {
  std::string title;
  std::vector<Condition> conditions;
  std::string benefit;                       // reads only facts bounded by `conditions`
  std::vector<std::string> rank_candidates;  // rank_by expressions that fit the theme
  double limit_rate = 0.06;                  // chance of limit/rank_by when there are candidates
  std::string variant;                       // with `title`: which conditions the benefit fits
};

enum class Level { kNational, kProvince, kCity, kCounty };

struct Scope {
  Level level = Level::kNational;
  std::string code;  // "" for national
  std::string name;  // "湛江市", "湛江市遂溪县", "广东省", ""
};

constexpr int kThemes = 17;
constexpr double kThemeWeights[kThemes] = {10, 4, 12, 8, 8, 6, 6, 3, 5, 5, 4, 4, 4, 3, 2, 2, 1};

class PolicyWriter {
 public:
  PolicyWriter(const Taxonomy& taxonomy, const GenOptions& options, const Geography& geo)
      : tax_(taxonomy), options_(options), geo_(geo), rng_(options.seed ^ 0x706F6C6963696573ULL) {
    const int y = static_cast<int>(options.as_of.year());
    last_year_start_ = absl::StrFormat("date(\"%04d-01-01\")", y - 1);
    for (const std::string& code : taxonomy.IndustryCodes()) {
      if (code.size() == 1) sections_.push_back(code);
      if (code.size() == 3) divisions_.push_back(code);
    }
    std::vector<double> weights;
    for (const std::string& s : sections_) {
      static const std::pair<char, double> kWeights[] = {{'C', 40}, {'I', 15}, {'M', 15}, {'F', 5},
                                                        {'E', 5},  {'A', 5},  {'L', 4},  {'G', 3}};
      double w = 1;
      for (const auto& [letter, weight] : kWeights) {
        if (s[0] == letter) w = weight;
      }
      if (s[0] == 'S' || s[0] == 'T') w = 0;  // public administration, international bodies
      weights.push_back(w);
    }
    section_cumulative_ = Cumulative(weights);
    theme_cumulative_ = Cumulative(std::vector<double>(std::begin(kThemeWeights), std::end(kThemeWeights)));
  }

  void Generate(int count, PolicyCatalog* catalog) {
    int group_serial = 0;
    for (int i = 0; i < count;) {
      const int remaining = count - i;
      if (remaining >= 2 && rng_.Bernoulli(0.045)) {
        const int size = remaining >= 3 && rng_.Bernoulli(0.5) ? 3 : 2;
        const std::string group = absl::StrFormat("gen-group-%04d", ++group_serial);
        const int theme = static_cast<int>(rng_.Pick(theme_cumulative_));
        const Draft base = Theme(theme);
        for (const Scope& scope : GroupScopes(size)) {
          Emit(++i, theme, scope, group, &base, catalog->add_policy());
        }
        continue;
      }
      Emit(++i, static_cast<int>(rng_.Pick(theme_cumulative_)), PickScope(), "", nullptr,
           catalog->add_policy());
    }
  }

 private:
  // --- scopes ---------------------------------------------------------------------------------

  // Only cities with a name of their own issue policies; a 省直辖县级行政区划 placeholder does not.
  static bool IssuesPolicies(const GenCity& city) { return !city.display_name.empty(); }
  Scope CityScope(const GenCity& city) const { return {Level::kCity, city.code, city.display_name}; }
  Scope CountyScope(const GenCity& city, const GenCounty& county) const {
    if (county.code == city.code) return CityScope(city);
    return {Level::kCounty, county.code, absl::StrCat(city.display_name, county.name)};
  }
  Scope ProvinceScope(const std::string& province) const {
    return {Level::kProvince, province, geo_.ProvinceName(province)};
  }
  const GenCity& PickCity() { return geo_.cities()[rng_.Pick(geo_.policy_city_cumulative())]; }

  Scope PickScope() {
    const double u = rng_.Uniform();
    if (u < 0.05) return {};
    if (u < 0.30) return ProvinceScope(geo_.provinces()[rng_.Below(geo_.provinces().size())]);
    const GenCity& city = PickCity();
    const GenCounty& county = city.counties[rng_.Below(city.counties.size())];
    if (u < 0.80 && IssuesPolicies(city)) return CityScope(city);
    return CountyScope(city, county);
  }

  // Nested scopes for one exclusive group, e.g. county ⊂ city ⊂ province (就高不重复).
  std::vector<Scope> GroupScopes(int size) {
    const GenCity& city = PickCity();
    const GenCounty& county = city.counties[rng_.Below(city.counties.size())];
    std::vector<Scope> chain;
    if (county.code != city.code) chain.push_back(CountyScope(city, county));
    if (IssuesPolicies(city)) chain.push_back(CityScope(city));
    chain.push_back(ProvinceScope(city.province));
    chain.push_back(Scope{});
    size_t first = 0;
    if (size == 2 && chain.size() == 4 && rng_.Bernoulli(0.6)) first = 1;  // city + province
    return std::vector<Scope>(chain.begin() + first, chain.begin() + first + size);
  }

  // --- conditions -------------------------------------------------------------------------------

  template <size_t N>
  std::string Pick(const char* const (&items)[N]) {
    return items[rng_.Below(N)];
  }

  std::string IndustryCode() {
    const std::string& section = sections_[rng_.Pick(section_cumulative_)];
    if (rng_.Bernoulli(0.5)) {
      std::vector<const std::string*> in_section;
      for (const std::string& d : divisions_) {
        if (d[0] == section[0]) in_section.push_back(&d);
      }
      if (!in_section.empty()) return *in_section[rng_.Below(in_section.size())];
    }
    return section;
  }

  Condition IndustryCondition() {
    std::string a = IndustryCode();
    if (rng_.Bernoulli(0.2)) {
      std::string b = IndustryCode();
      if (b != a && b[0] != a[0]) {
        return {{"industry"}, absl::StrCat("(industry under \"", a, "\" or industry under \"", b, "\")")};
      }
    }
    return {{"industry"}, absl::StrCat("industry under \"", a, "\"")};
  }

  Draft Theme(int theme) {
    Draft d;
    switch (theme) {
      case 0:
        d.title = "高新技术企业认定奖励";
        d.conditions = {{{"hitech", "qual_any"}, Pick({"qual.hitech", "qual.hitech", "高新技术企业", "高企"})},
                        {{"hitech_window"}, absl::StrCat("valid_from(qual.hitech) >= ", last_year_start_)}};
        d.benefit = Pick({"10万", "20万", "30万", "50万"});
        break;
      case 1:
        d.title = "高新技术企业稳定增长奖励";
        d.conditions = {{{"hitech", "qual_any"}, "qual.hitech"},
                        {{"hitech_window"}, Pick({"valid_to(qual.hitech) >= as_of",
                                                  "days_between(as_of, valid_to(qual.hitech)) >= 90"})},
                        {{"growth"}, "revenue > revenue_last_year"}};
        d.benefit = rng_.Bernoulli(0.5) ? Pick({"min((revenue - revenue_last_year) * 1%, 50万)",
                                                "min((revenue - revenue_last_year) * 2%, 100万)"})
                                        : Pick({"10万", "20万"});
        d.rank_candidates = {"revenue - revenue_last_year", "revenue"};
        break;
      case 2:
        d.title = "企业研发费用补助";
        d.conditions = {{{"rd_min"}, absl::StrCat("rd_expense >= ", Pick({"50万", "100万", "200万", "500万"}))},
                        {{"rd_ratio"}, absl::StrCat("rd_expense / revenue >= ", Pick({"3%", "4%", "5%"}))}};
        d.benefit = rng_.Bernoulli(0.7)
                        ? absl::StrCat("min(rd_expense * ", Pick({"5%", "10%", "15%", "20%"}), ", ",
                                       Pick({"50万", "100万", "200万", "500万"}), ")")
                        : "tier(rd_expense, 100万, 10万, 500万, 30万, 1000万, 50万)";
        d.rank_candidates = {"rd_expense", "rd_expense / revenue"};
        break;
      case 3: {
        d.title = "规上企业增长奖励";
        const bool big = rng_.Bernoulli(0.4);
        d.conditions = {{{"above_scale"}, Pick({"stat.above_scale", "stat.above_scale", "规模以上企业"})},
                        {{"rev_min"}, big ? "revenue >= 5000万" : "revenue >= 2000万"},
                        {{"growth"}, absl::StrCat("(revenue - revenue_last_year) / revenue_last_year >= ",
                                                  Pick({"10%", "15%", "20%"}))}};
        d.benefit = big ? "tier(revenue, 5000万, 20万, 1亿, 50万, 5亿, 100万)"
                        : "tier(revenue, 2000万, 10万, 5000万, 30万, 1亿, 50万)";
        d.rank_candidates = {"revenue", "revenue - revenue_last_year"};
        break;
      }
      case 4:
        d.title = "科技型中小企业入库奖励";
        d.conditions = {{{"sme_tech", "qual_any"}, Pick({"(qual.sme_tech or qual.hitech_reserve)",
                                                         "qual.sme_tech", "科技型中小企业"})},
                        {{"emp_max"}, "employees <= 500"},
                        {{"rev_max"}, "revenue <= 2亿"}};
        d.benefit = Pick({"3万", "5万", "10万"});
        break;
      case 5:
        d.title = "专精特新中小企业奖励";
        d.conditions = {{{"specialized", "qual_any"}, Pick({"qual.specialized", "专精特新"})}};
        if (rng_.Bernoulli(0.7)) d.conditions.push_back({{"industry"}, "industry under \"C\""});
        d.benefit = Pick({"30万", "50万", "100万"});
        break;
      case 6: {
        static const char* const kPlatforms[] = {
            "org.eng_center.city", "org.eng_center.province", "org.key_lab.city",
            "org.key_lab.province", "org.academician_workstation", "org.incubator",
            "org.maker_space", "org.public_platform", "org.tech_transfer",
            "org.tech_commissioner_station"};
        const std::string tag = Pick(kPlatforms);
        d.title = absl::StrCat(tax_.tag(*tax_.FindTag(tag)).name, "认定奖励");
        if (rng_.Bernoulli(0.2)) {
          d.title = "省级创新平台奖励";
          d.conditions = {{{"platform"}, "(org.eng_center.province or org.key_lab.province)"}};
          d.benefit = "if(org.eng_center.national or org.key_lab.national, 100万, 50万)";
        } else {
          d.conditions = {{{"platform"}, tag}};
          d.benefit = Pick({"10万", "20万", "50万", "100万"});
        }
        break;
      }
      case 7:
        d.title = "新型研发机构仪器设备资助";
        d.conditions = {{{"platform"}, "org.new_rd_institution"},
                        {{"equipment"}, "new_rd_equipment_investment > 0"}};
        d.benefit =
            "min(new_rd_equipment_investment * 20%, if(org.new_rd_institution.public_interest, 200万, 100万))";
        break;
      case 8: {
        d.title = "科技创新券";
        const std::string fees = Pick({"tech_service_fees", "tech_service_fees", "instrument_sharing_fees"});
        d.conditions = {{{"fees"}, absl::StrCat(fees, " > 0")}};
        if (rng_.Bernoulli(0.5)) {
          d.conditions.push_back({{"qual_any"}, "(qual.sme_tech or qual.hitech)"});
        } else {
          d.conditions.push_back({{"emp_max"}, "employees <= 300"});
        }
        d.benefit = absl::StrCat("min(", fees, " * 50%, ", Pick({"10万", "20万", "30万"}), ")");
        d.variant = fees;
        break;
      }
      case 9: {
        d.title = "发明专利奖励";
        static const char* const kTiers[][2] = {
            {"1", "tier(invention_patents, 1, 1万, 5, 5万, 10, 10万)"},
            {"3", "tier(invention_patents, 3, 3万, 10, 10万, 20, 20万)"},
            {"5", "tier(invention_patents, 5, 5万, 10, 10万, 20, 20万)"}};
        const auto& t = kTiers[rng_.Below(3)];
        d.conditions = {{{"pat_min"}, absl::StrCat("invention_patents >= ", t[0])}};
        d.benefit = t[1];
        d.rank_candidates = {"invention_patents"};
        break;
      }
      case 10: {
        d.title = "纳税贡献奖励";
        static const char* const kTiers[][2] = {
            {"100万", "tier(tax_paid, 100万, 5万, 500万, 20万, 1000万, 50万)"},
            {"500万", "tier(tax_paid, 500万, 20万, 1000万, 50万, 5000万, 100万)"},
            {"1000万", "tier(tax_paid, 1000万, 50万, 5000万, 100万, 1亿, 200万)"}};
        const auto& t = kTiers[rng_.Below(3)];
        d.conditions = {{{"tax_min"}, absl::StrCat("tax_paid >= ", t[0])}};
        d.benefit = t[1];
        d.rank_candidates = {"tax_paid"};
        d.limit_rate = 0.25;
        break;
      }
      case 11:
        d.title = "初创科技企业扶持";
        d.conditions = {{{"age_max"}, absl::StrCat("years_between(founded, as_of) <= ", Pick({"3", "5"}))},
                        rng_.Bernoulli(0.5) ? Condition{{"industry"}, "(industry under \"I\" or industry under \"M\")"}
                                            : IndustryCondition(),
                        {{"emp_min"}, absl::StrCat("employees >= ", Pick({"3", "5", "10"}))}};
        d.benefit = Pick({"5万", "10万", "20万"});
        break;
      case 12:
        d.title = "高企后备企业培育奖励";
        d.conditions = {{{"reserve", "qual_any"}, Pick({"qual.hitech_reserve", "高企后备"})},
                        {{"rd_ratio"}, "rd_expense / revenue >= 3%"}};
        d.benefit = "if(qual.sme_tech, 20万, 10万)";
        break;
      case 13:
        d.title = "园区重点企业扶持";
        d.conditions = {{{"park"}, "park.hitech_zone"},
                        {{"qual_any"}, "(qual.hitech or qual.specialized)"},
                        {{"tax_min"}, "tax_paid > 0"}};
        d.benefit = absl::StrCat("min(tax_paid * ", Pick({"20%", "30%"}), ", ", Pick({"50万", "100万"}), ")");
        d.rank_candidates = {"tax_paid"};
        break;
      case 14:
        if (rng_.Bernoulli(0.5)) {
          d.title = "科担贷贴息";
          d.conditions = {{{"finance"}, "fin.kedandai_repaid"}};
        } else {
          d.title = "创投子基金投资企业奖励";
          d.conditions = {{{"finance"}, "fin.vc_subfund"}};
        }
        d.benefit = Pick({"5万", "10万"});
        break;
      case 15:
        if (rng_.Bernoulli(0.6)) {
          d.title = "科技计划项目配套资助";
          d.conditions = {{{"project"}, "proj.sci_plan"}};
          d.benefit = "if(proj.sci_plan.national_lead, 100万, 30万)";
        } else {
          d.title = "科技成果奖励配套";
          d.conditions = {{{"project"}, "proj.sci_award"}};
          d.benefit = "20万";
        }
        break;
      default:
        d.title = "新材料企业发展奖励";
        d.conditions = {{{"field"}, "field.new_materials"},
                        {{"industry"}, "industry under \"C\""},
                        {{"rev_min"}, "revenue >= 1000万"}};
        d.benefit = "tier(revenue, 1000万, 10万, 5000万, 30万, 1亿, 50万)";
        d.rank_candidates = {"revenue"};
        break;
    }
    return d;
  }

  Condition Filler() {
    static const std::vector<double> kCumulative =
        Cumulative({10, 3, 4, 5, 5, 4, 3, 4, 2, 3, 3, 3, 2, 2, 2, 2});
    switch (rng_.Pick(kCumulative)) {
      case 0: return {{"credit"}, Pick({"not credit.blacklist", "not credit.blacklist",
                                        "not credit.blacklist", "!credit.blacklist",
                                        "not 失信联合惩戒黑名单"})};
      case 1: return {{"credit", "credit_abn"}, "not (credit.blacklist or credit.abnormal)"};
      case 2: return {{"credit_abn"}, "not credit.abnormal"};
      case 3: return {{"age_min"}, absl::StrCat("years_between(founded, as_of) >= ", Pick({"1", "1", "2", "3"}))};
      case 4: return IndustryCondition();
      case 5: return {{"emp_max"}, absl::StrCat("employees <= ", Pick({"300", "500", "500", "1000"}))};
      case 6: return {{"emp_min"}, absl::StrCat("employees >= ", Pick({"10", "20", "50"}))};
      case 7: return {{"rev_min"}, absl::StrCat("revenue >= ", Pick({"500万", "1000万", "2000万", "5000万"}))};
      case 8: return {{"rev_max"}, absl::StrCat("revenue <= ", Pick({"2亿", "4亿"}))};
      case 9: return {{"tax_min"}, absl::StrCat("tax_paid >= ", Pick({"10万", "50万", "100万"}))};
      case 10: return {{"pat_min"}, absl::StrCat("invention_patents >= ", Pick({"1", "2"}))};
      case 11: return {{"above_scale"}, Pick({"stat.above_scale", "四上企业"})};
      case 12: return {{"park"}, "park.hitech_zone"};
      case 13: return {{"growth"}, "revenue > revenue_last_year"};
      case 14: return {{"qual_any"}, "(qual.hitech or qual.sme_tech or qual.specialized)"};
      default: return {{"has_rd"}, "has_fact(rd_expense)"};
    }
  }

  static bool Collides(const Condition& c, const std::vector<Condition>& taken) {
    for (const Condition& t : taken) {
      for (const std::string& s : t.slots) {
        if (std::find(c.slots.begin(), c.slots.end(), s) != c.slots.end()) return true;
      }
    }
    return false;
  }

  // --- one policy -------------------------------------------------------------------------------

  // One policy. Members of an exclusive group share the `group_base` draft's conditions (the
  // same measure at several levels) and differ in amounts.
  void Emit(int serial, int theme, const Scope& scope, const std::string& group,
            const Draft* group_base, Policy* p) {
    const int y = static_cast<int>(options_.as_of.year());
    Draft d = Theme(theme);
    if (group_base != nullptr) {
      Draft shared = *group_base;
      if (d.title == shared.title && d.variant == shared.variant) shared.benefit = d.benefit;
      d = std::move(shared);
    }
    // 2–8 top-level terms: the region (unless national), the theme's, then fillers.
    const size_t target = static_cast<size_t>(rng_.Between(2, 8));
    std::vector<Condition> terms = d.conditions;
    const size_t fixed = terms.size() + (scope.level == Level::kNational ? 0 : 1);
    for (int tries = 0; fixed + (terms.size() - d.conditions.size()) < target && tries < 40; ++tries) {
      Condition c = Filler();
      if (!Collides(c, terms)) terms.push_back(std::move(c));
    }
    if (terms.size() + (fixed - d.conditions.size()) < 2) {
      terms.push_back({{"credit"}, "not credit.blacklist"});  // (unreachable with current themes)
    }
    for (size_t i = terms.size(); i > 1; --i) std::swap(terms[i - 1], terms[rng_.Below(i)]);
    std::vector<std::string> texts;
    if (scope.level != Level::kNational) texts.push_back(absl::StrCat("region under \"", scope.code, "\""));
    for (const Condition& c : terms) texts.push_back(c.text);

    p->set_id(absl::StrFormat("gen-%06d", serial));
    p->set_title(absl::StrCat(scope.name, d.title));
    switch (scope.level) {
      case Level::kNational: p->set_issuer(Pick({"科学技术部", "工业和信息化部", "财政部"})); break;
      case Level::kProvince:
        p->set_issuer(absl::StrCat(scope.name, Pick({"科学技术厅", "工业和信息化厅", "财政厅"})));
        break;
      default:
        p->set_issuer(absl::StrCat(scope.name, Pick({"科学技术局", "工业和信息化局", "发展和改革局", "财政局"})));
        break;
    }
    SourceRef* src = p->mutable_source();
    src->set_document(absl::StrCat(scope.name, Pick({"关于促进科技创新高质量发展的若干措施",
                                                     "惠企政策实施细则", "支持企业创新发展若干政策"}),
                                   "（合成）"));
    src->set_clause(absl::StrCat("第", rng_.Between(1, 30), "条"));
    src->set_note(absl::StrCat("synthetic policy from polmatch gen --seed ", options_.seed,
                               "; not a real document"));
    // Validity: most in force on as_of; some expired, some not yet in force, some open.
    const double u = rng_.Uniform();
    if (u < 0.7) {
      const int from = y - static_cast<int>(rng_.Between(0, 2));
      p->set_valid_from(absl::StrFormat("%04d-01-01", from));
      p->set_valid_to(absl::StrFormat("%04d-12-31", from + rng_.Between(1, 3)));
    } else if (u < 0.73) {
      p->set_valid_from(absl::StrFormat("%04d-01-01", y + 1));
      p->set_valid_to(absl::StrFormat("%04d-12-31", y + 3));
    } else if (u < 0.8) {
      p->set_valid_from(absl::StrFormat("%04d-01-01", y - rng_.Between(0, 4)));
    }
    const bool auto_grant = rng_.Bernoulli(0.30);
    p->set_mode(auto_grant ? Policy::AUTO_GRANT : Policy::APPLY);
    p->set_eligibility(absl::StrJoin(texts, rng_.Bernoulli(0.05) ? " && " : " and "));
    if (!auto_grant && group.empty() && rng_.Bernoulli(0.15)) {
      p->set_benefit_note("按项目评审结果确定支持金额");
    } else {
      p->set_benefit(d.benefit);
    }
    p->set_exclusive_group(group);
    if (group.empty() && !d.rank_candidates.empty() && rng_.Bernoulli(d.limit_rate)) {
      static const int kLimits[] = {10, 20, 50, 100, 200};
      p->set_limit(kLimits[rng_.Below(5)]);
      p->set_rank_by(d.rank_candidates[rng_.Below(d.rank_candidates.size())]);
    }
  }

  const Taxonomy& tax_;
  const GenOptions& options_;
  const Geography& geo_;
  GenRandom rng_;
  std::string last_year_start_;
  std::vector<std::string> sections_, divisions_;
  std::vector<double> section_cumulative_;
  std::vector<double> theme_cumulative_;
};

}  // namespace

absl::StatusOr<PolicyCatalog> GeneratePolicyCatalog(const Taxonomy& taxonomy, int count,
                                                    const GenOptions& options) {
  if (count < 0) return absl::InvalidArgumentError("policy count must be ≥ 0");
  ASSIGN_OR_RETURN(Geography geo,
                   Geography::Build(taxonomy, options.regions.empty() ? DefaultRegions()
                                                                      : options.regions));
  if (geo.cities().empty()) return absl::InvalidArgumentError("no region to scope policies to");
  for (const char* tag : {"org.eng_center.city", "org.eng_center.province", "org.key_lab.city",
                          "org.key_lab.province", "org.academician_workstation", "org.incubator",
                          "org.maker_space", "org.public_platform", "org.tech_transfer",
                          "org.tech_commissioner_station"}) {
    if (!taxonomy.FindTag(tag)) {
      return absl::FailedPreconditionError(absl::StrCat("the tag library has no tag \"", tag, "\""));
    }
  }
  PolicyCatalog catalog;
  catalog.set_document(absl::StrCat("合成政策目录 (polmatch gen --policies ", count, " --seed ",
                                    options.seed, " --as-of ", FormatDate(options.as_of), ")"));
  catalog.set_issuer("polmatch gen");
  PolicyWriter(taxonomy, options, geo).Generate(count, &catalog);

  // The contract is a catalog that loads cleanly: check it with the real loader.
  Diagnostics diags;
  std::shared_ptr<const Taxonomy> borrowed(&taxonomy, [](const Taxonomy*) {});
  absl::StatusOr<Catalog> loaded = Catalog::FromProtos(borrowed, {catalog}, &diags, {"<generated>"});
  if (!loaded.ok() || !diags.items().empty()) {
    return absl::InternalError(absl::StrCat(
        "generated catalog does not load (tag library changed?): ",
        diags.items().empty() ? std::string(loaded.status().message()) : diags.items()[0].ToString()));
  }
  return catalog;
}

std::string PolicyCatalogToText(const PolicyCatalog& catalog) {
  google::protobuf::TextFormat::Printer printer;
  printer.SetUseUtf8StringEscaping(true);
  std::string text;
  printer.PrintToString(catalog, &text);
  return absl::StrCat(
      "# proto-file: proto/polmatch.proto\n"
      "# proto-message: polmatch.PolicyCatalog\n"
      "#\n"
      "# Synthetic catalog written by `polmatch gen`; for demos and benchmarks, not real policy.\n",
      text);
}

}  // namespace polmatch::gen
