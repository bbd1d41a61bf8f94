// File: policy_index_prefilter.cc
//
// The prefilter of the single-firm path: one branch-free pass over a scope list that drops the
// policies certain to be INELIGIBLE for the firm (policy_index.h, "Prefilter"). Two forms that
// must agree entry for entry: a portable loop over Verdict (semantics::DecidedIneligibleBits per
// entry) and an AVX-512 one over lane masks; tests run both (plan_internal::SimdDisabled).
#include <cstdint>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "engine/match/plan_eval.h"
#include "engine/match/policy_index.h"
#include "engine/match/semantics.h"

namespace polmatch {

// The prefilter's verdict on entry i, without branches: 0xff when INELIGIBLE is certain, else
// the number of false conditions (0 or 1, then an actionable one) plus 2 × the number of unknown
// ones (0 to 5).
inline uint32_t PolicyIndex::Verdict(const ListView& l, uint32_t i, const FirmBits& f) {
  using PI = PolicyIndex;
  const uint32_t flags = l.flags[i];
  uint32_t fatal = 0, falses = 0, unknowns = 0;
  for (int k = 0; k < 3; ++k) {
    const uint32_t t = l.tag[k][i];
    const uint32_t is_false = (t != PI::kNoTag) & (((f.held0 >> (t & 63)) & 1) != ((t >> 6) & 1));
    fatal |= is_false & ((t >> 7) ^ 1);
    falses += is_false;
  }
  const uint64_t any = f.any_masks[l.any[i]];
  const uint32_t any_false = (any != 0) & ((f.held0 & any) == 0);
  fatal |= any_false & ((flags & PI::kAnyActionable) == 0);
  falses += any_false;
  for (int k = 0; k < 2; ++k) {
    const uint8_t id = l.fact_id[k][i];
    const uint32_t known = (f.fact_known >> id) & 1;
    const uint32_t is_false = known & !CompareByMask(l.fact_ops[k][i], f.fact_raw[id], l.fact_k[k][i]);
    fatal |= is_false & ((flags & (PI::kFactActionable << k)) == 0);
    falses += is_false;
    unknowns += known ^ 1;
  }
  for (int k = 0; k < 2; ++k) {
    const uint8_t pred = l.pred[k][i];
    const uint32_t known = (f.pred_known >> (pred & 63)) & 1;
    const uint32_t is_false = known & (((f.pred_true >> (pred & 63)) & 1) ^ 1);
    fatal |= is_false & ((pred >> 7) ^ 1);
    falses += is_false;
    unknowns += known ^ 1;
  }
  const uint16_t ind = l.industry[i];
  if (ind != PI::kNoIndustry) {  // not actionable: false is fatal
    if (!f.industry_known) {
      ++unknowns;
    } else {
      fatal |= ind != f.industry_under[0] && ind != f.industry_under[1] &&
               ind != f.industry_under[2] && ind != f.industry_under[3];
    }
  }
  const uint32_t single = (flags & PI::kSingle) != 0;
  fatal |= semantics::DecidedIneligibleBits(falses, unknowns, /*nonactionable_false=*/0, single);
  fatal |= ((f.in_force[i >> 3] >> (i & 7)) & 1) ^ 1;
  return fatal ? 0xff : falses + 2 * unknowns;
}

uint32_t PolicyIndex::PrefilterListPortable(const ListView& list, const FirmBits& firm,
                                            uint32_t* survivors) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < list.size; ++i) {
    const uint32_t verdict = Verdict(list, i, firm);
    survivors[n] = i | verdict << kStartShift;
    n += verdict != 0xff;
  }
  return n;
}

