#include "engine/match/plan_eval.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <emmintrin.h>
#include <nmmintrin.h>
#include <xmmintrin.h>
#include <functional>

#include "engine/util/dates.h"
#include "engine/util/decimal.h"

namespace polmatch {
namespace plan_internal {
namespace {

std::atomic<bool> simd_disabled{false};

constexpr int64_t kOne = Decimal::kOne;
constexpr int64_t kMaxRaw = Decimal::kMaxRaw;


// The magnitude of a quotient rounded toward −∞ (Decimal Mul/Div): |n| / d truncated, plus one
// when the quotient is `negative` and inexact; for a 128-bit magnitude and d > 0. False when the
// quotient does not fit in 63 bits (then it is out of Decimal range anyway).
bool DivMagnitude(unsigned __int128 n, uint64_t d, bool negative, uint64_t* q_out) {
  const uint64_t hi = static_cast<uint64_t>(n >> 64), lo = static_cast<uint64_t>(n);
  if (hi >= d) return false;  // quotient ≥ 2^64
  uint64_t q, r;
#if defined(__x86_64__)
  __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
#else
  q = static_cast<uint64_t>(n / d);
  r = static_cast<uint64_t>(n % d);
#endif
  if (negative && r != 0) ++q;
  if (q > static_cast<uint64_t>(kMaxRaw)) return false;
  *q_out = q;
  return true;
}

uint64_t Magnitude(int64_t v) { return v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v); }

}  // namespace

void DisableSimdForTesting(bool disabled) { simd_disabled = disabled; }
bool SimdDisabled() { return simd_disabled.load(std::memory_order_relaxed); }

bool MulRawWide(int64_t a, int64_t b, int64_t* out) {
  const bool negative = (a < 0) != (b < 0);
  const unsigned __int128 n = static_cast<unsigned __int128>(Magnitude(a)) * Magnitude(b);
  uint64_t q;
  if (!DivMagnitude(n, kOne, negative, &q)) return false;
  *out = negative ? -static_cast<int64_t>(q) : static_cast<int64_t>(q);
  return true;
}

// a·10⁶ / b, rounded toward −∞ (Decimal Div); b = 0 is unknown.
bool DivRaw(int64_t a, int64_t b, int64_t* out) {
  if (b == 0) return false;
  const bool negative = (a < 0) != (b < 0);
  const uint64_t ma = Magnitude(a), mb = Magnitude(b);
  uint64_t q;
  if (ma <= static_cast<uint64_t>(INT64_MAX) / kOne) {
    const uint64_t n = ma * kOne;
    q = n / mb;
    if (negative && n % mb != 0) ++q;
    if (q > static_cast<uint64_t>(kMaxRaw)) return false;
  } else if (!DivMagnitude(static_cast<unsigned __int128>(ma) * kOne, mb, negative, &q)) {
    return false;
  }
  *out = negative ? -static_cast<int64_t>(q) : static_cast<int64_t>(q);
  return true;
}

// Whole years from day `from` to day `to` (days since 1970-01-01), exactly as YearsBetween of
// dates.h counts them, with civil dates from days by Howard Hinnant's algorithm (no table, no
// time-zone library on the per-row path).
namespace {
struct Ymd {
  int64_t y;
  int m, d;
};
Ymd CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2), m, d};
}

// Birthday counting from a to b, a ≤ b.
int64_t YearsUpTo(const Ymd& a, const Ymd& b) {
  int64_t years = b.y - a.y;
  if (b.m < a.m || (b.m == a.m && b.d < a.d)) --years;
  return years;
}

// YearsBetweenDays with one side's civil date already known.
int64_t YearsBetweenDays(int64_t from, const Ymd& from_ymd, int64_t to, const Ymd& to_ymd) {
  return to < from ? -YearsUpTo(to_ymd, from_ymd) : YearsUpTo(from_ymd, to_ymd);
}
}  // namespace

int64_t YearsBetweenDays(int64_t from, int64_t to) {
  return YearsBetweenDays(from, CivilFromDays(from), to, CivilFromDays(to));
}

namespace {
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}
bool IsLeap(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }
}  // namespace

FixedDateYears::FixedDateYears(int64_t day) : day_(day) {
  const Ymd c = CivilFromDays(day);
  y_ = c.y;
  m_ = c.m;
  d_ = c.d;
}

// The last day x with years_between(x, day) ≥ k: the anniversary k years back (Feb 28 for a
// Feb 29 date in a common year).
int64_t FixedDateYears::Back(int64_t k) {
  if (k < kCache && back_[k] != kUnset) return back_[k];
  const int64_t y = y_ - k;
  const int64_t t = DaysFromCivil(y, m_, (m_ == 2 && d_ == 29 && !IsLeap(y)) ? 28 : d_);
  if (k < kCache) back_[k] = t;
  return t;
}

// The first day x with years_between(day, x) ≥ k: the anniversary k years on (Mar 1 for a
// Feb 29 date in a common year).
int64_t FixedDateYears::Forward(int64_t k) {
  if (k < kCache && forward_[k] != kUnset) return forward_[k];
  const int64_t y = y_ + k;
  const int64_t t = (m_ == 2 && d_ == 29 && !IsLeap(y)) ? DaysFromCivil(y, 3, 1) : DaysFromCivil(y, m_, d_);
  if (k < kCache) forward_[k] = t;
  return t;
}

int64_t FixedDateYears::UpTo(int64_t x) {  // x ≤ day: years_between(x, day)
  int64_t k = (day_ - x) / 365 + 1;  // an upper bound: every year has ≥ 365 days
  while (k > 0 && x > Back(k)) --k;
  return k;
}

int64_t FixedDateYears::From(int64_t x) {  // x ≥ day: years_between(day, x)
  int64_t k = (x - day_) / 365 + 1;
  while (k > 0 && x < Forward(k)) --k;
  return k;
}

