// File: random.h
//
// GenRandom is the one source of randomness of `polmatch gen`: std::mt19937_64 (whose output
// sequence the C++ standard fixes) with distributions written here, because the std::*_distribution
// templates are implementation-defined and would make the same seed give different data on
// another standard library. Doubles only shape the synthetic data; every value written out is
// converted to an integer (or integer fen) first.
//
// Example:
//   GenRandom rng(42);
//   double revenue = rng.LogNormal(3e6, 1.4);   // median 3 million yuan
//   if (rng.Bernoulli(0.02)) { … }
#ifndef POLMATCH_GEN_RANDOM_H_
#define POLMATCH_GEN_RANDOM_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace polmatch::gen {

class GenRandom {
 public:
  explicit GenRandom(uint64_t seed) : engine_(seed) {}

  uint64_t Bits() { return engine_(); }
  // Uniform in [0, 1), 53 random bits.
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n) (multiply-shift; the bias is below 2^-40 for the n used here).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(engine_()) * n) >> 64);
  }
  // Uniform integer in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo + 1)));
  }
  bool Bernoulli(double p) { return Uniform() < p; }
  // Standard normal by Box-Muller; the second value of each pair is kept for the next call.
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 1.0 - Uniform();  // (0, 1]
    double u2 = Uniform();
    double r = std::sqrt(-2.0 * std::log(u1));
    double theta = 6.283185307179586 * u2;  // 2π
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
  }
  // Log-normal with the given median and log-space standard deviation.
  double LogNormal(double median, double sigma) { return median * std::exp(sigma * Normal()); }
  // Geometric count ≥ 0 with the given mean.
  int64_t Geometric(double mean) {
    if (mean <= 0) return 0;
    double p = 1.0 / (1.0 + mean);
    return static_cast<int64_t>(std::floor(std::log(1.0 - Uniform()) / std::log(1.0 - p)));
  }
  // An index drawn from a cumulative weight table (ascending, last = total).
  size_t Pick(const std::vector<double>& cumulative) {
    double x = Uniform() * cumulative.back();
    size_t i = static_cast<size_t>(
        std::upper_bound(cumulative.begin(), cumulative.end(), x) - cumulative.begin());
    return std::min(i, cumulative.size() - 1);
  }
  template <typename T>
  const T& Choose(const std::vector<T>& items) {
    return items[Below(items.size())];
  }
  template <typename T, size_t N>
  const T& Choose(const T (&items)[N]) {
    return items[Below(N)];
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// Cumulative table of Zipf weights 1/(rank+1)^s for `n` ranks.
inline std::vector<double> ZipfCumulative(size_t n, double s) {
  std::vector<double> cumulative(n);
  double total = 0;
  for (size_t r = 0; r < n; ++r) {
    total += 1.0 / std::pow(static_cast<double>(r + 1), s);
    cumulative[r] = total;
  }
  return cumulative;
}

// Cumulative table of explicit weights.
inline std::vector<double> Cumulative(const std::vector<double>& weights) {
  std::vector<double> cumulative(weights.size());
  double total = 0;
  for (size_t i = 0; i < weights.size(); ++i) cumulative[i] = total += weights[i];
  return cumulative;
}

}  // namespace polmatch::gen

#endif  // POLMATCH_GEN_RANDOM_H_
