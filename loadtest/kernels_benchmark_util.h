// loadtest/kernels_benchmark_util.h — helpers shared by the kernels_benchmark
// sources: random inputs and the GFLOP/s + %peak counters.
#ifndef INFERD_LOADTEST_KERNELS_BENCHMARK_UTIL_H_
#define INFERD_LOADTEST_KERNELS_BENCHMARK_UTIL_H_

#include <cstdint>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"

namespace inferd::kernels {

// Measured FP32 FMA peak, flop/s, all cores (set by kernels_benchmark's main).
inline double g_peak_flops = 0;

// Uniform in [-1, 1).
inline std::vector<float> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

// GFLOP/s and %peak counters for `flops_per_iter` flops per iteration.
inline void SetFlopCounters(benchmark::State& state, double flops_per_iter) {
  const double iters = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iter * iters / 1e9, benchmark::Counter::kIsRate);
  state.counters["%peak"] = benchmark::Counter(flops_per_iter * iters / g_peak_flops * 100.0,
                                               benchmark::Counter::kIsRate);
}

// Registers the MoE and dense-MLP cases (moe_benchmark.cc).
void RegisterMoeBenchmarks();

}  // namespace inferd::kernels

#endif  // INFERD_LOADTEST_KERNELS_BENCHMARK_UTIL_H_