int64_t FixedDateYears::YearsFrom(int64_t x) { return x <= day_ ? UpTo(x) : -From(x); }
int64_t FixedDateYears::YearsTo(int64_t x) { return x >= day_ ? From(x) : -UpTo(x); }

namespace {
// years_between(row, b) (a_first) or years_between(b, row) for the rows of `in`, b fixed.
void YearsToScalar(const int64_t* a, int64_t b, bool a_first, uint64_t in, uint32_t base, int64_t* v,
                   FixedDateYears* fixed) {
  while (in != 0) {
    const uint32_t i = base + __builtin_ctzll(in);
    in &= in - 1;
    v[i] = (a_first ? fixed->YearsFrom(a[i]) : fixed->YearsTo(a[i])) * Decimal::kOne;
  }
}
}  // namespace

bool CompareRaw(Op op, int64_t a, int64_t b) {
  switch (op) {
    case Op::kLt: return a < b;
    case Op::kLe: return a <= b;
    case Op::kGt: return a > b;
    case Op::kGe: return a >= b;
    case Op::kEq: return a == b;
    case Op::kNe: return a != b;
    default: return false;
  }
}

}  // namespace plan_internal

namespace {

using plan_internal::AddRaw;
using plan_internal::CompareRaw;
using plan_internal::DivRaw;
using plan_internal::MulRaw;
using plan_internal::SubRaw;
using plan_internal::YearsBetweenDays;
using plan_internal::FixedDateYears;
using plan_internal::YearsToScalar;

alignas(64) const uint64_t kOnes[kBlockWords] = {
#define POLMATCH_ONES8 ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL
    POLMATCH_ONES8, POLMATCH_ONES8, POLMATCH_ONES8, POLMATCH_ONES8, POLMATCH_ONES8, POLMATCH_ONES8,
    POLMATCH_ONES8, POLMATCH_ONES8, POLMATCH_ONES8, POLMATCH_ONES8, POLMATCH_ONES8, POLMATCH_ONES8,
    POLMATCH_ONES8, POLMATCH_ONES8, POLMATCH_ONES8, POLMATCH_ONES8,
#undef POLMATCH_ONES8
};
alignas(64) const uint64_t kZeros[kBlockWords] = {};

inline bool Bit(const uint64_t* w, uint32_t i) { return (w[i >> 6] >> (i & 63)) & 1; }

inline int64_t At(const BlockEvaluator::NumView& v, uint32_t i) { return v.v ? v.v[i] : v.scalar; }
inline bool KnownAt(const BlockEvaluator::NumView& v, uint32_t i) { return Bit(v.known, i); }

// Comparisons with SSE4.2's 64-bit compare (pcmpgtq/pcmpeqq), two rows per instruction, 16
// rows packed to 16 bits at a time; m[w] gets bit j set when row 64w+j compares true. kOp: 0 is
// a > b, 1 is a < b, 2 is a == b; kInvert negates (≤, ≥, ≠). b is a constant when kScalar.
template <int kOp>
__attribute__((target("sse4.2"))) inline __m128i Compare2(__m128i a, __m128i b) {
  if (kOp == 0) return _mm_cmpgt_epi64(a, b);
  if (kOp == 1) return _mm_cmpgt_epi64(b, a);
  return _mm_cmpeq_epi64(a, b);
}

// The low 32 bits of each 64-bit lane of x and y: four 0/−1 lanes.
__attribute__((target("sse4.2"))) inline __m128i Evens(__m128i x, __m128i y) {
  return _mm_castps_si128(
      _mm_shuffle_ps(_mm_castsi128_ps(x), _mm_castsi128_ps(y), _MM_SHUFFLE(2, 0, 2, 0)));
}

template <int kOp, bool kInvert, bool kScalar>
__attribute__((target("sse4.2"))) void CompareBlockSse42(const int64_t* a, const int64_t* b,
                                                          int64_t c, uint64_t* m) {
  const __m128i cv = _mm_set1_epi64x(c);
  for (uint32_t w = 0; w < kBlockWords; ++w) {
    uint64_t bits = 0;
    for (uint32_t j = 0; j < 64; j += 16) {
      const uint32_t i = w * 64 + j;
      __m128i r[8];
      for (int q = 0; q < 8; ++q) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i + 2 * q));
        const __m128i y =
            kScalar ? cv : _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i + 2 * q));
        r[q] = Compare2<kOp>(x, y);
      }
      const __m128i lo = _mm_packs_epi32(Evens(r[0], r[1]), Evens(r[2], r[3]));
      const __m128i hi = _mm_packs_epi32(Evens(r[4], r[5]), Evens(r[6], r[7]));
      bits |= static_cast<uint64_t>(static_cast<uint16_t>(_mm_movemask_epi8(_mm_packs_epi16(lo, hi))))
              << j;
    }
    m[w] = kInvert ? ~bits : bits;
  }
}

template <bool kScalar>
void CompareSse42(Op op, const int64_t* a, const int64_t* b, int64_t c, uint64_t* m) {
  switch (op) {
    case Op::kGt: CompareBlockSse42<0, false, kScalar>(a, b, c, m); break;
    case Op::kLe: CompareBlockSse42<0, true, kScalar>(a, b, c, m); break;
    case Op::kLt: CompareBlockSse42<1, false, kScalar>(a, b, c, m); break;
    case Op::kGe: CompareBlockSse42<1, true, kScalar>(a, b, c, m); break;
    case Op::kEq: CompareBlockSse42<2, false, kScalar>(a, b, c, m); break;
    default: CompareBlockSse42<2, true, kScalar>(a, b, c, m); break;
  }
}

