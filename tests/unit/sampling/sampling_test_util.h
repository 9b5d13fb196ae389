// tests/unit/sampling/sampling_test_util.h — portable random logits for the
// sampler tests (std:: distributions differ across standard libraries), and
// the naive full-sort reference of the sampling filters.
#ifndef INFERD_TESTS_UNIT_SAMPLING_SAMPLING_TEST_UTIL_H_
#define INFERD_TESTS_UNIT_SAMPLING_SAMPLING_TEST_UTIL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <numeric>
#include <vector>

#include "engine/sampling/rng.h"

namespace inferd::testing {

// `n` normal(0, scale) logits (Box-Muller); `quantum` > 0 rounds them to a
// grid so that many ties appear.
inline std::vector<float> RandomLogits(int64_t n, uint64_t seed, float scale = 3.0f,
                                       float quantum = 0.0f) {
  engine::Rng rng(seed);
  std::vector<float> out(n);
  for (int64_t i = 0; i < n; ++i) {
    const double u1 = 1.0 - rng.Uniform(), u2 = rng.Uniform();
    float v = static_cast<float>(scale * std::sqrt(-2.0 * std::log(u1)) *
                                 std::cos(2 * std::numbers::pi * u2));
    if (quantum > 0) v = std::round(v / quantum) * quantum;
    out[i] = v;
  }
  return out;
}

struct NaiveFilters {
  float temperature = 1.0f;
  int64_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
};

// The tokens the sampling filters keep, by their definition, literally: sort
// everything (logit desc, id asc), weigh exp((l - max) / T), cut by k, by
// cumulative mass (the shortest prefix with mass >= top_p), by relative
// probability (>= min_p * best). Weights are the same float expression as
// the implementation's (so boundaries agree bit for bit); tokens whose weight
// underflows to 0 are never candidates. `weights_out` gets every token's
// weight. Temperature must be > 0.
inline std::vector<int32_t> NaiveKept(const std::vector<float>& logits, const NaiveFilters& f,
                                      std::vector<double>* weights_out = nullptr) {
  const int64_t n = static_cast<int64_t>(logits.size());
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  const float max_logit = logits[order[0]];
  std::vector<double> w(n);
  for (int64_t i = 0; i < n; ++i) w[i] = std::exp((logits[i] - max_logit) / f.temperature);
  std::vector<int32_t> kept = order;
  if (f.top_k > 0 && f.top_k < n) kept.resize(f.top_k);
  std::erase_if(kept, [&](int32_t id) { return w[id] == 0; });
  if (f.top_p < 1.0f) {
    double total = 0;
    for (int32_t id : kept) total += w[id];
    double cum = 0;
    size_t len = kept.size();
    for (size_t i = 0; i < kept.size(); ++i) {
      cum += w[kept[i]];
      if (cum >= f.top_p * total) {
        len = i + 1;
        break;
      }
    }
    kept.resize(len);
  }
  if (f.min_p > 0.0f) {
    const double best = w[kept[0]];
    std::vector<int32_t> cut;
    for (int32_t id : kept) {
      if (w[id] >= f.min_p * best) cut.push_back(id);
    }
    if (cut.empty()) cut.push_back(kept[0]);
    kept = cut;
  }
  if (weights_out != nullptr) *weights_out = w;
  return kept;
}

}  // namespace inferd::testing

#endif  // INFERD_TESTS_UNIT_SAMPLING_SAMPLING_TEST_UTIL_H_
