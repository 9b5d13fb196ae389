// tests/unit/loadtest/latency_stats_test.cc — percentiles and summaries
// against hand-computed values (numpy's linear interpolation).
#include "loadtest/inferload/latency_stats.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace inferd::inferload {
namespace {

TEST(InferloadLatencyStatsTest, PercentileInterpolatesBetweenRanks) {
  const std::vector<double> v = {1, 2, 3, 4};
  // rank = p/100 * (n-1): 50 -> 1.5, 90 -> 2.7, 99 -> 2.97.
  EXPECT_DOUBLE_EQ(Percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(Percentile(v, 90), 3.7);
  EXPECT_DOUBLE_EQ(Percentile(v, 99), 3.97);
  EXPECT_DOUBLE_EQ(Percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(Percentile(v, 100), 4);
  EXPECT_DOUBLE_EQ(Percentile({10, 20}, 90), 19);
  EXPECT_DOUBLE_EQ(Percentile({7}, 99), 7);
}

TEST(InferloadLatencyStatsTest, PercentileOfOneToHundred) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  // rank 0.5*99 = 49.5 -> 50.5; 0.9*99 = 89.1 -> 90.1; 0.99*99 = 98.01 -> 99.01.
  EXPECT_DOUBLE_EQ(Percentile(v, 50), 50.5);
  EXPECT_NEAR(Percentile(v, 90), 90.1, 1e-12);
  EXPECT_NEAR(Percentile(v, 99), 99.01, 1e-12);
}

TEST(InferloadLatencyStatsTest, SummarizeSortsAndComputesMoments) {
  const LatencySummary s = Summarize({4, 1, 3, 2});
  EXPECT_EQ(s.count, 4);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.std, std::sqrt(1.25));  // population std
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 4);
  EXPECT_DOUBLE_EQ(s.p50, 2.5);
  EXPECT_DOUBLE_EQ(s.p90, 3.7);
  EXPECT_DOUBLE_EQ(s.p99, 3.97);
  EXPECT_LE(s.p50, s.p90);
  EXPECT_LE(s.p90, s.p99);
}

TEST(InferloadLatencyStatsTest, EmptySampleIsAllZeros) {
  const LatencySummary s = Summarize({});
  EXPECT_EQ(s.count, 0);
  EXPECT_EQ(s.mean, 0);
  EXPECT_EQ(s.p50, 0);
  EXPECT_EQ(s.p99, 0);
}

}  // namespace
}  // namespace inferd::inferload