// Industry id ranges, 16 rows at a time with SSE2 (x86-64 baseline): T where the id is in one
// of `ranges`, F where it is known (not 0) and in none.
void IndustryRangesBlock(const uint16_t* ids, const std::vector<std::pair<uint16_t, uint32_t>>& ranges,
                         uint64_t* t, uint64_t* f) {
  constexpr size_t kMaxRanges = 16;
  __m128i lo[kMaxRanges], len[kMaxRanges];
  const __m128i bias = _mm_set1_epi16(static_cast<int16_t>(0x8000));
  const size_t n = ranges.size();
  for (size_t r = 0; r < n; ++r) {
    lo[r] = _mm_set1_epi16(static_cast<int16_t>(ranges[r].first));
    // (id − lo) <ᵤ len, as a signed compare after flipping the top bit.
    len[r] = _mm_set1_epi16(static_cast<int16_t>((ranges[r].second - ranges[r].first) ^ 0x8000));
  }
  const __m128i zero = _mm_setzero_si128();
  for (uint32_t w = 0; w < kBlockWords; ++w) {
    uint64_t tb = 0, ub = 0;
    for (uint32_t j = 0; j < 64; j += 16) {
      const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ids + w * 64 + j));
      const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ids + w * 64 + j + 8));
      __m128i m0 = zero, m1 = zero;
      for (size_t r = 0; r < n; ++r) {
        m0 = _mm_or_si128(m0, _mm_cmplt_epi16(_mm_xor_si128(_mm_sub_epi16(x0, lo[r]), bias), len[r]));
        m1 = _mm_or_si128(m1, _mm_cmplt_epi16(_mm_xor_si128(_mm_sub_epi16(x1, lo[r]), bias), len[r]));
      }
      tb |= static_cast<uint64_t>(static_cast<uint16_t>(_mm_movemask_epi8(_mm_packs_epi16(m0, m1)))) << j;
      const __m128i u = _mm_packs_epi16(_mm_cmpeq_epi16(x0, zero), _mm_cmpeq_epi16(x1, zero));
      ub |= static_cast<uint64_t>(static_cast<uint16_t>(_mm_movemask_epi8(u))) << j;
    }
    t[w] = tb;
    f[w] = ~(tb | ub);
  }
}

bool HaveSse42() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have && !plan_internal::simd_disabled.load(std::memory_order_relaxed);
}

// Comparison kernel: T = known ∧ (a op b), F = known ∧ ¬(a op b).
template <typename Cmp>
void CompareBlock(const BlockEvaluator::NumView& a, const BlockEvaluator::NumView& b, Cmp cmp,
                  uint64_t* t, uint64_t* f) {
  for (uint32_t w = 0; w < kBlockWords; ++w) {
    const uint64_t known = a.known[w] & b.known[w];
    uint64_t m = 0;
    const uint32_t base = w * 64;
    if (a.v && !b.v) {
      const int64_t* av = a.v + base;
      const int64_t c = b.scalar;
      for (uint32_t j = 0; j < 64; ++j) m |= static_cast<uint64_t>(cmp(av[j], c)) << j;
    } else if (a.v && b.v) {
      const int64_t* av = a.v + base;
      const int64_t* bv = b.v + base;
      for (uint32_t j = 0; j < 64; ++j) m |= static_cast<uint64_t>(cmp(av[j], bv[j])) << j;
    } else {
      for (uint32_t j = 0; j < 64; ++j) m |= static_cast<uint64_t>(cmp(At(a, base + j), At(b, base + j))) << j;
    }
    t[w] = known & m;
    f[w] = known & ~m;
  }
}

// Binary arithmetic kernel: rows known in both operands whose result is in range.
template <typename Fn>
void ArithBlock(const BlockEvaluator::NumView& a, const BlockEvaluator::NumView& b, Fn fn,
                int64_t* v, uint64_t* known) {
  for (uint32_t w = 0; w < kBlockWords; ++w) {
    uint64_t in = a.known[w] & b.known[w];
    uint64_t out = 0;
    while (in != 0) {
      const uint32_t j = __builtin_ctzll(in);
      in &= in - 1;
      const uint32_t i = w * 64 + j;
      if (fn(At(a, i), At(b, i), &v[i])) out |= 1ULL << j;
    }
    known[w] = out;
  }
}

}  // namespace

BlockEvaluator::BlockEvaluator(const MatchPlan& plan, const FirmStore& store, absl::CivilDay as_of)
    : plan_(plan),
      store_(store),
      taxonomy_(&plan.taxonomy()),
      as_of_(DayNumber(as_of)),
      stamp_(plan.nodes().size(), 0),
      bool_views_(plan.nodes().size()),
      num_views_(plan.nodes().size()),
      bool_slots_(size_t(plan.num_bool_slots()) * 2 * kBlockWords),
      num_values_(size_t(plan.num_num_slots()) * kBlockRows),
      num_known_(size_t(plan.num_num_slots()) * kBlockWords),
      scratch_from_(kBlockRows),
      scratch_to_(kBlockRows) {}

void BlockEvaluator::SetBlock(uint32_t block) {
  block_begin_ = block * kBlockRows;
  ++stamp_now_;
  std::memset(valid_, 0, sizeof(valid_));
  const uint32_t end = std::min(store_.num_rows(), block_begin_ + kBlockRows);
  if (end > block_begin_) SetBitRange(valid_, 0, end - block_begin_);
}

BlockEvaluator::BoolView BlockEvaluator::Bool(int32_t id) {
  if (Evaluated(id)) return bool_views_[id];
  ++dense_evaluations_;
  BoolView v = EvalBool(plan_.nodes()[id]);
  bool_views_[id] = v;
  stamp_[id] = stamp_now_;
  return v;
}

BlockEvaluator::NumView BlockEvaluator::Num(int32_t id) {
  if (Evaluated(id)) return num_views_[id];
  ++dense_evaluations_;
  NumView v = EvalNum(plan_.nodes()[id]);
  num_views_[id] = v;
  stamp_[id] = stamp_now_;
  return v;
}

