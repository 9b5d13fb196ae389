// tests/unit/loadtest/arrivals_test.cc — Poisson and gamma inter-arrival
// gaps: mean 1/rate and variance 1/(rate^2 * burstiness) with a fixed seed
// (statistical tolerance), and the open/closed-loop schedules.
#include "loadtest/inferload/arrivals.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace inferd::inferload {
namespace {

struct Moments {
  double mean = 0;
  double variance = 0;
};

Moments MomentsOf(const std::vector<double>& v) {
  Moments m;
  for (double x : v) m.mean += x;
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.variance += (x - m.mean) * (x - m.mean);
  m.variance /= static_cast<double>(v.size() - 1);
  return m;
}

constexpr int64_t kSamples = 200000;

// With 2e5 samples the relative standard error of the mean is < 0.5% and of
// the variance < 1% (gamma kurtosis 3 + 6/k); the tolerances are ~5 sigma.
void ExpectGammaMoments(double rate, double burstiness) {
  std::mt19937_64 rng(1234);
  const std::vector<double> gaps = GammaGaps(kSamples, rate, burstiness, rng);
  ASSERT_EQ(gaps.size(), static_cast<size_t>(kSamples));
  for (double gap : gaps) ASSERT_GE(gap, 0);
  const Moments m = MomentsOf(gaps);
  const double mean = 1.0 / rate;
  const double variance = 1.0 / (rate * rate * burstiness);
  EXPECT_NEAR(m.mean, mean, 0.02 * mean) << "rate " << rate << " burstiness " << burstiness;
  EXPECT_NEAR(m.variance, variance, 0.06 * variance)
      << "rate " << rate << " burstiness " << burstiness;
}

TEST(InferloadArrivalsTest, PoissonGapsAreExponential) {
  ExpectGammaMoments(10.0, 1.0);
  // Exponential: P(gap > mean) = e^-1.
  std::mt19937_64 rng(99);
  const std::vector<double> gaps = GammaGaps(kSamples, 4.0, 1.0, rng);
  int64_t above = 0;
  for (double gap : gaps) above += gap > 0.25 ? 1 : 0;
  EXPECT_NEAR(static_cast<double>(above) / kSamples, std::exp(-1.0), 0.01);
}

TEST(InferloadArrivalsTest, GammaGapsKeepTheMeanAndScaleTheVariance) {
  ExpectGammaMoments(10.0, 0.5);  // burstier: twice the Poisson variance
  ExpectGammaMoments(2.0, 4.0);   // smoother: a quarter of it
  ExpectGammaMoments(250.0, 1.5);
}

TEST(InferloadArrivalsTest, InfiniteRateSendsEverythingAtOnce) {
  std::mt19937_64 rng(1);
  for (double gap : GammaGaps(10, std::numeric_limits<double>::infinity(), 1.0, rng)) {
    EXPECT_EQ(gap, 0);
  }
  const ArrivalSchedule s = OpenLoopSchedule(5, std::numeric_limits<double>::infinity(), 1.0, 3);
  EXPECT_EQ(s.due_s, std::vector<double>(5, 0.0));
}

TEST(InferloadArrivalsTest, OpenLoopScheduleStartsAtZeroAndIsSeeded) {
  const ArrivalSchedule a = OpenLoopSchedule(20000, 50.0, 1.0, 7);
  ASSERT_EQ(a.due_s.size(), 20000u);
  EXPECT_EQ(a.max_in_flight, 0);
  EXPECT_EQ(a.due_s.front(), 0);
  for (size_t i = 1; i < a.due_s.size(); ++i) ASSERT_GE(a.due_s[i], a.due_s[i - 1]);
  // 19999 gaps of mean 1/50 s.
  EXPECT_NEAR(a.due_s.back(), 19999 / 50.0, 0.03 * 19999 / 50.0);
  EXPECT_EQ(OpenLoopSchedule(20000, 50.0, 1.0, 7).due_s, a.due_s);
  EXPECT_NE(OpenLoopSchedule(20000, 50.0, 1.0, 8).due_s, a.due_s);
}

TEST(InferloadArrivalsTest, ClosedLoopScheduleIsAllDueWithAConcurrencyCap) {
  const ArrivalSchedule s = ClosedLoopSchedule(6, 4);
  EXPECT_EQ(s.due_s, std::vector<double>(6, 0.0));
  EXPECT_EQ(s.max_in_flight, 4);
}

}  // namespace
}  // namespace inferd::inferload
