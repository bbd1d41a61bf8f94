// Differential test of the bulk matcher: random catalogs (every operator and function of SPEC §3,
// both modes, validity windows, exclusive groups, limits with rank_by) × random firms (missing
// facts, values near ±9×10¹², tag grants with validity around as_of, hierarchy tags, several
// regions and industries), evaluated by BulkMatcher and by ReferenceMatcher::EvaluateAll; every
// (firm, policy) status and benefit must agree.
#include <cstdint>
#include <sstream>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/catalog/catalog.h"
#include "engine/index/firm_store.h"
#include "engine/match/bulk_matcher.h"
#include "engine/match/plan_eval.h"
#include "engine/match/policy_index.h"
#include "engine/match/reference.h"
#include "engine/util/dates.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace polmatch {
namespace {

using testing::MakeFirm;
using testing::MakeProfile;
using testing::RealTaxonomy;

// Region codes firms are registered in (one is valid but not listed: its province is).
const char* const kFirmRegions[] = {"440802", "440803", "440811", "440881", "441502", "441521",
                                    "441581", "420102", "420111", "420117", "411102", "411121",
                                    "440899", "440800", "420000"};
// Codes rules test with `under`, `==` and `in`.
const char* const kRuleRegions[] = {"440000", "440800", "440802", "440811", "441500", "441502",
                                    "420000", "420100", "420111", "411100", "411102", "110000"};
const char* const kFirmIndustries[] = {"C13", "C26", "C2611", "C2612", "C262", "I", "I65", "I651",
                                       "I6513", "I6520", "F51", "M", ""};
const char* const kRuleIndustries[] = {"C", "C13", "C26", "C261", "C2611", "I", "I65", "I651",
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

std::string DescribeOutcome(const Outcome& o) {
  return absl::StrCat(MatchStatus_Name(o.status), o.benefit ? absl::StrCat(" benefit=", o.benefit->ToString()) : "");
}

struct RunStats {
  int64_t pairs = 0;
  int64_t by_status[7] = {};
};

// A differential run proves something only if it compared the pairs it meant to and the random
// catalogs reached every status: a generator change that made every pair INELIGIBLE would
// otherwise pass silently.
void ExpectNotVacuous(const RunStats& stats, int64_t expected_pairs) {
  std::cout << "pairs: " << stats.pairs << " (eligible " << stats.by_status[ELIGIBLE]
            << ", undetermined " << stats.by_status[UNDETERMINED] << ", near miss "
            << stats.by_status[NEAR_MISS] << ", excluded " << stats.by_status[EXCLUDED]
            << ", not selected " << stats.by_status[NOT_SELECTED] << ")\n";
  EXPECT_EQ(stats.pairs, expected_pairs);
  for (MatchStatus s : {ELIGIBLE, UNDETERMINED, NEAR_MISS, INELIGIBLE, EXCLUDED, NOT_SELECTED}) {
    EXPECT_GT(stats.by_status[s], 0) << MatchStatus_Name(s) << " never occurred";
  }
  EXPECT_GT(stats.by_status[ELIGIBLE], stats.pairs / 1000);
}

// Builds a catalog and firms for `seed`, checks bulk == reference for every pair.
void CheckSeed(uint64_t seed, int num_firms, int num_policies, int threads, RunStats* stats) {
  const absl::CivilDay as_of = absl::CivilDay(2023, 6, 15) + static_cast<int>(seed % 7) * 37;
  Gen gen(seed, as_of);
  auto taxonomy = std::make_shared<const Taxonomy>(RealTaxonomy());

  PolicyCatalog catalog_msg;
  for (int i = 0; i < num_policies; ++i) *catalog_msg.add_policy() = gen.RandomPolicy(i);
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Catalog::FromProtos(taxonomy, {catalog_msg}, &diags);
  ASSERT_TRUE(catalog.ok()) << catalog.status() << "\n"
                            << (diags.items().empty() ? "" : diags.items()[0].ToString());

  std::vector<Firm> firms;
  for (int i = 0; i < num_firms; ++i) firms.push_back(gen.RandomFirm(static_cast<int>(seed * 1000003 % 7919) * 100000 + i));
  // Unknown regions (the store sorts them first; region conditions are unknown for them).
  for (int i = 3; i < num_firms; i += 97) firms[i].region = "";
  // A few firms of identical data (ties in limits go by credit code).
  for (int i = 0; i + 1 < num_firms && i < 20; i += 2) {
    Firm copy = firms[i];
    copy.credit_code = firms[i + 1].credit_code;
    firms[i + 1] = copy;
  }

  absl::StatusOr<FirmStore> store = FirmStore::Build(firms, *taxonomy);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<BulkMatcher> bulk = BulkMatcher::Create(*catalog, *store);
  ASSERT_TRUE(bulk.ok()) << bulk.status();
  const BulkResult result = bulk->Match(as_of, threads);

  ReferenceMatcher reference(*catalog);
  const std::vector<std::vector<Outcome>> expected = reference.EvaluateAll(firms, as_of);

  int failures = 0;
  for (uint32_t row = 0; row < store->num_rows(); ++row) {
    const size_t f = store->source_index(row);
    for (int p = 0; p < num_policies; ++p) {
      const Outcome want = expected[f][p];
      const Outcome got = result.Get(row, p);
      ++stats->pairs;
      ++stats->by_status[want.status];
      if (want == got) continue;
      const CompiledPolicy& cp = catalog->policies()[p];
      ADD_FAILURE() << "seed " << seed << " as_of " << FormatDate(as_of) << " threads " << threads
                    << "\npolicy " << cp.policy.DebugString()
                    << "firm " << FirmToProfile(firms[f], *taxonomy).DebugString()
                    << "reference: " << DescribeOutcome(want) << "\nbulk:      " << DescribeOutcome(got);
      if (++failures >= 5) return;
    }
  }
  // Per-policy counts agree with the pairs.
  for (int p = 0; p < num_policies; ++p) {
    const BulkPolicyResult& r = result.policy(p);
    int64_t total = 0;
    for (int s = 1; s < 7; ++s) total += r.count[s];
    EXPECT_EQ(total, store->num_rows());
    EXPECT_EQ(static_cast<uint64_t>(r.count[ELIGIBLE]), r.eligible.cardinality());
  }
}

// The matcher's calendar arithmetic against dates.h, exhaustively over 30 years of days around
// anchors that include leap days and year ends.
TEST(BulkPlanTest, YearsBetweenMatchesDates) {
  const absl::CivilDay anchors[] = {
      absl::CivilDay(2024, 2, 29), absl::CivilDay(2023, 2, 28), absl::CivilDay(2024, 3, 1),
      absl::CivilDay(2023, 12, 31), absl::CivilDay(2024, 1, 1), absl::CivilDay(2000, 2, 29),
      absl::CivilDay(2023, 6, 15), absl::CivilDay(1900, 3, 1)};
  for (absl::CivilDay anchor : anchors) {
    plan_internal::FixedDateYears fixed(DayNumber(anchor));
    for (absl::CivilDay x = anchor - 365 * 15; x <= anchor + 365 * 15; ++x) {
      ASSERT_EQ(fixed.YearsFrom(DayNumber(x)), YearsBetween(x, anchor)) << FormatDate(x) << " → " << FormatDate(anchor);
      ASSERT_EQ(fixed.YearsTo(DayNumber(x)), YearsBetween(anchor, x)) << FormatDate(anchor) << " → " << FormatDate(x);
      if (x.day() % 7 == 0) {
        ASSERT_EQ(plan_internal::YearsBetweenDays(DayNumber(x), DayNumber(anchor)), YearsBetween(x, anchor));
      }
    }
    EXPECT_EQ(fixed.YearsFrom(DayNumber(absl::CivilDay(1000, 1, 1))),
              YearsBetween(absl::CivilDay(1000, 1, 1), anchor));
  }
}

// Decimal kernels of the matcher against engine/util/decimal.
TEST(BulkPlanTest, ArithmeticMatchesDecimal) {
  std::mt19937_64 rng(5);
  const int64_t edges[] = {0, 1, -1, 5, 500000, -500000, 1500000, Decimal::kMaxRaw, -Decimal::kMaxRaw,
                           Decimal::kMaxRaw - 1, 3037000499LL, 9223372036LL, 999999, 1000000};
  auto pick = [&]() -> int64_t {
    switch (rng() % 4) {
      case 0: return edges[rng() % (sizeof(edges) / sizeof(edges[0]))];
      case 1: {
        const int64_t x = static_cast<int64_t>(rng() % static_cast<uint64_t>(Decimal::kMaxRaw + 1));
        return (rng() & 1) ? x : -x;
      }
      case 2: return static_cast<int64_t>(rng() % 20000000) - 10000000;
      default: return static_cast<int64_t>(rng() % 20000000000000ULL) - 10000000000000LL;
    }
  };
  for (int i = 0; i < 2000000; ++i) {
    const Decimal a = Decimal::FromRawUnchecked(pick()), b = Decimal::FromRawUnchecked(pick());
    int64_t out = 0;
    auto check = [&](bool ok, std::optional<Decimal> want, const char* op) {
      ASSERT_EQ(ok, want.has_value()) << a.ToString() << " " << op << " " << b.ToString();
      if (ok) {
        ASSERT_EQ(out, want->raw()) << a.ToString() << " " << op << " " << b.ToString();
      }
    };
    check(plan_internal::AddRaw(a.raw(), b.raw(), &out), Add(a, b), "+");
    check(plan_internal::SubRaw(a.raw(), b.raw(), &out), Sub(a, b), "-");
    check(plan_internal::MulRaw(a.raw(), b.raw(), &out), Mul(a, b), "*");
    check(plan_internal::DivRaw(a.raw(), b.raw(), &out), Div(a, b), "/");
  }
}

TEST(BulkDifferentialTest, SmallPopulationsManyPolicies) {
  RunStats stats;
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    CheckSeed(seed, 400, 160, seed % 2 == 0 ? 2 : 1, &stats);
    if (HasFailure()) return;
  }
  ExpectNotVacuous(stats, int64_t{24} * 400 * 160);
}

TEST(BulkDifferentialTest, EmptyStore) {
  auto taxonomy = std::make_shared<const Taxonomy>(RealTaxonomy());
  Gen gen(1, absl::CivilDay(2023, 6, 15));
  PolicyCatalog msg;
  for (int i = 0; i < 20; ++i) *msg.add_policy() = gen.RandomPolicy(i);
  Diagnostics diags;
  absl::StatusOr<Catalog> catalog = Catalog::FromProtos(taxonomy, {msg}, &diags);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  absl::StatusOr<FirmStore> store = FirmStore::Build({}, *taxonomy);
  ASSERT_TRUE(store.ok());
  absl::StatusOr<BulkMatcher> bulk = BulkMatcher::Create(*catalog, *store);
  ASSERT_TRUE(bulk.ok()) << bulk.status();
  const BulkResult r = bulk->Match(absl::CivilDay(2023, 6, 15), 2);
  ASSERT_EQ(r.num_policies(), 20);
  for (int p = 0; p < 20; ++p) {
    for (int s = 0; s < 7; ++s) EXPECT_EQ(r.policy(p).count[s], 0);
  }
}

// The portable comparison kernels (the SIMD ones are used above where the CPU has SSE4.2).
TEST(BulkDifferentialTest, WithoutSimd) {
  RunStats stats;
  plan_internal::DisableSimdForTesting(true);
  CheckSeed(7, 9000, 60, 2, &stats);
  plan_internal::DisableSimdForTesting(false);
  if (HasFailure()) return;
  ExpectNotVacuous(stats, int64_t{9000} * 60);
}

TEST(BulkDifferentialTest, SeveralBlocks) {
  RunStats stats;
  for (uint64_t seed = 101; seed <= 103; ++seed) {
    CheckSeed(seed, 20000 + static_cast<int>(seed) * 7, 40, seed == 102 ? 3 : 2, &stats);
    if (HasFailure()) return;
  }
  ExpectNotVacuous(stats, int64_t{40} * (20000 * 3 + 7 * (101 + 102 + 103)));
}

// The real tag library with 60 more tags in front, so that it has more than 64 tags and most real
// tags have ids ≥ 64: the policy index's multi-word held-tag vector and its fallbacks (no masks
// for tags ≥ 64, tag or/and as generic conditions) are exercised.
const Taxonomy& WideTaxonomy() {
  static const Taxonomy* wide = [] {
    auto read = [](const std::string& name, google::protobuf::Message* m) {
      std::ifstream in(testing::RulesDir() + "/taxonomy/" + name);
      std::stringstream text;
      text << in.rdbuf();
      if (!google::protobuf::TextFormat::ParseFromString(text.str(), m)) std::abort();
    };
    TagLibrary real, lib;
    CodeList regions, industries;
    read("tags.textproto", &real);
    read("regions.textproto", &regions);
    read("industries.textproto", &industries);
    lib = real;
    lib.clear_tag();
    for (int i = 0; i < 60; ++i) {
      TagDef* t = lib.add_tag();
      t->set_id(absl::StrCat("aa.pad", i));
      t->set_name(absl::StrCat("填充标签", i));
      t->set_actionable(i % 2 == 0);
    }
    for (const TagDef& t : real.tag()) *lib.add_tag() = t;
    Diagnostics diags;
    absl::StatusOr<Taxonomy> t = Taxonomy::FromProtos(lib, regions, industries, &diags);
    if (!t.ok()) {
      std::cerr << t.status() << "\n";
      std::abort();
    }
    return new Taxonomy(std::move(*t));
  }();
  return *wide;
}

// The single-firm policy index (scope lists, tag/fact prefilter, compiled conditions, early exit)
// against the reference evaluator firm by firm, on the same random catalogs: every status and
// benefit, exclusive groups applied (limits rank across firms and are not the index's).
void CheckPolicyIndex(const Taxonomy& tax, uint64_t first_seed, uint64_t last_seed, int64_t* pairs,
                      int64_t* applicable) {
  auto taxonomy = std::make_shared<const Taxonomy>(tax);
  for (uint64_t seed = first_seed; seed <= last_seed; ++seed) {
    const absl::CivilDay as_of = absl::CivilDay(2023, 6, 15) + static_cast<int>(seed % 7) * 37;
    Gen gen(seed, as_of, *taxonomy);
    PolicyCatalog msg;
    for (int i = 0; i < 200; ++i) {
      Policy p = gen.RandomPolicy(i);
      for (int k = 0, n = gen.Uniform(4); k < n; ++k) {
        p.set_eligibility(absl::StrCat(p.eligibility(), " and ", gen.IndexShape()));
      }
      *msg.add_policy() = std::move(p);
    }
    Diagnostics diags;
    absl::StatusOr<Catalog> catalog = Catalog::FromProtos(taxonomy, {msg}, &diags);
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    const PolicyIndex index(*catalog);
    const ReferenceMatcher reference(*catalog);
    std::vector<PolicyHit> hits;
    for (int i = 0; i < 400; ++i) {
      Firm firm = gen.RandomFirm(static_cast<int>(seed) * 100000 + i);
      if (i % 53 == 0) firm.region = "";  // unknown region: every policy is a candidate
      const FirmView view(firm, *taxonomy, as_of);
      const std::vector<Outcome> want = reference.EvaluateFirm(view);
      index.Match(view, &hits);
      std::vector<Outcome> got(want.size());
      for (size_t k = 0; k < hits.size(); ++k) {
        ASSERT_TRUE(k == 0 || hits[k - 1].policy < hits[k].policy) << "hits not in catalog order";
        ASSERT_NE(hits[k].status, INELIGIBLE);
        got[hits[k].policy] = hits[k].outcome();
      }
      for (size_t p = 0; p < want.size(); ++p, ++*pairs) {
        *applicable += want[p].status != INELIGIBLE;
        if (want[p] == got[p]) continue;
        ADD_FAILURE() << "seed " << seed << " as_of " << FormatDate(as_of) << "\npolicy "
                      << catalog->policies()[p].policy.DebugString() << "firm "
                      << FirmToProfile(firm, *taxonomy).DebugString()
                      << "reference: " << DescribeOutcome(want[p])
                      << "\nindex:     " << DescribeOutcome(got[p]);
        return;
      }
    }
  }
}

TEST(PolicyIndexDifferentialTest, EqualsTheReferenceFirmByFirm) {
  int64_t pairs = 0, applicable = 0;
  CheckPolicyIndex(RealTaxonomy(), 201, 216, &pairs, &applicable);
  EXPECT_EQ(pairs, 16 * 200 * 400);
  EXPECT_GT(applicable, pairs / 20);  // not vacuous
  std::cout << "pairs: " << pairs << " (not ineligible " << applicable << ")\n";
}

// The portable prefilter (the test above uses the AVX-512 one where the CPU has it).
TEST(PolicyIndexDifferentialTest, WithoutSimd) {
  plan_internal::DisableSimdForTesting(true);
  int64_t pairs = 0, applicable = 0;
  CheckPolicyIndex(RealTaxonomy(), 221, 228, &pairs, &applicable);
  plan_internal::DisableSimdForTesting(false);
  EXPECT_EQ(pairs, 8 * 200 * 400);
  EXPECT_GT(applicable, pairs / 20);
}

TEST(PolicyIndexDifferentialTest, MoreThan64Tags) {
  ASSERT_GT(WideTaxonomy().num_tags(), 64);
  int64_t pairs = 0, applicable = 0;
  CheckPolicyIndex(WideTaxonomy(), 301, 304, &pairs, &applicable);
  EXPECT_EQ(pairs, 4 * 200 * 400);
  EXPECT_GT(applicable, pairs / 20);
  std::cout << "pairs: " << pairs << " (not ineligible " << applicable << ")\n";
}

}  // namespace
}  // namespace polmatch