void BlockEvaluator::TagHeld(TagId tag, uint64_t* t) {
  std::memset(t, 0, kBlockWords * sizeof(uint64_t));
  const uint32_t end = block_begin_ + kBlockRows;
  for (TagId d : taxonomy_->tag(tag).descendants) {
    const TagGrantColumn g = store_.grants(d);
    size_t k = std::lower_bound(g.rows, g.rows + g.size, block_begin_) - g.rows;
    for (; k < g.size && g.rows[k] < end; ++k) {
      if (g.from[k] <= as_of_ && as_of_ <= g.to[k]) SetBit(t, g.rows[k] - block_begin_);
    }
  }
}

void BlockEvaluator::TagValidity(TagId tag, bool want_to, int64_t* v, uint64_t* known) {
  uint64_t held[kBlockWords] = {};
  int32_t* best_from = scratch_from_.data();
  int32_t* best_to = scratch_to_.data();
  const uint32_t end = block_begin_ + kBlockRows;
  for (TagId d : taxonomy_->tag(tag).descendants) {
    const TagGrantColumn g = store_.grants(d);
    size_t k = std::lower_bound(g.rows, g.rows + g.size, block_begin_) - g.rows;
    for (; k < g.size && g.rows[k] < end; ++k) {
      if (!(g.from[k] <= as_of_ && as_of_ <= g.to[k])) continue;
      const uint32_t i = g.rows[k] - block_begin_;
      // FirmView::HoldingGrant: the grant that ends last (open = last), then starts first.
      if (!Bit(held, i) || g.to[k] > best_to[i] || (g.to[k] == best_to[i] && g.from[k] < best_from[i])) {
        SetBit(held, i);
        best_from[i] = g.from[k];
        best_to[i] = g.to[k];
      }
    }
  }
  std::memset(known, 0, kBlockWords * sizeof(uint64_t));
  ForEachBit(held, kBlockWords, [&](uint32_t i) {
    const int32_t d = want_to ? best_to[i] : best_from[i];
    if (d == (want_to ? kOpenTo : kOpenFrom)) return;
    v[i] = d;
    SetBit(known, i);
  });
}

bool BlockEvaluator::RowTagGrant(TagId tag, uint32_t row, int32_t* from, int32_t* to) const {
  bool held = false;
  for (TagId d : taxonomy_->tag(tag).descendants) {
    const TagGrantColumn g = store_.grants(d);
    size_t k = std::lower_bound(g.rows, g.rows + g.size, row) - g.rows;
    for (; k < g.size && g.rows[k] == row; ++k) {
      if (!(g.from[k] <= as_of_ && as_of_ <= g.to[k])) continue;
      if (!held || g.to[k] > *to || (g.to[k] == *to && g.from[k] < *from)) {
        held = true;
        *from = g.from[k];
        *to = g.to[k];
      }
    }
  }
  return held;
}

