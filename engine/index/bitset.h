// File: bitset.h
//
// Block bitsets: the unit of work of the bulk matcher. Firms are processed 8,192 rows at a time
// (kBlockRows); a block bitset is 128 uint64_t words, 1 KiB, so the few hundred predicates and
// policies evaluated on one block stay in L2. Bit i of word w is row `block_begin + 64*w + i`.
//
// Three-valued (Kleene) predicates are held as a pair of block bitsets, (T, F): rows where the
// predicate is true, rows where it is false; a row in neither is unknown. With this pair `not` is
// a swap, `and` is (∧T, ∨F) and `or` is (∨T, ∧F): one word operation per word and no masking.
//
// Example:
//   uint64_t t[kBlockWords], f[kBlockWords];
//   KleeneAnd({a.t, b.t}, {a.f, b.f}, t, f);
#ifndef POLMATCH_INDEX_BITSET_H_
#define POLMATCH_INDEX_BITSET_H_

#include <cstddef>
#include <cstdint>

namespace polmatch {

inline constexpr uint32_t kBlockRows = 8192;
inline constexpr uint32_t kBlockWords = kBlockRows / 64;

// Words of `rows` bits, rounded up.
inline constexpr size_t WordsFor(size_t rows) { return (rows + 63) / 64; }

inline int PopCount(uint64_t w) { return __builtin_popcountll(w); }

// Sets bits [begin, end) of `words` (bit positions relative to `words`).
inline void SetBitRange(uint64_t* words, uint32_t begin, uint32_t end) {
  if (begin >= end) return;
  uint32_t wb = begin / 64, we = (end - 1) / 64;
  uint64_t first = ~0ULL << (begin % 64);
  uint64_t last = ~0ULL >> (63 - (end - 1) % 64);
  if (wb == we) {
    words[wb] |= first & last;
    return;
  }
  words[wb] |= first;
  for (uint32_t w = wb + 1; w < we; ++w) words[w] = ~0ULL;
  words[we] |= last;
}

inline bool TestBit(const uint64_t* words, uint32_t i) { return (words[i / 64] >> (i % 64)) & 1; }
inline void SetBit(uint64_t* words, uint32_t i) { words[i / 64] |= 1ULL << (i % 64); }
inline void ClearBit(uint64_t* words, uint32_t i) { words[i / 64] &= ~(1ULL << (i % 64)); }

// Calls fn(i) for every set bit i of `words[0..n)`, ascending.
template <typename Fn>
inline void ForEachBit(const uint64_t* words, size_t n, Fn&& fn) {
  for (size_t w = 0; w < n; ++w) {
    uint64_t bits = words[w];
    while (bits != 0) {
      fn(static_cast<uint32_t>(w * 64 + __builtin_ctzll(bits)));
      bits &= bits - 1;
    }
  }
}

// Set bits of words[0..n). Compiled for the popcnt instruction where the CPU has it.
size_t CountBits(const uint64_t* words, size_t n);

inline bool AnyBit(const uint64_t* words, size_t n) {
  uint64_t acc = 0;
  for (size_t w = 0; w < n; ++w) acc |= words[w];
  return acc != 0;
}

// Kleene `and` over n operands given as (T, F) block bitsets.
inline void KleeneAnd(const uint64_t* const* ts, const uint64_t* const* fs, size_t n,
                      uint64_t* out_t, uint64_t* out_f) {
  for (uint32_t w = 0; w < kBlockWords; ++w) {
    out_t[w] = ts[0][w];
    out_f[w] = fs[0][w];
  }
  for (size_t i = 1; i < n; ++i) {
    const uint64_t* t = ts[i];
    const uint64_t* f = fs[i];
    for (uint32_t w = 0; w < kBlockWords; ++w) {
      out_t[w] &= t[w];
      out_f[w] |= f[w];
    }
  }
}

// Kleene `or`: the dual of KleeneAnd (swap the roles of T and F).
inline void KleeneOr(const uint64_t* const* ts, const uint64_t* const* fs, size_t n,
                     uint64_t* out_t, uint64_t* out_f) {
  KleeneAnd(fs, ts, n, out_f, out_t);
}

}  // namespace polmatch

#endif  // POLMATCH_INDEX_BITSET_H_
