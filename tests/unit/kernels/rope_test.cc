// tests/unit/kernels/rope_test.cc — Rope (rotate-half) against a double
// reference, and bit-for-bit batch invariance.
#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/ops.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace inferd::kernels {
namespace {

using testing::BitEqual;
using testing::Near;
using testing::RandomVector;

std::vector<float> InvFreq(int64_t head_dim, double theta) {
  std::vector<float> f(static_cast<size_t>(head_dim / 2));
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    f[i] = static_cast<float>(1.0 / std::pow(theta, 2.0 * i / head_dim));
  }
  return f;
}

TEST(KernelsRope, MatchesReference) {
  uint32_t seed = 1;
  for (int64_t head_dim : {8, 16, 64, 200}) {
    for (int64_t heads : {1, 3, 4}) {
      for (int64_t n : {1, 17}) {
        const auto inv = InvFreq(head_dim, 10000.0);
        const auto x0 = RandomVector(n * heads * head_dim, seed++);
        std::vector<int32_t> pos(n);
        for (int64_t i = 0; i < n; ++i) pos[i] = static_cast<int32_t>((i * 977 + 3) % 5000);
        std::vector<float> x = x0;
        Rope(x.data(), pos.data(), n, heads, head_dim, inv.data());
        const int64_t half = head_dim / 2;
        for (int64_t i = 0; i < n; ++i) {
          for (int64_t h = 0; h < heads; ++h) {
            const float* v = x0.data() + (i * heads + h) * head_dim;
            const float* got = x.data() + (i * heads + h) * head_dim;
            for (int64_t f = 0; f < half; ++f) {
              // The angle HF computes: a float product.
              const double a = static_cast<float>(pos[i]) * inv[f];
              const double c = std::cos(a), s = std::sin(a);
              ASSERT_TRUE(Near(got[f], v[f] * c - v[f + half] * s, 1e-6, 1e-5));
              ASSERT_TRUE(Near(got[f + half], v[f + half] * c + v[f] * s, 1e-6, 1e-5));
            }
          }
        }
      }
    }
  }
}

TEST(KernelsRope, PositionZeroIsIdentity) {
  const auto inv = InvFreq(16, 10000.0);
  const auto x0 = RandomVector(3 * 16, 9);
  std::vector<float> x = x0;
  const int32_t pos[] = {0};
  Rope(x.data(), pos, 1, 3, 16, inv.data());
  EXPECT_TRUE(BitEqual(x.data(), x0.data(), 48));
}

TEST(KernelsRope, BatchInvariantBitForBit) {
  const int64_t n = 37, heads = 3, d = 64;
  const auto inv = InvFreq(d, 500000.0);
  const auto x0 = RandomVector(n * heads * d, 4);
  std::vector<int32_t> pos(n);
  for (int64_t i = 0; i < n; ++i) pos[i] = static_cast<int32_t>(i * 131);
  std::vector<float> all = x0;
  Rope(all.data(), pos.data(), n, heads, d, inv.data());
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> one(x0.begin() + i * heads * d, x0.begin() + (i + 1) * heads * d);
    Rope(one.data(), pos.data() + i, 1, heads, d, inv.data());
    ASSERT_TRUE(BitEqual(one.data(), all.data() + i * heads * d, heads * d)) << i;
  }
}

}  // namespace
}  // namespace inferd::kernels
