#include "engine/gen/geography.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/gen/random.h"

namespace polmatch::gen {
namespace {

// Cities by number of registered enterprises, biggest first (order of magnitude from the 2018
// economic census and later registry counts). Cities not listed rank after these, in a fixed
// pseudo-random order, so the skew does not depend on code order.
constexpr const char* kBigCities[] = {
    "440300", "440100", "310100", "110100", "500100", "320500", "510100", "330100", "420100",
    "410100", "320100", "441900", "440600", "370200", "430100", "330200", "370100", "120100",
    "610100", "320200", "350100", "340100", "350500", "330300", "330700", "441300", "442000",
    "320600", "320400", "130100", "530100", "450100", "210100", "210200", "220100", "230100",
    "360100", "520100", "620100", "410300", "420500", "420600", "440400", "440700", "440500",
    "441200", "440800"};

bool IsProvince(absl::string_view c) { return c.substr(2) == "0000"; }
bool IsCity(absl::string_view c) { return !IsProvince(c) && c.substr(4) == "00"; }

uint64_t Fnv1a(absl::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char ch : s) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ULL;
  }
  return h;
}

// 区 (01–20) first, then county-level cities (81–99), then 县 and the rest.
int CountyGroup(absl::string_view code) {
  int d = (code[4] - '0') * 10 + (code[5] - '0');
  if (d >= 1 && d <= 20) return 0;
  if (d >= 81) return 1;
  return 2;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseRegionList(absl::string_view list,
                                                         const Taxonomy& taxonomy) {
  std::vector<std::string> out;
  for (absl::string_view item : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    std::string code(item);
    bool digits = std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || (code.size() != 2 && code.size() != 4 && code.size() != 6)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "region \"", item, "\": expected a GB/T 2260 code of 2, 4 or 6 digits"));
    }
    code.resize(6, '0');
    if (!taxonomy.IsKnownRegion(code)) {
      return absl::InvalidArgumentError(
          absl::StrCat("region \"", item, "\" (", code, ") is not in the tag library's regions"));
    }
    if (std::find(out.begin(), out.end(), code) == out.end()) out.push_back(code);
  }
  if (out.empty()) return absl::InvalidArgumentError("empty region list");
  return out;
}

absl::StatusOr<Geography> Geography::Build(const Taxonomy& taxonomy,
                                           const std::vector<std::string>& prefixes) {
  const std::vector<std::string> codes = taxonomy.RegionCodes();
  // city code → selected county codes (ordered, so the result does not depend on hash order).
  std::map<std::string, std::set<std::string>> selected;
  for (const std::string& prefix : prefixes) {
    if (!taxonomy.IsKnownRegion(prefix)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown region code ", prefix));
    }
    bool any = false;
    for (const std::string& c : codes) {
      if (IsProvince(c) || !Taxonomy::RegionUnder(c, prefix)) continue;
      if (IsCity(c)) {
        selected[c];  // a city with no county-level codes stands for itself (东莞, 中山)
      } else {
        std::string city = c.substr(0, 4) + "00";
        if (!taxonomy.IsKnownRegion(city)) city = c;
        selected[city].insert(c);
      }
      any = true;
    }
    if (!any) selected[prefix].insert(prefix);  // a province or county with nothing listed below
  }
  Geography geo;
  std::vector<GenCity> cities;
  for (auto& [city_code, counties] : selected) {
    GenCity city;
    city.code = city_code;
    city.province = city_code.substr(0, 2) + "0000";
    std::string name(taxonomy.RegionName(city_code));
    if (name == "市辖区" || name == "县" || IsProvince(city_code)) {
      name = std::string(taxonomy.RegionName(city.province));
    } else if (absl::StrContains(name, "直辖")) {
      name.clear();
    }
    city.display_name = name;
    if (counties.empty()) counties.insert(city_code);
    for (const std::string& c : counties) {
      city.counties.push_back({c, std::string(taxonomy.RegionName(c))});
    }
    std::stable_sort(city.counties.begin(), city.counties.end(),
                     [](const GenCounty& a, const GenCounty& b) {
                       return CountyGroup(a.code) < CountyGroup(b.code);
                     });
    city.county_cumulative = ZipfCumulative(city.counties.size(), 0.8);
    cities.push_back(std::move(city));
  }
  auto rank = [](const GenCity& c) -> std::pair<int, uint64_t> {
    constexpr int n = static_cast<int>(sizeof(kBigCities) / sizeof(kBigCities[0]));
    for (int i = 0; i < n; ++i) {
      if (c.code == kBigCities[i]) return {i, 0};
    }
    return {n, Fnv1a(c.code)};
  };
  std::sort(cities.begin(), cities.end(),
            [&](const GenCity& a, const GenCity& b) { return rank(a) < rank(b); });
  for (const GenCity& c : cities) {
    if (std::find(geo.provinces_.begin(), geo.provinces_.end(), c.province) ==
        geo.provinces_.end()) {
      geo.provinces_.push_back(c.province);
    }
  }
  std::sort(geo.provinces_.begin(), geo.provinces_.end());
  for (const std::string& p : geo.provinces_) {
    geo.province_names_.emplace_back(taxonomy.RegionName(p));
  }
  geo.firm_city_cumulative_ = ZipfCumulative(cities.size(), 1.0);
  geo.policy_city_cumulative_ = ZipfCumulative(cities.size(), 0.5);
  geo.cities_ = std::move(cities);
  return geo;
}

const std::string& Geography::ProvinceName(const std::string& province) const {
  static const std::string kNone;
  for (size_t i = 0; i < provinces_.size(); ++i) {
    if (provinces_[i] == province) return province_names_[i];
  }
  return kNone;
}

}  // namespace polmatch::gen
