// tests/unit/kernels/activation_test.cc — Add and SiluMul against references.
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

TEST(KernelsAdd, ExactAndAliasing) {
  for (int64_t n : {1, 7, 64, 1029, 100003}) {
    const auto a = RandomVector(n, 1);
    const auto b = RandomVector(n, 2);
    std::vector<float> out(n);
    Add(a.data(), b.data(), n, out.data());
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(out[i], a[i] + b[i]) << i;
    std::vector<float> a2 = a;
    Add(a2.data(), b.data(), n, a2.data());
    EXPECT_TRUE(BitEqual(a2.data(), out.data(), n));
  }
}

TEST(KernelsSiluMul, MatchesReference) {
  uint32_t seed = 1;
  for (int64_t n : {1, 3, 17, 37}) {
    for (int64_t inter : {1, 7, 64, 129, 352}) {
      const auto gu = RandomVector(n * 2 * inter, seed++, -12.0f, 12.0f);
      std::vector<float> out(n * inter);
      SiluMul(gu.data(), n, inter, out.data());
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j < inter; ++j) {
          const double g = gu[i * 2 * inter + j], u = gu[i * 2 * inter + inter + j];
          const double ref = g / (1.0 + std::exp(-g)) * u;
          ASSERT_TRUE(Near(out[i * inter + j], ref, 1e-6, 1e-5)) << "g=" << g << " u=" << u;
        }
      }
    }
  }
}

TEST(KernelsSiluMul, ExtremeInputsStayFinite) {
  const std::vector<float> gu = {-200.0f, -90.0f, 0.0f, 90.0f, 200.0f,
                                 2.0f,    3.0f,   4.0f, 5.0f,  6.0f};
  std::vector<float> out(5);
  SiluMul(gu.data(), 1, 5, out.data());
  for (int j = 0; j < 5; ++j) EXPECT_TRUE(std::isfinite(out[j])) << j;
  EXPECT_NEAR(out[0], 0.0f, 1e-30f);
  EXPECT_EQ(out[2], 0.0f);
  EXPECT_FLOAT_EQ(out[3], 90.0f * 5.0f);
  EXPECT_FLOAT_EQ(out[4], 200.0f * 6.0f);
}

TEST(KernelsSiluMul, BatchInvariantBitForBit) {
  const int64_t n = 37, inter = 173;
  const auto gu = RandomVector(n * 2 * inter, 3, -8.0f, 8.0f);
  std::vector<float> all(n * inter), one(inter);
  SiluMul(gu.data(), n, inter, all.data());
  for (int64_t i = 0; i < n; ++i) {
    SiluMul(gu.data() + i * 2 * inter, 1, inter, one.data());
    ASSERT_TRUE(BitEqual(one.data(), all.data() + i * inter, inter)) << i;
  }
}

}  // namespace
}  // namespace inferd::kernels