BlockEvaluator::BoolView BlockEvaluator::EvalBool(const PlanNode& n) {
  if (n.op == PlanOp::kBoolConst) return n.imm ? BoolView{kOnes, kZeros} : BoolView{kZeros, kOnes};
  if (n.op == PlanOp::kNot) {
    const BoolView c = Bool(n.args[0]);
    return {c.f, c.t};
  }
  uint64_t* t = BoolSlotT(n.slot);
  uint64_t* f = BoolSlotF(n.slot);
  switch (n.op) {
    case PlanOp::kTagHeld:
      TagHeld(TagId(static_cast<uint32_t>(n.imm)), t);
      for (uint32_t w = 0; w < kBlockWords; ++w) f[w] = ~t[w];
      break;
    case PlanOp::kHasFact: {
      const uint64_t* k = store_.fact_known(FactId(static_cast<uint32_t>(n.imm))) + block_begin_ / 64;
      for (uint32_t w = 0; w < kBlockWords; ++w) {
        t[w] = k[w];
        f[w] = ~k[w];
      }
      break;
    }
    case PlanOp::kRegionSet: {
      std::memset(t, 0, kBlockWords * sizeof(uint64_t));
      uint64_t u[kBlockWords] = {};
      const uint32_t end = block_begin_ + kBlockRows;
      auto mark = [&](RowRange r, uint64_t* words) {
        const uint32_t b = std::max(r.begin, block_begin_), e = std::min(r.end, end);
        if (b < e) SetBitRange(words, b - block_begin_, e - block_begin_);
      };
      const auto& rows = plan_.region_sets()[n.aux].true_rows;
      auto it = std::upper_bound(rows.begin(), rows.end(), block_begin_,
                                 [](uint32_t x, RowRange r) { return x < r.end; });
      for (; it != rows.end() && it->begin < end; ++it) mark(*it, t);
      mark(store_.UnknownRegionRange(), u);
      for (uint32_t w = 0; w < kBlockWords; ++w) f[w] = ~(t[w] | u[w]);
      break;
    }
    case PlanOp::kIndustrySet: {
      const uint16_t* ids = store_.industry_ids() + block_begin_;
      const IndustrySet& set = plan_.industry_sets()[n.aux];
      if (set.ranges_valid && set.true_ids.size() <= 16 && !plan_internal::simd_disabled) {
        IndustryRangesBlock(ids, set.true_ids, t, f);
        break;
      }
      const uint8_t* value = set.value.data();
      for (uint32_t w = 0; w < kBlockWords; ++w) {
        uint64_t tw = 0, fw = 0;
        for (uint32_t j = 0; j < 64; ++j) {
          const uint8_t x = value[ids[w * 64 + j]];
          tw |= static_cast<uint64_t>(x == 1) << j;
          fw |= static_cast<uint64_t>(x == 0) << j;
        }
        t[w] = tw;
        f[w] = fw;
      }
      break;
    }
    case PlanOp::kAnd:
    case PlanOp::kOr: {
      const uint64_t* ts[16];
      const uint64_t* fs[16];
      std::vector<const uint64_t*> tv, fv;
      const uint64_t** tp = ts;
      const uint64_t** fp = fs;
      if (n.args.size() > 16) {
        tv.resize(n.args.size());
        fv.resize(n.args.size());
        tp = tv.data();
        fp = fv.data();
      }
      for (size_t i = 0; i < n.args.size(); ++i) {
        const BoolView c = Bool(n.args[i]);
        tp[i] = c.t;
        fp[i] = c.f;
      }
      if (n.op == PlanOp::kAnd) {
        KleeneAnd(tp, fp, n.args.size(), t, f);
      } else {
        KleeneOr(tp, fp, n.args.size(), t, f);
      }
      break;
    }
    case PlanOp::kCompare: {
      const NumView a = Num(n.args[0]);
      const NumView b = Num(n.args[1]);
      if (a.v != nullptr && HaveSse42()) {
        if (b.v == nullptr) {
          CompareSse42<true>(n.cmp, a.v, nullptr, b.scalar, t);
        } else {
          CompareSse42<false>(n.cmp, a.v, b.v, 0, t);
        }
        for (uint32_t w = 0; w < kBlockWords; ++w) {
          const uint64_t known = a.known[w] & b.known[w];
          f[w] = known & ~t[w];
          t[w] &= known;
        }
        break;
      }
      switch (n.cmp) {
        case Op::kLt: CompareBlock(a, b, [](int64_t x, int64_t y) { return x < y; }, t, f); break;
        case Op::kLe: CompareBlock(a, b, [](int64_t x, int64_t y) { return x <= y; }, t, f); break;
        case Op::kGt: CompareBlock(a, b, [](int64_t x, int64_t y) { return x > y; }, t, f); break;
        case Op::kGe: CompareBlock(a, b, [](int64_t x, int64_t y) { return x >= y; }, t, f); break;
        case Op::kEq: CompareBlock(a, b, [](int64_t x, int64_t y) { return x == y; }, t, f); break;
        default: CompareBlock(a, b, [](int64_t x, int64_t y) { return x != y; }, t, f); break;
      }
      break;
    }
    case PlanOp::kBoolEq: {
      const BoolView a = Bool(n.args[0]);
      const BoolView b = Bool(n.args[1]);
      for (uint32_t w = 0; w < kBlockWords; ++w) {
        const uint64_t known = (a.t[w] | a.f[w]) & (b.t[w] | b.f[w]);
        const uint64_t eq = (a.t[w] & b.t[w]) | (a.f[w] & b.f[w]);
        const uint64_t ne = known & ~eq;
        t[w] = n.cmp == Op::kEq ? eq : ne;
        f[w] = n.cmp == Op::kEq ? ne : eq;
      }
      break;
    }
    case PlanOp::kIfBool: {
      const BoolView c = Bool(n.args[0]);
      const BoolView a = Bool(n.args[1]);
      const BoolView b = Bool(n.args[2]);
      for (uint32_t w = 0; w < kBlockWords; ++w) {
        t[w] = (c.t[w] & a.t[w]) | (c.f[w] & b.t[w]);
        f[w] = (c.t[w] & a.f[w]) | (c.f[w] & b.f[w]);
      }
      break;
    }
    default:
      std::memset(t, 0, kBlockWords * sizeof(uint64_t));
      std::memset(f, 0, kBlockWords * sizeof(uint64_t));
      break;
  }
  return {t, f};
}

