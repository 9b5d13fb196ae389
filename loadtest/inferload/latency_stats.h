// loadtest/inferload/latency_stats.h — summary statistics of a latency sample
// (seconds): mean, percentiles, spread.
//
// Percentiles interpolate linearly between the two nearest ranks, as numpy's
// default `np.percentile` (which vLLM's benchmark_serving uses): for sorted
// values v[0..n-1], the p-th percentile is at rank p/100 * (n-1). An empty
// sample summarizes to all zeros with count 0 (vLLM reports 0 too).
#ifndef INFERD_LOADTEST_INFERLOAD_LATENCY_STATS_H_
#define INFERD_LOADTEST_INFERLOAD_LATENCY_STATS_H_

#include <cstdint>
#include <vector>

namespace inferd::inferload {

struct LatencySummary {
  int64_t count = 0;
  double mean = 0;
  double std = 0;  // population standard deviation (numpy's np.std)
  double min = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};

// The p-th percentile (p in [0, 100]) of `sorted` (ascending, not empty).
double Percentile(const std::vector<double>& sorted, double p);

// Summarizes `values` (any order).
LatencySummary Summarize(std::vector<double> values);

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_LATENCY_STATS_H_
