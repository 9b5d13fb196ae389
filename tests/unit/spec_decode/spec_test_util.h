// tests/unit/spec_decode/spec_test_util.h — references for the speculative
// verifier tests: the target distribution by its definition (full sort), a
// toy autoregressive "model" whose logits depend on the prefix, and the
// chi-square test (p-value from the regularized upper incomplete gamma).
#ifndef INFERD_TESTS_UNIT_SPEC_DECODE_SPEC_TEST_UTIL_H_
#define INFERD_TESTS_UNIT_SPEC_DECODE_SPEC_TEST_UTIL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "engine/request.h"
#include "engine/sampling/rng.h"
#include "tests/unit/sampling/sampling_test_util.h"

namespace inferd::testing {

// The distribution Sampler::Sample draws from for `logits` [vocab] (no
// penalties), by the definition: the tokens the filters keep (NaiveKept),
// weighed, normalised. Temperature must be > 0 (sampled).
inline std::vector<double> NaiveTargetProbs(const std::vector<float>& logits,
                                            const engine::SamplingParams& params) {
  std::vector<double> w;
  const std::vector<int32_t> kept =
      NaiveKept(logits, {params.temperature, params.top_k, params.top_p, params.min_p}, &w);
  std::vector<double> p(logits.size(), 0.0);
  double total = 0;
  for (int32_t id : kept) total += w[id];
  for (int32_t id : kept) p[id] = w[id] / total;
  return p;
}

// softmax(logits / T) over every token, in double.
inline std::vector<double> Softmax(const std::vector<float>& logits, double temperature = 1.0) {
  const double max_logit = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double z = 0;
  for (size_t i = 0; i < logits.size(); ++i)
    z += p[i] = std::exp((logits[i] - max_logit) / temperature);
  for (double& x : p) x /= z;
  return p;
}

// Inverse CDF over `p` (normalised) in id order.
inline int32_t DrawFrom(const std::vector<double>& p, double u) {
  double cum = 0;
  int32_t last = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0) continue;
    cum += p[i];
    last = static_cast<int32_t>(i);
    if (cum > u) return last;
  }
  return last;
}

// A toy autoregressive model over a small vocabulary: the logits after each
// prefix of up to `max_len` tokens are random normals seeded by the prefix,
// so every context has its own conditional distribution. Precomputed.
class ToyModel {
 public:
  ToyModel(int64_t vocab, uint64_t seed, float scale, int max_len = 2) : vocab_(vocab) {
    int64_t rows = 0;
    for (int64_t len = 0, count = 1; len <= max_len; ++len, count *= vocab) rows += count;
    logits_.reserve(static_cast<size_t>(rows * vocab));
    for (int64_t r = 0; r < rows; ++r) {
      const std::vector<float> row =
          RandomLogits(vocab, seed * 7919 + static_cast<uint64_t>(r), scale);
      logits_.insert(logits_.end(), row.begin(), row.end());
    }
  }
  int64_t vocab() const { return vocab_; }
  // The logits [vocab] after `prefix`.
  std::vector<float> Logits(const std::vector<int32_t>& prefix) const {
    // Row index: prefixes ordered by length, then lexicographically.
    int64_t index = 0, count = 1;
    for (size_t len = 0; len < prefix.size(); ++len) {
      index += count;
      count *= vocab_;
    }
    int64_t offset = 0;
    for (int32_t t : prefix) offset = offset * vocab_ + t;
    const auto begin = logits_.begin() + (index + offset) * vocab_;
    return std::vector<float>(begin, begin + vocab_);
  }

 private:
  int64_t vocab_;
  std::vector<float> logits_;  // [rows, vocab]
};

// The regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a): series
// for x < a + 1, Lentz's continued fraction otherwise (Numerical Recipes
// 6.2), to ~1e-14 relative.
inline double RegularizedGammaQ(double a, double x) {
  if (x <= 0) return 1.0;
  const double log_prefix = -x + a * std::log(x) - std::lgamma(a);
  if (x < a + 1) {
    double term = 1.0 / a, sum = term;
    for (int n = 1; n < 100000; ++n) {
      term *= x / (a + n);
      sum += term;
      if (std::fabs(term) < std::fabs(sum) * 1e-16) break;
    }
    return 1.0 - sum * std::exp(log_prefix);
  }
  constexpr double kTiny = 1e-300;
  double b = x + 1 - a, c = 1 / kTiny, d = 1 / b, h = d;
  for (int i = 1; i < 100000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-16) break;
  }
  return std::exp(log_prefix) * h;
}

// P(X >= stat) for X ~ chi-square with `df` degrees of freedom.
inline double ChiSquarePValue(double stat, int df) {
  return RegularizedGammaQ(df / 2.0, stat / 2.0);
}

// The critical value c with P(X >= c) = alpha (bisection on the p-value).
inline double ChiSquareCritical(int df, double alpha) {
  double lo = 0, hi = df + 100.0 * std::sqrt(2.0 * df) + 100;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (ChiSquarePValue(mid, df) > alpha ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

struct ChiSquareResult {
  double stat = 0;
  int df = 0;
  double p_value = 1;
  int64_t impossible = 0;  // draws in cells of expected probability 0
};

// Pearson's chi-square of `counts` against `probs` (same length, probs sum
// to 1); cells with probability 0 are left out of the statistic and their
// draws counted in `impossible` instead.
inline ChiSquareResult ChiSquare(const std::vector<int64_t>& counts,
                                 const std::vector<double>& probs) {
  int64_t n = 0;
  for (int64_t c : counts) n += c;
  ChiSquareResult r;
  int cells = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (probs[i] <= 0) {
      r.impossible += counts[i];
      continue;
    }
    const double expected = static_cast<double>(n) * probs[i];
    const double diff = static_cast<double>(counts[i]) - expected;
    r.stat += diff * diff / expected;
    ++cells;
  }
  r.df = cells - 1;
  r.p_value = r.df > 0 ? ChiSquarePValue(r.stat, r.df) : 1.0;
  return r;
}

}  // namespace inferd::testing

#endif  // INFERD_TESTS_UNIT_SPEC_DECODE_SPEC_TEST_UTIL_H_
