// loadtest/inferload/arrivals.cc
#include "loadtest/inferload/arrivals.h"

#include <cmath>

#include "common/check.h"

namespace inferd::inferload {

std::vector<double> GammaGaps(int64_t n, double rate, double burstiness, std::mt19937_64& rng) {
  INFERD_CHECK(rate > 0) << rate;
  INFERD_CHECK(burstiness > 0) << burstiness;
  std::vector<double> gaps(static_cast<size_t>(n), 0.0);
  if (std::isinf(rate)) return gaps;
  // Shape k, scale theta: mean k * theta = 1 / rate.
  std::gamma_distribution<double> gamma(burstiness, 1.0 / (rate * burstiness));
  for (double& gap : gaps) gap = gamma(rng);
  return gaps;
}

ArrivalSchedule OpenLoopSchedule(int64_t n, double rate, double burstiness, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::vector<double> gaps = GammaGaps(n, rate, burstiness, rng);
  ArrivalSchedule schedule;
  schedule.due_s.resize(gaps.size());
  double t = 0;
  for (size_t i = 0; i < gaps.size(); ++i) {
    schedule.due_s[i] = t;  // the first request goes at once, as in vLLM
    t += gaps[i];
  }
  return schedule;
}

ArrivalSchedule ClosedLoopSchedule(int64_t n, int concurrency) {
  INFERD_CHECK(concurrency >= 1) << concurrency;
  ArrivalSchedule schedule;
  schedule.due_s.assign(static_cast<size_t>(n), 0.0);
  schedule.max_in_flight = concurrency;
  return schedule;
}

}  // namespace inferd::inferload
