// loadtest/kernels_benchmark_util.h — helpers shared by the kernels_benchmark
// sources: random inputs, memory held as the engine holds weights, and the
// GFLOP/s + %peak counters (against the measured peak of the instruction
// class each kernel runs).
#ifndef INFERD_LOADTEST_KERNELS_BENCHMARK_UTIL_H_
#define INFERD_LOADTEST_KERNELS_BENCHMARK_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "common/host_buffer.h"
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

// `bytes` held as the engine holds weights and the KV cache
// (common/host_buffer.h: 2 MiB-aligned, transparent huge pages). A kernel
// reading w from a std::vector's 4 KiB pages measures TLB misses the server
// never has: the bf16 tiles, which read w as stored, 4 columns at a time,
// ran 10-20 points of their peak lower on the 1B shapes.
inline HostBuffer EngineMemory(int64_t bytes) {
  absl::StatusOr<HostBuffer> b = HostBuffer::Allocate(bytes);
  if (!b.ok()) {
    std::fprintf(stderr, "kernels_benchmark: %s\n", b.status().ToString().c_str());
    std::abort();
  }
  return *std::move(b);
}

// Random(n, seed) in engine memory.
inline HostBuffer RandomInEngineMemory(int64_t n, uint32_t seed) {
  HostBuffer b = EngineMemory(n * static_cast<int64_t>(sizeof(float)));
  const std::vector<float> v = Random(n, seed);
  std::copy(v.begin(), v.end(), static_cast<float*>(b.data()));
  return b;
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