#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*: a known false positive.
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// The same, on lane masks: the tag and shared-predicate slots (a byte each) 64 entries at a
// time, the rest eight at a time.
__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,popcnt"))) uint32_t PolicyIndex::PrefilterAvx512(
    const ListView& l, const FirmBits& f, uint32_t* survivors) {
  using PI = PolicyIndex;
  // The firm's facts and the any-masks as tables in registers: a lookup is a permutation (a
  // gather costs several times as much here).
  __m512i facts[8];
  for (int k = 0; k < 8; ++k) facts[k] = _mm512_loadu_si512(f.fact_raw + 8 * k);
  const __m512i bit4 = _mm512_set1_epi64(16), bit5 = _mm512_set1_epi64(32);
  auto fact_value = [&](__m512i id) __attribute__((target("avx512f"))) {
    const __m512i a = _mm512_permutex2var_epi64(facts[0], id, facts[1]);
    const __m512i b = _mm512_permutex2var_epi64(facts[2], id, facts[3]);
    const __m512i c = _mm512_permutex2var_epi64(facts[4], id, facts[5]);
    const __m512i d = _mm512_permutex2var_epi64(facts[6], id, facts[7]);
    const __mmask8 hi16 = _mm512_test_epi64_mask(id, bit4);
    return _mm512_mask_blend_epi64(_mm512_test_epi64_mask(id, bit5), _mm512_mask_blend_epi64(hi16, a, b),
                                   _mm512_mask_blend_epi64(hi16, c, d));
  };
  const bool few_any = f.num_any_masks <= 16;
  const __m512i any_lo = few_any ? _mm512_loadu_si512(f.any_masks) : _mm512_setzero_si512();
  const __m512i any_hi = few_any ? _mm512_loadu_si512(f.any_masks + 8) : _mm512_setzero_si512();
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i false_start = _mm256_set1_epi32(1 << kStartShift);
  const __m256i unknown_start = _mm256_set1_epi32(2 << kStartShift);
  const __m512i held = _mm512_set1_epi64(static_cast<long long>(f.held0));
  const __m512i known_bits = _mm512_set1_epi64(static_cast<long long>(f.fact_known));
  const __m512i pred_known = _mm512_set1_epi64(static_cast<long long>(f.pred_known));
  const __m512i pred_true = _mm512_set1_epi64(static_cast<long long>(f.pred_true));
  const __m512i one = _mm512_set1_epi64(1);
  const __m512i any_actionable = _mm512_set1_epi64(PI::kAnyActionable);
  const __m512i single = _mm512_set1_epi64(PI::kSingle);
  const __m512i fact_actionable[2] = {_mm512_set1_epi64(PI::kFactActionable),
                                      _mm512_set1_epi64(PI::kFactActionable << 1)};
  const __m512i op_bit[3] = {one, _mm512_set1_epi64(2), _mm512_set1_epi64(4)};
  const __m512i no_industry = _mm512_set1_epi64(PI::kNoIndustry);
  const __m512i under[4] = {_mm512_set1_epi64(f.industry_under[0]), _mm512_set1_epi64(f.industry_under[1]),
                            _mm512_set1_epi64(f.industry_under[2]), _mm512_set1_epi64(f.industry_under[3])};
  // Bit (byte & 63) of a 64-bit word, for 64 bytes at once: the word's byte by one shuffle, the
  // bit in it by another.
  const __m512i low6 = _mm512_set1_epi8(63), low3 = _mm512_set1_epi8(7);
  const __m512i bit_of = _mm512_set1_epi64(static_cast<long long>(0x8040201008040201ull));  // 1 << byte
  auto word_bit = [&](__m512i word, __m512i bytes) __attribute__((target("avx512f,avx512bw"))) {
    const __m512i id = _mm512_and_si512(bytes, low6);
    const __m512i byte = _mm512_shuffle_epi8(word, _mm512_and_si512(_mm512_srli_epi16(id, 3), low3));
    return _mm512_test_epi8_mask(byte, _mm512_shuffle_epi8(bit_of, _mm512_and_si512(id, low3)));
  };
  const __m512i no_tag8 = _mm512_set1_epi8(static_cast<char>(PI::kNoTag));
  const __m512i want8 = _mm512_set1_epi8(0x40), actionable8 = _mm512_set1_epi8(static_cast<char>(0x80));
  uint32_t n = 0;
  for (uint32_t block = 0; block < l.size; block += 64) {
    // Tags and shared predicates (reading up to 63 entries past the list: Entries keeps 64 of
    // padding after the last list, and lanes past the list are never used).
    __mmask64 fatal64 = 0, some64 = 0, two64 = 0, pred_unknown64[2];
    auto count64 = [&](__mmask64 m) {
      two64 |= some64 & m;
      some64 |= m;
    };
    for (int k = 0; k < 3; ++k) {
      const __m512i t = _mm512_loadu_si512(l.tag[k] + block);
      const __mmask64 is_false = ~_mm512_cmpeq_epi8_mask(t, no_tag8) & (word_bit(held, t) ^ _mm512_test_epi8_mask(t, want8));
      fatal64 |= is_false & ~_mm512_test_epi8_mask(t, actionable8);
      count64(is_false);
    }
    for (int k = 0; k < 2; ++k) {
      const __m512i p = _mm512_loadu_si512(l.pred[k] + block);
      const __mmask64 known = word_bit(pred_known, p);
      const __mmask64 is_false = known & ~word_bit(pred_true, p);
      fatal64 |= is_false & ~_mm512_test_epi8_mask(p, actionable8);
      count64(is_false);
      pred_unknown64[k] = ~known;
    }
  for (uint32_t i = block; i < l.size && i < block + 64; i += 8) {  // the padding never survives
    const int lane8 = static_cast<int>(i - block);
    const __m512i flags = _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(l.flags + i)));
    __mmask8 fatal = static_cast<__mmask8>(fatal64 >> lane8);
    const __m512i any_index = _mm512_cvtepu16_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(l.any + i)));
    const __m512i any = few_any ? _mm512_permutex2var_epi64(any_lo, any_index, any_hi)
                                : _mm512_i64gather_epi64(any_index, reinterpret_cast<const long long*>(f.any_masks), 8);
    const __mmask8 any_false = _mm512_test_epi64_mask(any, any) & ~_mm512_test_epi64_mask(held, any);
    fatal |= any_false & ~_mm512_test_epi64_mask(flags, any_actionable);
    __mmask8 fact_false[2], unknown[2];
    for (int k = 0; k < 2; ++k) {
      const __m512i id = _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(l.fact_id[k] + i)));
      const __m512i ops = _mm512_cvtepu8_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(l.fact_ops[k] + i)));
      const __m512i value = fact_value(id);
      const __m512i bound = _mm512_loadu_si512(l.fact_k[k] + i);
      const __mmask8 known = _mm512_test_epi64_mask(_mm512_srlv_epi64(known_bits, id), one);
      const __mmask8 lt = _mm512_cmplt_epi64_mask(value, bound);
      const __mmask8 gt = _mm512_cmpgt_epi64_mask(value, bound);
      const __mmask8 eq = ~(lt | gt);
      const __mmask8 holds = (lt & _mm512_test_epi64_mask(ops, op_bit[0])) |
                             (eq & _mm512_test_epi64_mask(ops, op_bit[1])) |
                             (gt & _mm512_test_epi64_mask(ops, op_bit[2]));
      fact_false[k] = known & ~holds;
      unknown[k] = ~known;
      fatal |= fact_false[k] & ~_mm512_test_epi64_mask(flags, fact_actionable[k]);
    }
    const __mmask8 pred_unknown[2] = {static_cast<__mmask8>(pred_unknown64[0] >> lane8),
                                      static_cast<__mmask8>(pred_unknown64[1] >> lane8)};
    const __m512i industry = _mm512_cvtepu16_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(l.industry + i)));
    const __mmask8 has_industry = _mm512_cmpneq_epi64_mask(industry, no_industry);
    const __mmask8 industry_under = _mm512_cmpeq_epi64_mask(industry, under[0]) | _mm512_cmpeq_epi64_mask(industry, under[1]) |
                                    _mm512_cmpeq_epi64_mask(industry, under[2]) | _mm512_cmpeq_epi64_mask(industry, under[3]);
    const __mmask8 industry_unknown = f.industry_known ? 0 : has_industry;
    if (f.industry_known) fatal |= has_industry & ~industry_under;
    // How many conditions are false: at least one, at least two (a bit-sliced count).
    __mmask8 some_false = static_cast<__mmask8>(some64 >> lane8), two_false = static_cast<__mmask8>(two64 >> lane8);
    for (__mmask8 m : {any_false, fact_false[0], fact_false[1]}) {
      two_false |= some_false & m;
      some_false |= m;
    }
    const __mmask8 some_unknown = unknown[0] | unknown[1] | industry_unknown | pred_unknown[0] | pred_unknown[1];
    fatal |= two_false | (some_false & (some_unknown | _mm512_test_epi64_mask(flags, single)));
    fatal |= static_cast<__mmask8>(~f.in_force[i >> 3]);
    const __mmask8 live = static_cast<__mmask8>(~fatal);
    // Survivors compacted in a register (a compressing store to memory is slow on some CPUs):
    // index | (false count + 2 × unknown count) << kStartShift.
    __m256i packed = _mm256_add_epi32(lane, _mm256_set1_epi32(static_cast<int>(i)));
    packed = _mm256_mask_add_epi32(packed, some_false, packed, false_start);
    packed = _mm256_mask_add_epi32(packed, unknown[0], packed, unknown_start);
    packed = _mm256_mask_add_epi32(packed, unknown[1], packed, unknown_start);
    packed = _mm256_mask_add_epi32(packed, industry_unknown, packed, unknown_start);
    packed = _mm256_mask_add_epi32(packed, pred_unknown[0], packed, unknown_start);
    packed = _mm256_mask_add_epi32(packed, pred_unknown[1], packed, unknown_start);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(survivors + n), _mm256_maskz_compress_epi32(live, packed));
    n += static_cast<uint32_t>(__builtin_popcount(live));
  }
  }
  // Padding entries are never in force, so every survivor is a real entry.
  return n;
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

uint32_t PolicyIndex::PrefilterList(const ListView& list, const FirmBits& firm, uint32_t* survivors) {
#if defined(__x86_64__)
  static const bool have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  if (have && !plan_internal::SimdDisabled()) return PrefilterAvx512(list, firm, survivors);
#endif
  return PrefilterListPortable(list, firm, survivors);
}

}  // namespace polmatch
