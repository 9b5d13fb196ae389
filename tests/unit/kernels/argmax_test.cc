// Argmax against a plain scalar reference: random values on odd sizes, ties,
// NaN and infinities.
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/ops.h"
#include "tests/unit/kernels/kernel_test_util.h"

namespace inferd::kernels {
namespace {

int64_t ReferenceArgmax(const std::vector<float>& x) {
  int64_t best = -1;
  for (int64_t i = 0; i < static_cast<int64_t>(x.size()); ++i) {
    if (std::isnan(x[i]) || x[i] == -std::numeric_limits<float>::infinity()) continue;
    if (best < 0 || x[i] > x[best]) best = i;
  }
  return best < 0 ? 0 : best;
}

TEST(ArgmaxTest, MatchesReferenceOnRandomOddSizes) {
  for (int64_t n : {1, 2, 7, 8, 9, 31, 512, 1001, 32000, 151936}) {
    for (uint32_t seed = 1; seed <= 4; ++seed) {
      std::vector<float> x =
          testing::RandomVector(n, seed * 7919 + static_cast<uint32_t>(n), -20.0f, 20.0f);
      EXPECT_EQ(Argmax(x.data(), n), ReferenceArgmax(x)) << "n=" << n << " seed=" << seed;
    }
  }
}

TEST(ArgmaxTest, TiesGoToTheLowestIndex) {
  std::vector<float> x = testing::RandomVector(1001, 3, -1.0f, 1.0f);
  for (int64_t at : {999, 17, 5, 1000}) x[at] = 4.0f;
  EXPECT_EQ(Argmax(x.data(), 1001), 5);
  std::vector<float> same(37, 2.5f);
  EXPECT_EQ(Argmax(same.data(), 37), 0);
}

TEST(ArgmaxTest, NanNeverWinsAndInfinityDoes) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = testing::RandomVector(77, 5);
  x[3] = nan;
  x[40] = nan;
  EXPECT_EQ(Argmax(x.data(), 77), ReferenceArgmax(x));
  x[60] = inf;
  EXPECT_EQ(Argmax(x.data(), 77), 60);
  x[70] = inf;  // a tie between infinities: the lower index
  EXPECT_EQ(Argmax(x.data(), 77), 60);
}

TEST(ArgmaxTest, NothingAboveMinusInfinityGivesZero) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x(19, -std::numeric_limits<float>::infinity());
  x[0] = nan;
  x[11] = nan;
  EXPECT_EQ(Argmax(x.data(), 19), 0);
  std::vector<float> y(9, -std::numeric_limits<float>::infinity());
  y[8] = -1.0f;  // the only finite value, in the scalar tail
  EXPECT_EQ(Argmax(y.data(), 9), 8);
}

}  // namespace
}  // namespace inferd::kernels
