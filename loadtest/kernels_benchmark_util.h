// loadtest/kernels_benchmark_util.h — helpers shared by the kernels_benchmark
// sources: random inputs and the GFLOP/s + %peak counters (against the
// measured peak of the instruction class each kernel runs).
#ifndef INFERD_LOADTEST_KERNELS_BENCHMARK_UTIL_H_
#define INFERD_LOADTEST_KERNELS_BENCHMARK_UTIL_H_

#include <cstdint>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "loadtest/instruction_peaks.h"

namespace inferd::kernels {

// Measured peak per instruction class, ops/s, all cores (set by
// kernels_benchmark's main; loadtest/instruction_peaks.h), indexed by
// PeakClass; 0 where the CPU lacks the class.
inline double g_peaks[kNumPeakClasses] = {};
// Measured mix ceilings by MixFormat (0 where not measured).
inline double g_mix_ceilings[kNumMixFormats] = {};

// Uniform in [-1, 1).
inline std::vector<float> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

// GFLOP/s and %peak counters for `flops_per_iter` flops (or int8 ops) per
// iteration, against the peak of class `cls` (named in the label).
inline void SetFlopCounters(benchmark::State& state, double flops_per_iter, PeakClass cls) {
  const double iters = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iter * iters / 1e9, benchmark::Counter::kIsRate);
  const double peak = g_peaks[static_cast<int>(cls)];
  state.counters["%peak"] = benchmark::Counter(peak > 0 ? flops_per_iter * iters / peak * 100.0 : 0,
                                               benchmark::Counter::kIsRate);
  state.SetLabel(PeakClassName(cls));
}

// The same against the fp32 FMA class of the active path (256- or 512-bit),
// for fp32 kernels other than Matmul (attention, MoE).
inline void SetFlopCounters(benchmark::State& state, double flops_per_iter) {
  SetFlopCounters(state, flops_per_iter, MatmulPeakClass(DType::kF32, 64));
}

// Registers the MoE and dense-MLP cases (moe_benchmark.cc).
void RegisterMoeBenchmarks();

}  // namespace inferd::kernels

#endif  // INFERD_LOADTEST_KERNELS_BENCHMARK_UTIL_H_
