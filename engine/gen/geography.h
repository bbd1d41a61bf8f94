// File: geography.h
//
// Geography is the part of GB/T 2260 that a synthetic registry is drawn from: the selected
// provinces, their prefecture-level cities ranked from biggest (by enterprise count) to smallest,
// and each city's county-level codes ranked districts first. Firms pick cities and counties with
// Zipf weights over these ranks, so a few big cities hold most firms, as in a real registry.
//
// Example:
//   ASSIGN_OR_RETURN(std::vector<std::string> prefixes, ParseRegionList("44,420100", taxonomy));
//   ASSIGN_OR_RETURN(Geography geo, Geography::Build(taxonomy, prefixes));
//   const GenCity& city = geo.cities()[rng.Pick(geo.firm_city_cumulative())];
#ifndef POLMATCH_GEN_GEOGRAPHY_H_
#define POLMATCH_GEN_GEOGRAPHY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/taxonomy/taxonomy.h"

namespace polmatch::gen {

struct GenCounty {
  std::string code;
  std::string name;
};

struct GenCity {
  std::string code;          // XXYY00 (or the selected code itself when nothing is listed below it)
  std::string display_name;  // "湛江市"; a 直辖市's 市辖区 shows the province's name; "" when the
                             // city level has no name of its own (省直辖县级行政区划)
  std::string province;      // XX0000
  std::vector<GenCounty> counties;        // ranked: 区 first, then county-level cities, then 县
  std::vector<double> county_cumulative;  // Zipf weights over `counties`
};

class Geography {
 public:
  // `prefixes`: six-digit codes known to the taxonomy (as ParseRegionList returns them).
  static absl::StatusOr<Geography> Build(const Taxonomy& taxonomy,
                                         const std::vector<std::string>& prefixes);

  const std::vector<GenCity>& cities() const { return cities_; }
  const std::vector<std::string>& provinces() const { return provinces_; }
  // Zipf (s = 1) over city rank: how firms spread over cities.
  const std::vector<double>& firm_city_cumulative() const { return firm_city_cumulative_; }
  // Flatter (s = 0.5): how policy-issuing cities spread (every city has its own policies).
  const std::vector<double>& policy_city_cumulative() const { return policy_city_cumulative_; }
  // The name of a province code ("广东省").
  const std::string& ProvinceName(const std::string& province) const;

 private:
  std::vector<GenCity> cities_;
  std::vector<std::string> provinces_;
  std::vector<std::string> province_names_;
  std::vector<double> firm_city_cumulative_;
  std::vector<double> policy_city_cumulative_;
};

// Parses a comma-separated list of GB/T 2260 prefixes: 2 digits (province), 4 digits (city) or
// 6 digits, e.g. "44,420100,4111". Returns six-digit codes, each known to the taxonomy, without
// duplicates, in the order given. Errors name the bad item.
absl::StatusOr<std::vector<std::string>> ParseRegionList(absl::string_view list,
                                                         const Taxonomy& taxonomy);

}  // namespace polmatch::gen

#endif  // POLMATCH_GEN_GEOGRAPHY_H_