BlockEvaluator::NumView BlockEvaluator::EvalNum(const PlanNode& n) {
  switch (n.op) {
    case PlanOp::kNumConst: return {nullptr, kOnes, n.imm};
    case PlanOp::kAsOf: return {nullptr, kOnes, as_of_};
    case PlanOp::kFact: {
      const FactId fact(static_cast<uint32_t>(n.imm));
      return {store_.fact_values(fact) + block_begin_, store_.fact_known(fact) + block_begin_ / 64, 0};
    }
    default: break;
  }
  int64_t* v = NumSlotV(n.slot);
  uint64_t* known = NumSlotK(n.slot);
  switch (n.op) {
    case PlanOp::kFounded: {
      const int32_t* days = store_.founded_days() + block_begin_;
      for (uint32_t i = 0; i < kBlockRows; ++i) v[i] = days[i];
      std::memcpy(known, store_.founded_known() + block_begin_ / 64, kBlockWords * sizeof(uint64_t));
      break;
    }
    case PlanOp::kValidFrom:
    case PlanOp::kValidTo:
      TagValidity(TagId(static_cast<uint32_t>(n.imm)), n.op == PlanOp::kValidTo, v, known);
      break;
    case PlanOp::kNeg:
    case PlanOp::kAbs: {
      const NumView a = Num(n.args[0]);
      for (uint32_t i = 0; i < kBlockRows; ++i) {
        const int64_t x = At(a, i);
        v[i] = (n.op == PlanOp::kNeg || x < 0) ? -x : x;
      }
      std::memcpy(known, a.known, kBlockWords * sizeof(uint64_t));
      break;
    }
    case PlanOp::kAdd: ArithBlock(Num(n.args[0]), Num(n.args[1]), AddRaw, v, known); break;
    case PlanOp::kSub: ArithBlock(Num(n.args[0]), Num(n.args[1]), SubRaw, v, known); break;
    case PlanOp::kMul: ArithBlock(Num(n.args[0]), Num(n.args[1]), MulRaw, v, known); break;
    case PlanOp::kDiv: ArithBlock(Num(n.args[0]), Num(n.args[1]), DivRaw, v, known); break;
    case PlanOp::kMin:
    case PlanOp::kMax: {
      const NumView first = Num(n.args[0]);
      for (uint32_t i = 0; i < kBlockRows; ++i) v[i] = At(first, i);
      std::memcpy(known, first.known, kBlockWords * sizeof(uint64_t));
      const bool is_min = n.op == PlanOp::kMin;
      for (size_t k = 1; k < n.args.size(); ++k) {
        const NumView a = Num(n.args[k]);
        for (uint32_t i = 0; i < kBlockRows; ++i) {
          const int64_t x = At(a, i);
          v[i] = is_min ? std::min(v[i], x) : std::max(v[i], x);
        }
        for (uint32_t w = 0; w < kBlockWords; ++w) known[w] &= a.known[w];
      }
      break;
    }
    case PlanOp::kIfNum: {
      const BoolView c = Bool(n.args[0]);
      const NumView a = Num(n.args[1]);
      const NumView b = Num(n.args[2]);
      for (uint32_t w = 0; w < kBlockWords; ++w) {
        known[w] = (c.t[w] & a.known[w]) | (c.f[w] & b.known[w]);
        for (uint32_t j = 0; j < 64; ++j) {
          const uint32_t i = w * 64 + j;
          v[i] = ((c.t[w] >> j) & 1) ? At(a, i) : At(b, i);
        }
      }
      break;
    }
    case PlanOp::kTier: {
      // The reference order: thresholds in turn; an amount is read only when its threshold is the
      // highest one ≤ x so far, and an unknown read makes the whole tier unknown.
      std::vector<NumView> args;
      args.reserve(n.args.size());
      for (int32_t a : n.args) args.push_back(Num(a));
      std::memset(known, 0, kBlockWords * sizeof(uint64_t));
      for (uint32_t i = 0; i < kBlockRows; ++i) {
        if (!KnownAt(args[0], i)) continue;
        const int64_t x = At(args[0], i);
        bool have_best = false, ok = true;
        int64_t best = 0, amount = 0;
        for (size_t k = 1; k + 1 < args.size() && ok; k += 2) {
          if (!KnownAt(args[k], i)) {
            ok = false;
            break;
          }
          const int64_t th = At(args[k], i);
          if (th <= x && (!have_best || th > best)) {
            if (!KnownAt(args[k + 1], i)) {
              ok = false;
              break;
            }
            have_best = true;
            best = th;
            amount = At(args[k + 1], i);
          }
        }
        if (!ok) continue;
        v[i] = amount;
        SetBit(known, i);
      }
      break;
    }
    case PlanOp::kYearsBetween:
    case PlanOp::kDaysBetween: {
      const NumView a = Num(n.args[0]);
      const NumView b = Num(n.args[1]);
      const bool years = n.op == PlanOp::kYearsBetween;
      std::optional<FixedDateYears> fixed;
      if (years && (a.v == nullptr) != (b.v == nullptr)) fixed.emplace(a.v == nullptr ? a.scalar : b.scalar);
      for (uint32_t w = 0; w < kBlockWords; ++w) {
        uint64_t in = a.known[w] & b.known[w];
        known[w] = in;
        if (years && a.v != nullptr && b.v == nullptr) {
          YearsToScalar(a.v, b.scalar, /*a_first=*/true, in, w * 64, v, &*fixed);
          continue;
        }
        if (years && a.v == nullptr && b.v != nullptr) {
          YearsToScalar(b.v, a.scalar, /*a_first=*/false, in, w * 64, v, &*fixed);
          continue;
        }
        while (in != 0) {
          const uint32_t i = w * 64 + __builtin_ctzll(in);
          in &= in - 1;
          const int64_t x = At(a, i), y = At(b, i);
          v[i] = (years ? YearsBetweenDays(x, y) : y - x) * Decimal::kOne;
        }
      }
      break;
    }
    default:
      std::memset(known, 0, kBlockWords * sizeof(uint64_t));
      break;
  }
  return {v, known, 0};
}

Tri BlockEvaluator::RowBool(int32_t id, uint32_t i) {
  if (Evaluated(id)) {
    const BoolView& v = bool_views_[id];
    return Bit(v.t, i) ? Tri::kTrue : Bit(v.f, i) ? Tri::kFalse : Tri::kUnknown;
  }
  const PlanNode& n = plan_.nodes()[id];
  const uint32_t row = block_begin_ + i;
  auto of = [](bool b) { return b ? Tri::kTrue : Tri::kFalse; };
  switch (n.op) {
    case PlanOp::kBoolConst: return of(n.imm != 0);
    case PlanOp::kTagHeld: {
      int32_t from, to;
      return of(RowTagGrant(TagId(static_cast<uint32_t>(n.imm)), row, &from, &to));
    }
    case PlanOp::kHasFact: return of(Bit(store_.fact_known(FactId(static_cast<uint32_t>(n.imm))), row));
    case PlanOp::kRegionSet: {
      if (row < store_.UnknownRegionRange().end) return Tri::kUnknown;
      const auto& rows = plan_.region_sets()[n.aux].true_rows;
      auto it = std::upper_bound(rows.begin(), rows.end(), row,
                                 [](uint32_t x, RowRange r) { return x < r.end; });
      return of(it != rows.end() && it->begin <= row);
    }
    case PlanOp::kIndustrySet:
      return static_cast<Tri>(plan_.industry_sets()[n.aux].value[store_.industry_ids()[row]]);
    case PlanOp::kNot: {
      const Tri c = RowBool(n.args[0], i);
      return c == Tri::kUnknown ? c : of(c == Tri::kFalse);
    }
    case PlanOp::kAnd:
    case PlanOp::kOr: {
      const Tri absorbing = n.op == PlanOp::kAnd ? Tri::kFalse : Tri::kTrue;
      bool unknown = false;
      for (int32_t a : n.args) {
        const Tri c = RowBool(a, i);
        if (c == absorbing) return c;
        unknown = unknown || c == Tri::kUnknown;
      }
      return unknown ? Tri::kUnknown : of(n.op == PlanOp::kAnd);
    }
    case PlanOp::kCompare: {
      int64_t a, b;
      const bool ka = RowNum(n.args[0], i, &a);
      const bool kb = RowNum(n.args[1], i, &b);
      if (!ka || !kb) return Tri::kUnknown;
      return of(CompareRaw(n.cmp, a, b));
    }
    case PlanOp::kBoolEq: {
      const Tri a = RowBool(n.args[0], i);
      const Tri b = RowBool(n.args[1], i);
      if (a == Tri::kUnknown || b == Tri::kUnknown) return Tri::kUnknown;
      return of((a == b) == (n.cmp == Op::kEq));
    }
    case PlanOp::kIfBool: {
      const Tri c = RowBool(n.args[0], i);
      if (c == Tri::kUnknown) return c;
      return RowBool(n.args[c == Tri::kTrue ? 1 : 2], i);
    }
    default: return Tri::kUnknown;
  }
}

