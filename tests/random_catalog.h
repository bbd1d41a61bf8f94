// File: random_catalog.h
//
// Random catalogs and registries for the differential tests: policies over every operator and
// function of the rule language (both modes, validity windows, exclusive groups, limits with
// rank_by) and firms with missing facts, values near ±9×10¹², tag grants with validity around
// as_of, hierarchy tags, several regions and industries. Deterministic per seed.
#ifndef POLMATCH_TESTS_RANDOM_CATALOG_H_
#define POLMATCH_TESTS_RANDOM_CATALOG_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/ingest/firm.h"
#include "engine/taxonomy/taxonomy.h"
#include "engine/util/dates.h"
#include "proto/polmatch.pb.h"
#include "tests/test_util.h"

namespace polmatch::testing {

// Region codes firms are registered in (one is valid but not listed: its province is).
inline const char* const kFirmRegions[] = {"440802", "440803", "440811", "440881", "441502", "441521",
                                    "441581", "420102", "420111", "420117", "411102", "411121",
                                    "440899", "440800", "420000"};
// Codes rules test with `under`, `==` and `in`.
inline const char* const kRuleRegions[] = {"440000", "440800", "440802", "440811", "441500", "441502",
                                    "420000", "420100", "420111", "411100", "411102", "110000"};
inline const char* const kFirmIndustries[] = {"C13", "C26", "C2611", "C2612", "C262", "I", "I65", "I651",
                                       "I6513", "I6520", "F51", "M", ""};
inline const char* const kRuleIndustries[] = {"C", "C13", "C26", "C261", "C2611", "I", "I65", "I651",
                                       "I6513", "F", "F51", "M"};

class Gen {
 public:
  Gen(uint64_t seed, absl::CivilDay as_of, const Taxonomy& tax = RealTaxonomy())
      : rng_(seed), as_of_(as_of), tax_(tax) {}

