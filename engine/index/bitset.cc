#include "engine/index/bitset.h"

namespace polmatch {

// The x86-64 baseline has no popcnt instruction; a clone for CPUs that have it is chosen at load
// time (GCC function multiversioning).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
size_t CountBits(const uint64_t* words, size_t n) {
  size_t c = 0;
  for (size_t w = 0; w < n; ++w) c += __builtin_popcountll(words[w]);
  return c;
}

}  // namespace polmatch