bool BlockEvaluator::RowNum(int32_t id, uint32_t i, int64_t* out) {
  if (Evaluated(id)) {
    const NumView& v = num_views_[id];
    if (!KnownAt(v, i)) return false;
    *out = At(v, i);
    return true;
  }
  const PlanNode& n = plan_.nodes()[id];
  const uint32_t row = block_begin_ + i;
  switch (n.op) {
    case PlanOp::kNumConst: *out = n.imm; return true;
    case PlanOp::kAsOf: *out = as_of_; return true;
    case PlanOp::kFact: {
      const FactId fact(static_cast<uint32_t>(n.imm));
      if (!Bit(store_.fact_known(fact), row)) return false;
      *out = store_.fact_values(fact)[row];
      return true;
    }
    case PlanOp::kFounded:
      if (!Bit(store_.founded_known(), row)) return false;
      *out = store_.founded_days()[row];
      return true;
    case PlanOp::kValidFrom:
    case PlanOp::kValidTo: {
      int32_t from, to;
      if (!RowTagGrant(TagId(static_cast<uint32_t>(n.imm)), row, &from, &to)) return false;
      const int32_t d = n.op == PlanOp::kValidTo ? to : from;
      if (d == (n.op == PlanOp::kValidTo ? kOpenTo : kOpenFrom)) return false;
      *out = d;
      return true;
    }
    case PlanOp::kNeg:
    case PlanOp::kAbs: {
      int64_t x;
      if (!RowNum(n.args[0], i, &x)) return false;
      *out = (n.op == PlanOp::kNeg || x < 0) ? -x : x;
      return true;
    }
    case PlanOp::kAdd:
    case PlanOp::kSub:
    case PlanOp::kMul:
    case PlanOp::kDiv: {
      int64_t a, b;
      const bool ka = RowNum(n.args[0], i, &a);
      const bool kb = RowNum(n.args[1], i, &b);
      if (!ka || !kb) return false;
      switch (n.op) {
        case PlanOp::kAdd: return AddRaw(a, b, out);
        case PlanOp::kSub: return SubRaw(a, b, out);
        case PlanOp::kMul: return MulRaw(a, b, out);
        default: return DivRaw(a, b, out);
      }
    }
    case PlanOp::kMin:
    case PlanOp::kMax: {
      int64_t best = 0;
      for (size_t k = 0; k < n.args.size(); ++k) {
        int64_t x;
        if (!RowNum(n.args[k], i, &x)) return false;
        if (k == 0 || (n.op == PlanOp::kMin ? x < best : x > best)) best = x;
      }
      *out = best;
      return true;
    }
    case PlanOp::kIfNum: {
      const Tri c = RowBool(n.args[0], i);
      if (c == Tri::kUnknown) return false;
      return RowNum(n.args[c == Tri::kTrue ? 1 : 2], i, out);
    }
    case PlanOp::kTier: {
      int64_t x;
      if (!RowNum(n.args[0], i, &x)) return false;
      bool have_best = false;
      int64_t best = 0, amount = 0;
      for (size_t k = 1; k + 1 < n.args.size(); k += 2) {
        int64_t th;
        if (!RowNum(n.args[k], i, &th)) return false;
        if (th <= x && (!have_best || th > best)) {
          if (!RowNum(n.args[k + 1], i, &amount)) return false;
          have_best = true;
          best = th;
        }
      }
      *out = have_best ? amount : 0;
      return true;
    }
    case PlanOp::kYearsBetween:
    case PlanOp::kDaysBetween: {
      int64_t a, b;
      const bool ka = RowNum(n.args[0], i, &a);
      const bool kb = RowNum(n.args[1], i, &b);
      if (!ka || !kb) return false;
      *out = (n.op == PlanOp::kYearsBetween ? YearsBetweenDays(a, b) : b - a) * Decimal::kOne;
      return true;
    }
    default: return false;
  }
}

// The scratch stack is sized by SelectedNum before any evaluation, so it never moves while
// pointers into it are held.
int64_t* BlockEvaluator::PushValues(uint32_t n) {
  int64_t* p = &sel_values_[sel_values_top_];
  sel_values_top_ += n;
  return p;
}

uint8_t* BlockEvaluator::PushKnown(uint32_t n) {
  uint8_t* p = &sel_known_[sel_known_top_];
  sel_known_top_ += n;
  return p;
}