  uint64_t Next() { return rng_(); }
  int Uniform(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  bool Chance(double p) { return (rng_() % 1000000) < p * 1000000; }
  template <typename T, size_t N>
  const T& Pick(const T (&a)[N]) { return a[Uniform(N)]; }

  // ---- values -------------------------------------------------------------------------------

  // A Decimal raw value from pools that hit thresholds, boundaries and the range limit.
  int64_t Value() {
    static const int64_t kPool[] = {0, 1, 5, 10, 100, 1000, 10000, 50000, 1000000, 3000000,
                                    10000000, 150000000, 2000000, 200};
    switch (Uniform(11)) {
      case 10: return Tiny();
      case 0: return Decimal::kMaxRaw - Uniform(3);                   // 9e12 and just below
      case 1: return -Decimal::kMaxRaw + Uniform(3);
      case 2: return (static_cast<int64_t>(Next() % 1000000000) * Decimal::kOne) +
                     static_cast<int64_t>(Next() % Decimal::kOne);  // fractional
      case 3: return Pick(kPool) * Decimal::kOne + (Uniform(3) - 1) * 10000;  // ±0.01
      case 4: return -Pick(kPool) * Decimal::kOne;
      case 5: return static_cast<int64_t>(Next() % 1000) * 1000;  // small fractions (ratios)
      case 6: return static_cast<int64_t>(Next() % 4000000000000ULL) * Decimal::kOne;  // large
      default: return Pick(kPool) * Decimal::kOne;
    }
  }

  // Values whose products and quotients land on a half at the 6th fractional digit.
  int64_t Tiny() {
    static const int64_t kTiny[] = {1, 3, 5, 15, 25, 500000, 1500000, 2500000, 250000, 2000000, 4000000};
    return Pick(kTiny) * (Chance(0.2) ? -1 : 1);
  }

  std::string Date(int spread_days) {
    return FormatDate(as_of_ + (Uniform(2 * spread_days + 1) - spread_days));
  }

  // ---- firms --------------------------------------------------------------------------------

  Firm RandomFirm(int serial) {
    FirmProfile p = MakeProfile(Pick(kFirmRegions), serial, Pick(kFirmIndustries),
                                Chance(0.1) ? "" : Date(365 * 30));
    if (Chance(0.03)) p.set_founded(FormatDate(as_of_ - 365 * 3));  // years_between boundary
    for (int f = 0; f < tax_.num_facts(); ++f) {
      if (Chance(0.2)) continue;  // unknown
      (*p.mutable_facts())[tax_.fact(FactId(f)).id] = Decimal::FromRawUnchecked(Value()).ToString();
    }
    for (int t = 0; t < tax_.num_tags(); ++t) {
      const int grants = Chance(0.12) ? 1 + Uniform(2) : 0;
      for (int g = 0; g < grants; ++g) {
        TagGrant* grant = p.add_tags();
        grant->set_id(tax_.tag(TagId(t)).id);
        int from = 0, to = 0;
        bool has_from = Chance(0.6), has_to = Chance(0.6);
        from = Pick(kEdges) * -1;
        to = Pick(kEdges);
        if (Chance(0.15)) from = to + 1;  // starts after as_of
        if (Chance(0.15)) to = from - 1;  // ended before as_of
        if (to < from) std::swap(to, from);
        if (has_from) grant->set_valid_from(FormatDate(as_of_ + from));
        if (has_to) grant->set_valid_to(FormatDate(as_of_ + to));
      }
    }
    absl::StatusOr<Firm> firm = FirmFromProfile(p, tax_);
    if (!firm.ok()) {
      ADD_FAILURE() << firm.status();
      return MakeFirm(p);
    }
    return std::move(*firm);
  }

  // ---- expressions --------------------------------------------------------------------------

  std::string Number(int64_t raw) {
    const Decimal d = Decimal::FromRawUnchecked(raw < 0 ? -raw : raw);
    std::string s;
    const int64_t wan = 10000 * Decimal::kOne;
    if (raw % wan == 0 && raw != 0 && Chance(0.5)) {
      s = absl::StrCat(d.raw() / wan, "万");
    } else if (raw % (10000 * wan) == 0 && raw != 0 && Chance(0.5)) {
      s = absl::StrCat(d.raw() / (10000 * wan), "亿");
    } else if (raw % 10000 == 0 && d.raw() < 100 * Decimal::kOne && Chance(0.3)) {
      s = absl::StrCat(Decimal::FromRawUnchecked(d.raw() * 100).ToString(), "%");
    } else {
      s = d.ToString();
    }
    if (Chance(0.1)) s += "元";
    return raw < 0 ? absl::StrCat("(-", s, ")") : s;
  }

  std::string Tag() {
    const TagId id(Uniform(tax_.num_tags()));
    const TagInfo& t = tax_.tag(id);
    if (Chance(0.2) && !t.name.empty()) {
      auto found = tax_.FindTag(t.name);
      if (found && *found == id) return t.name;
    }
    return t.id;
  }
  std::string Fact() { return tax_.fact(FactId(Uniform(tax_.num_facts()))).id; }
  std::string CmpOp() {
    static const char* const kOps[] = {"<", "<=", ">", ">=", "==", "!="};
    return Pick(kOps);
  }
  static std::string Quote(const std::string& s) { return absl::StrCat("\"", s, "\""); }

  std::string Num(int depth) {
    if (depth <= 0 || Chance(0.35)) {
      return Chance(0.6) ? Fact() : Number(Value());
    }
    switch (Uniform(13)) {
      case 0: return absl::StrCat("(", Num(depth - 1), " + ", Num(depth - 1), ")");
      case 1: return absl::StrCat("(", Num(depth - 1), " - ", Num(depth - 1), ")");
      case 2: return absl::StrCat(Num(depth - 1), " * ", Num(depth - 1));
      case 3: return absl::StrCat("(", Num(depth - 1), " / ", Num(depth - 1), ")");
      case 4: return absl::StrCat("-", Num(depth - 1));
      case 5:
      case 6: {
        std::vector<std::string> args;
        for (int i = 0, n = 1 + Uniform(3); i < n; ++i) args.push_back(Num(depth - 1));
        return absl::StrCat(Chance(0.5) ? "min(" : "max(", absl::StrJoin(args, ", "), ")");
      }
      case 7: return absl::StrCat("abs(", Num(depth - 1), ")");
      case 8: return absl::StrCat("if(", Bool(depth - 1), ", ", Num(depth - 1), ", ", Num(depth - 1), ")");
      case 9: {
        std::string s = absl::StrCat("tier(", Num(depth - 1));
        for (int i = 0, n = 1 + Uniform(3); i < n; ++i) {
          absl::StrAppend(&s, ", ", Chance(0.7) ? Number(Value()) : Num(depth - 1), ", ",
                          Chance(0.7) ? Number(Value()) : Num(depth - 1));
        }
        return s + ")";
      }
      case 10: return absl::StrCat("years_between(", DateExpr(depth - 1), ", ", DateExpr(depth - 1), ")");
      case 11: return absl::StrCat("days_between(", DateExpr(depth - 1), ", ", DateExpr(depth - 1), ")");
      default: return Fact();
    }
  }

  std::string DateExpr(int depth) {
    switch (Uniform(depth > 0 ? 6 : 5)) {
      case 0: return "founded";
      case 1: return "as_of";
      case 2: return absl::StrCat("date(\"", Date(365 * 5), "\")");
      case 3: return absl::StrCat("valid_from(", Tag(), ")");
      case 4: return absl::StrCat("valid_to(", Tag(), ")");
      default: return absl::StrCat("if(", Bool(depth - 1), ", ", DateExpr(depth - 1), ", ", DateExpr(depth - 1), ")");
    }
  }

  std::string Bool(int depth) {
    const int leaf_kinds = 10;
    const int k = (depth <= 0 || Chance(0.4)) ? Uniform(leaf_kinds) : leaf_kinds + Uniform(9);
    switch (k) {
      case 0: return Tag();
      case 1: return absl::StrCat(Fact(), " ", CmpOp(), " ", Number(Value()));
      case 2: return absl::StrCat("has_fact(", Fact(), ")");
      case 3: {
        switch (Uniform(4)) {
          case 0: return absl::StrCat("region under ", Quote(Pick(kRuleRegions)));
          case 1: return absl::StrCat("region ", Chance(0.5) ? "==" : "!=", " ", Quote(Pick(kRuleRegions)));
          case 2: return absl::StrCat(Quote(Pick(kRuleRegions)), " == region");
          default:
            return absl::StrCat("region in [", Quote(Pick(kRuleRegions)), ", ", Quote(Pick(kRuleRegions)), "]");
        }
      }
      case 4: {
        switch (Uniform(3)) {
          case 0: return absl::StrCat("industry under ", Quote(Pick(kRuleIndustries)));
          case 1: {
            std::string code = Pick(kFirmIndustries);
            if (code.empty()) code = "C13";
            return absl::StrCat("industry ", Chance(0.5) ? "==" : "!=", " ", Quote(code));
          }
          default:
            return absl::StrCat("industry in [", Quote(Pick(kRuleIndustries)), ", \"I6513\"]");
        }
      }
      case 5: return absl::StrCat(DateExpr(0), " ", CmpOp(), " ", DateExpr(0));
      case 6: return absl::StrCat("years_between(founded, as_of) ", CmpOp(), " ", Uniform(8));
      case 7: return Chance(0.5) ? "true" : "false";
      case 8: return absl::StrCat(Fact(), " in [", Number(Value()), ", ", Number(Value()), ", ", Fact(), "]");
      case 9:  // exact rounding of * and / at the 6th digit
        return absl::StrCat(Fact(), Chance(0.5) ? " * " : " / ", Number(Tiny()), " ", CmpOp(), " ",
                            Number(Tiny()));
      case 16: return absl::StrCat(Chance(0.5) ? "not " : "!", "(", Bool(depth - 1), ")");
      case 10: return absl::StrCat("(", Bool(depth - 1), Chance(0.5) ? " and " : " && ", Bool(depth - 1), ")");
      case 11: return absl::StrCat("(", Bool(depth - 1), Chance(0.5) ? " or " : " || ", Bool(depth - 1), ")");
      case 12: return absl::StrCat(Num(depth - 1), " ", CmpOp(), " ", Num(depth - 1));
      case 13: return absl::StrCat("(", Bool(depth - 1), ") ", Chance(0.5) ? "==" : "!=", " (", Bool(depth - 1), ")");
      case 14: return absl::StrCat("if(", Bool(depth - 1), ", ", Bool(depth - 1), ", ", Bool(depth - 1), ")");
      case 15: return absl::StrCat(Tag(), " in [true, (", Bool(depth - 1), ")]");
      default: return absl::StrCat(DateExpr(depth - 1), " ", CmpOp(), " ", DateExpr(depth - 1));
    }
  }

  Policy RandomPolicy(int index) {
    Policy p;
    p.set_id(absl::StrCat("p", 1000 + index));
    p.set_title(absl::StrCat("policy ", index));
    std::vector<std::string> conds;
    if (Chance(0.5)) conds.push_back(absl::StrCat("region under ", Quote(Pick(kRuleRegions))));
    for (int i = 0, n = Uniform(6); i < n; ++i) conds.push_back(Bool(Uniform(3)));
    if (conds.empty()) conds.push_back(Bool(2));
    for (size_t i = 0; i < conds.size(); ++i) {
      if (conds.size() > 1) conds[i] = absl::StrCat("(", conds[i], ")");
    }
    std::shuffle(conds.begin(), conds.end(), rng_);
    p.set_eligibility(absl::StrJoin(conds, Chance(0.5) ? " and " : " && "));
    const int mode = Uniform(10);
    if (mode < 4) {
      p.set_mode(Policy::AUTO_GRANT);
      if (mode > 0) {
        p.set_benefit(Benefit());
      } else {
        p.set_benefit_note("认定为研发机构 (non-monetary grant)");
      }
    } else if (mode < 7) {
      p.set_benefit(Benefit());
    }
    if (Chance(0.2)) p.set_valid_from(Date(30));
    if (Chance(0.2)) p.set_valid_to(FormatDate(std::max(as_of_ + (Uniform(61) - 30),
                                                        p.valid_from().empty() ? as_of_ - 30 : *ParseDate(p.valid_from()))));
    if (Chance(0.3)) p.set_exclusive_group(absl::StrCat("g", Uniform(3)));
    if (Chance(0.15)) {
      p.set_limit(1 + Uniform(20));
      p.set_rank_by(Chance(0.5) ? Fact() : Num(2));
    }
    return p;
  }

  // A condition of a shape the single-firm index compiles specially (tag masks, fact
  // comparisons either way round, negations), for PolicyIndexDifferentialTest.
  std::string IndexShape() {
    switch (Uniform(8)) {
      case 0: return absl::StrCat("(", Tag(), " or ", Tag(), " or ", Tag(), ")");
      case 1: return absl::StrCat("(", Tag(), " or ", Tag(), ")");
      case 2: return absl::StrCat("not (", Tag(), " and ", Tag(), ")");
      case 3: return absl::StrCat("not ", Tag());
      case 4: return absl::StrCat(Number(Value()), " ", CmpOp(), " ", Fact());
      case 5: return absl::StrCat(Fact(), " ", CmpOp(), " ", Fact());
      case 6: return absl::StrCat("not (", Fact(), " ", CmpOp(), " ", Number(Value()), ")");
      default: return Tag();
    }
  }

  std::string Benefit() {
    switch (Uniform(4)) {
      case 0: return Number(Value());
      case 1: return absl::StrCat("min(", Fact(), " * 20%, if(", Tag(), ", 200万, 100万))");
      case 2: return absl::StrCat("tier(", Fact(), ", 1000万, 10万, 1亿, 50万, 10亿, 100万)");
      default: return Num(3);
    }
  }

 private:
  static constexpr int kEdges[] = {0, 0, 1, 2, 30, 400, 1000};
  std::mt19937_64 rng_;
  absl::CivilDay as_of_;
  const Taxonomy& tax_;
};

}  // namespace polmatch::testing

#endif  // POLMATCH_TESTS_RANDOM_CATALOG_H_
