// tests/unit/sampling/rng_test.cc — xoshiro256** stream and Uniform().
#include "engine/sampling/rng.h"

#include <cstdint>
#include <set>

#include "gtest/gtest.h"

namespace inferd::engine {
namespace {

// Expected values from an independent (Python) implementation of splitmix64
// seeding + xoshiro256**.
TEST(RngTest, MatchesReferenceStream) {
  Rng a(0);
  EXPECT_EQ(a.Next(), 0x99ec5f36cb75f2b4ull);
  EXPECT_EQ(a.Next(), 0xbf6e1f784956452aull);
  EXPECT_EQ(a.Next(), 0x1a5f849d4933e6e0ull);
  EXPECT_EQ(a.Next(), 0x6aa594f1262d2d2cull);
  Rng b(42);
  EXPECT_EQ(b.Next(), 0x15780b2e0c2ec716ull);
  EXPECT_EQ(b.Next(), 0x6104d9866d113a7eull);
  Rng c(~0ull);
  EXPECT_EQ(c.Next(), 0x8f5520d52a7ead08ull);
}

TEST(RngTest, UniformUsesTheTop53Bits) {
  Rng r(42);
  EXPECT_EQ(r.Uniform(), 0.08386297105988216);
  EXPECT_EQ(r.Uniform(), 0.3789802506626686);
  EXPECT_EQ(r.Uniform(), 0.6800434110281394);
}

TEST(RngTest, UniformRangeAndMean) {
  Rng r(7);
  double sum = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double u = r.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  // Mean of U[0,1) has sd 1/sqrt(12 n) ~ 0.0009.
  EXPECT_NEAR(sum / n, 0.5, 0.005);
}

TEST(RngTest, SeedsGiveDistinctStreams) {
  std::set<uint64_t> firsts;
  for (uint64_t seed = 0; seed < 1000; ++seed) firsts.insert(Rng(seed).Next());
  EXPECT_EQ(firsts.size(), 1000u);
  Rng x(123), y(123);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(x.Next(), y.Next());
}

}  // namespace
}  // namespace inferd::engine