void BlockEvaluator::SelectedNum(int32_t id, const uint32_t* sel, uint32_t n, int64_t* v,
                                 uint8_t* known) {
  // Each node keeps at most (arity − 1)·n scratch entries while its children run.
  std::function<size_t(int32_t)> need = [&](int32_t node) -> size_t {
    const PlanNode& x = plan_.nodes()[node];
    size_t deepest = 0;
    for (int32_t a : x.args) deepest = std::max(deepest, need(a));
    return (x.args.empty() ? 0 : x.args.size() - 1) + deepest;
  };
  const size_t entries = need(id) * size_t{n};
  sel_values_top_ = sel_known_top_ = 0;
  if (sel_values_.size() < entries) sel_values_.resize(entries);
  if (sel_known_.size() < entries) sel_known_.resize(entries);
  SelectedNumImpl(id, sel, n, v, known);
}

void BlockEvaluator::SelectedNumImpl(int32_t id, const uint32_t* sel, uint32_t n, int64_t* v,
                                     uint8_t* known) {
  if (Evaluated(id)) {
    const NumView& view = num_views_[id];
    for (uint32_t k = 0; k < n; ++k) {
      v[k] = At(view, sel[k]);
      known[k] = KnownAt(view, sel[k]);
    }
    return;
  }
  const PlanNode& node = plan_.nodes()[id];
  // Children are evaluated into stack scratch: reserve it all up front (pointers into a vector
  // that a nested call may grow must not be held), then recurse.
  const size_t values_mark = sel_values_top_, known_mark = sel_known_top_;
  const size_t arity = node.args.size();
  auto child = [&](size_t c, int64_t** cv, uint8_t** ck) {
    *cv = &sel_values_[values_mark + c * n];
    *ck = &sel_known_[known_mark + c * n];
  };
  switch (node.op) {
    case PlanOp::kNumConst:
    case PlanOp::kAsOf: {
      const int64_t x = node.op == PlanOp::kAsOf ? as_of_ : node.imm;
      for (uint32_t k = 0; k < n; ++k) {
        v[k] = x;
        known[k] = 1;
      }
      return;
    }
    case PlanOp::kFact: {
      const FactId fact(static_cast<uint32_t>(node.imm));
      const int64_t* col = store_.fact_values(fact) + block_begin_;
      const uint64_t* kw = store_.fact_known(fact) + block_begin_ / 64;
      for (uint32_t k = 0; k < n; ++k) {
        v[k] = col[sel[k]];
        known[k] = Bit(kw, sel[k]);
      }
      return;
    }
    case PlanOp::kFounded:
    case PlanOp::kValidFrom:
    case PlanOp::kValidTo:
    case PlanOp::kIfNum:
    case PlanOp::kYearsBetween:
    case PlanOp::kDaysBetween:
      // Rare in amounts: row by row.
      for (uint32_t k = 0; k < n; ++k) known[k] = RowNum(id, sel[k], &v[k]);
      return;
    default:
      break;
  }
  // Reserve scratch for the children (all but the first, which goes straight into v/known).
  if (arity > 1) {
    PushValues(static_cast<uint32_t>((arity - 1) * n));
    PushKnown(static_cast<uint32_t>((arity - 1) * n));
  }
  SelectedNumImpl(node.args[0], sel, n, v, known);
  for (size_t c = 1; c < arity; ++c) {
    int64_t* cv;
    uint8_t* ck;
    child(c - 1, &cv, &ck);
    SelectedNumImpl(node.args[c], sel, n, cv, ck);
  }
  int64_t* bv = nullptr;
  uint8_t* bk = nullptr;
  if (arity > 1) child(0, &bv, &bk);
  switch (node.op) {
    case PlanOp::kNeg:
    case PlanOp::kAbs:
      for (uint32_t k = 0; k < n; ++k) v[k] = (node.op == PlanOp::kNeg || v[k] < 0) ? -v[k] : v[k];
      break;
    case PlanOp::kAdd:
      for (uint32_t k = 0; k < n; ++k) known[k] = known[k] & bk[k] && AddRaw(v[k], bv[k], &v[k]);
      break;
    case PlanOp::kSub:
      for (uint32_t k = 0; k < n; ++k) known[k] = known[k] & bk[k] && SubRaw(v[k], bv[k], &v[k]);
      break;
    case PlanOp::kMul:
      for (uint32_t k = 0; k < n; ++k) known[k] = known[k] & bk[k] && MulRaw(v[k], bv[k], &v[k]);
      break;
    case PlanOp::kDiv:
      for (uint32_t k = 0; k < n; ++k) known[k] = known[k] & bk[k] && DivRaw(v[k], bv[k], &v[k]);
      break;
    case PlanOp::kMin:
    case PlanOp::kMax:
      for (size_t c = 1; c < arity; ++c) {
        int64_t* cv;
        uint8_t* ck;
        child(c - 1, &cv, &ck);
        for (uint32_t k = 0; k < n; ++k) {
          known[k] &= ck[k];
          v[k] = node.op == PlanOp::kMin ? std::min(v[k], cv[k]) : std::max(v[k], cv[k]);
        }
      }
      break;
    case PlanOp::kTier:
      for (uint32_t k = 0; k < n; ++k) {
        if (!known[k]) continue;
        const int64_t x = v[k];
        bool have_best = false, ok = true;
        int64_t best = 0, amount = 0;
        for (size_t c = 1; c + 1 < arity; c += 2) {
          int64_t *tv, *av;
          uint8_t *tk, *ak;
          child(c - 1, &tv, &tk);
          child(c, &av, &ak);
          if (!tk[k]) {
            ok = false;
            break;
          }
          if (tv[k] <= x && (!have_best || tv[k] > best)) {
            if (!ak[k]) {
              ok = false;
              break;
            }
            have_best = true;
            best = tv[k];
            amount = av[k];
          }
        }
        known[k] = ok;
        v[k] = amount;
      }
      break;
    default:
      for (uint32_t k = 0; k < n; ++k) known[k] = RowNum(id, sel[k], &v[k]);
      break;
  }
  sel_values_top_ = values_mark;
  sel_known_top_ = known_mark;
}

}  // namespace polmatch
