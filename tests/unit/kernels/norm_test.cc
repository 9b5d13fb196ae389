// tests/unit/kernels/norm_test.cc — RmsNorm and AddRmsNorm against double
// references, in-place aliasing, and bit-for-bit batch invariance.
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

std::vector<double> RefRmsNorm(const std::vector<float>& x, const std::vector<float>& w, int64_t n,
                               int64_t hidden, float eps) {
  std::vector<double> out(x.size());
  for (int64_t i = 0; i < n; ++i) {
    double ss = 0;
    for (int64_t t = 0; t < hidden; ++t) ss += double(x[i * hidden + t]) * x[i * hidden + t];
    const double inv = 1.0 / std::sqrt(ss / hidden + eps);
    for (int64_t t = 0; t < hidden; ++t) out[i * hidden + t] = x[i * hidden + t] * inv * w[t];
  }
  return out;
}

TEST(KernelsRmsNorm, MatchesReference) {
  uint32_t seed = 1;
  for (int64_t n : {1, 3, 17, 37}) {
    for (int64_t hidden : {7, 64, 129, 173, 4099}) {
      const auto x = RandomVector(n * hidden, seed++, -2.0f, 2.0f);
      const auto w = RandomVector(hidden, seed++);
      std::vector<float> out(x.size());
      RmsNorm(x.data(), w.data(), n, hidden, 1e-5f, out.data());
      const auto ref = RefRmsNorm(x, w, n, hidden, 1e-5f);
      for (size_t i = 0; i < out.size(); ++i) {
        ASSERT_TRUE(Near(out[i], ref[i], 1e-6, 1e-5)) << "n=" << n << " h=" << hidden << " i=" << i;
      }
      std::vector<float> inplace = x;  // out may alias x
      RmsNorm(inplace.data(), w.data(), n, hidden, 1e-5f, inplace.data());
      EXPECT_TRUE(BitEqual(inplace.data(), out.data(), n * hidden));
    }
  }
}

TEST(KernelsRmsNorm, BatchInvariantBitForBit) {
  const int64_t n = 37, hidden = 173;
  const auto x = RandomVector(n * hidden, 5);
  const auto w = RandomVector(hidden, 6);
  std::vector<float> all(x.size()), one(hidden);
  RmsNorm(x.data(), w.data(), n, hidden, 1e-6f, all.data());
  for (int64_t i = 0; i < n; ++i) {
    RmsNorm(x.data() + i * hidden, w.data(), 1, hidden, 1e-6f, one.data());
    ASSERT_TRUE(BitEqual(one.data(), all.data() + i * hidden, hidden)) << i;
  }
}

TEST(KernelsAddRmsNorm, MatchesReferenceAndUpdatesResidual) {
  uint32_t seed = 50;
  for (int64_t n : {1, 3, 17, 37}) {
    for (int64_t hidden : {7, 64, 129, 173}) {
      const auto res0 = RandomVector(n * hidden, seed++);
      const auto x = RandomVector(n * hidden, seed++);
      const auto w = RandomVector(hidden, seed++);
      std::vector<float> res = res0, out(x.size());
      AddRmsNorm(res.data(), x.data(), w.data(), n, hidden, 1e-5f, out.data());
      std::vector<float> sum(x.size());
      for (size_t i = 0; i < sum.size(); ++i) sum[i] = res0[i] + x[i];
      EXPECT_TRUE(BitEqual(sum.data(), res.data(), n * hidden));
      const auto ref = RefRmsNorm(sum, w, n, hidden, 1e-5f);
      for (size_t i = 0; i < out.size(); ++i) ASSERT_TRUE(Near(out[i], ref[i], 1e-6, 1e-5)) << i;
      // Same bits as Add followed by RmsNorm.
      std::vector<float> split(x.size());
      RmsNorm(sum.data(), w.data(), n, hidden, 1e-5f, split.data());
      EXPECT_TRUE(BitEqual(split.data(), out.data(), n * hidden));
      // out may alias x.
      std::vector<float> res2 = res0, x2 = x;
      AddRmsNorm(res2.data(), x2.data(), w.data(), n, hidden, 1e-5f, x2.data());
      EXPECT_TRUE(BitEqual(x2.data(), out.data(), n * hidden));
    }
  }
}

}  // namespace
}  // namespace inferd::kernels
