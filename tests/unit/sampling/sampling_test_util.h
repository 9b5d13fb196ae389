// tests/unit/sampling/sampling_test_util.h — portable random logits for the
// sampler tests (std:: distributions differ across standard libraries).
#ifndef INFERD_TESTS_UNIT_SAMPLING_SAMPLING_TEST_UTIL_H_
#define INFERD_TESTS_UNIT_SAMPLING_SAMPLING_TEST_UTIL_H_

#include <cmath>
#include <numbers>
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

}  // namespace inferd::testing

#endif  // INFERD_TESTS_UNIT_SAMPLING_SAMPLING_TEST_UTIL_H_
