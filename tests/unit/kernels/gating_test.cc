// SigmoidGatedAdd against a double reference, odd sizes, and row independence.
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/ops.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace inferd::kernels {
namespace {

TEST(SigmoidGatedAddTest, MatchesReference) {
  for (int64_t n : {1, 3, 17}) {
    for (int64_t hidden : {1, 7, 129}) {
      std::vector<float> gate = testing::RandomVector(n, 11, -6.0f, 6.0f);
      std::vector<float> y = testing::RandomVector(n * hidden, 12);
      std::vector<float> out = testing::RandomVector(n * hidden, 13);
      std::vector<float> before = out;
      SigmoidGatedAdd(gate.data(), y.data(), n, hidden, out.data());
      for (int64_t i = 0; i < n; ++i) {
        const double g = 1.0 / (1.0 + std::exp(-static_cast<double>(gate[i])));
        for (int64_t j = 0; j < hidden; ++j) {
          const double want = before[i * hidden + j] + g * y[i * hidden + j];
          EXPECT_NEAR(out[i * hidden + j], want, 1e-6 + 1e-6 * std::fabs(want));
        }
      }
      // Row 0 alone gives the same bits as inside the batch.
      std::vector<float> alone(before.begin(), before.begin() + hidden);
      SigmoidGatedAdd(gate.data(), y.data(), 1, hidden, alone.data());
      EXPECT_TRUE(testing::BitEqual(alone.data(), out.data(), hidden));
    }
  }
}

}  // namespace
}  // namespace inferd::kernels
