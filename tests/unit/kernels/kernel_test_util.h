// tests/unit/kernels/kernel_test_util.h — random inputs and comparisons shared
// by the CPU kernel tests.
#ifndef INFERD_TESTS_UNIT_KERNELS_KERNEL_TEST_UTIL_H_
#define INFERD_TESTS_UNIT_KERNELS_KERNEL_TEST_UTIL_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace inferd::kernels::testing {

// Uniform in [lo, hi), never exactly zero.
inline std::vector<float> RandomVector(int64_t n, uint32_t seed, float lo = -1.0f,
                                       float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) {
    do {
      x = dist(rng);
    } while (x == 0.0f);
  }
  return v;
}

// True when a and b hold the same bits.
inline bool BitEqual(const float* a, const float* b, int64_t n) {
  return std::memcmp(a, b, sizeof(float) * static_cast<size_t>(n)) == 0;
}

// |got - want| <= atol + rtol * scale, where scale defaults to |want|.
inline ::testing::AssertionResult Near(float got, double want, double atol, double rtol,
                                       double scale = -1.0) {
  if (scale < 0) scale = std::fabs(want);
  const double err = std::fabs(static_cast<double>(got) - want);
  if (std::isfinite(got) && err <= atol + rtol * scale) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << got << " want " << want << " err " << err << " > " << atol + rtol * scale;
}

}  // namespace inferd::kernels::testing

#endif  // INFERD_TESTS_UNIT_KERNELS_KERNEL_TEST_UTIL_H_
