// loadtest/moe_benchmark.cc — MoE layer (MoeExperts) and dense SwiGLU MLP
// cases of kernels_benchmark, both reporting GFLOP/s and %peak.
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "kernels/ops.h"
#include "loadtest/kernels_benchmark_util.h"

namespace inferd::kernels {
namespace {

// MoE layer: MoeExperts only (MoeRoute runs once outside the timed loop;
// BM_MoeRoute times it separately). Router logits are random, so every
// expert gets work. Flops = 6 * tokens * k * hidden * inter (gate_up + down).
void BM_MoeExperts(benchmark::State& state) {
  const int64_t n = state.range(0), ne = state.range(1), k = state.range(2);
  const int64_t hidden = state.range(3), inter = state.range(4);
  const auto x = Random(n * hidden, 1);
  const HostBuffer gate_up = RandomInEngineMemory(ne * 2 * inter * hidden, 2);
  const HostBuffer down = RandomInEngineMemory(ne * hidden * inter, 3);
  const auto logits = Random(n * ne, 4);
  std::vector<int32_t> ids(static_cast<size_t>(n * k));
  std::vector<float> weights(static_cast<size_t>(n * k));
  MoeRoute(logits.data(), n, ne, k, true, ids.data(), weights.data());
  std::vector<float> out(static_cast<size_t>(n * hidden));
  std::vector<float> scratch(static_cast<size_t>(MoeScratchFloats(n, k, hidden, inter)));
  std::vector<int32_t> int_scratch(static_cast<size_t>(MoeScratchInts(n, k, ne)));
  MoeExpertsParams p;
  p.x = x.data();
  p.topk_ids = ids.data();
  p.topk_weights = weights.data();
  p.gate_up = gate_up.data();
  p.down = down.data();
  p.out = out.data();
  p.scratch = scratch.data();
  p.int_scratch = int_scratch.data();
  p.n = n;
  p.k = k;
  p.hidden = hidden;
  p.inter = inter;
  p.num_experts = ne;
  for (auto _ : state) {
    MoeExperts(p);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, 6.0 * n * k * hidden * inter);
}

void BM_MoeRoute(benchmark::State& state) {
  const int64_t n = state.range(0), ne = state.range(1), k = state.range(2);
  const auto logits = Random(n * ne, 4);
  std::vector<int32_t> ids(static_cast<size_t>(n * k));
  std::vector<float> weights(static_cast<size_t>(n * k));
  for (auto _ : state) {
    MoeRoute(logits.data(), n, ne, k, true, ids.data(), weights.data());
    benchmark::DoNotOptimize(weights.data());
    benchmark::ClobberMemory();
  }
}

// Dense SwiGLU MLP for comparison: Matmul gate_up + SiluMul + Matmul down.
void BM_DenseMlp(benchmark::State& state) {
  const int64_t n = state.range(0), hidden = state.range(1), inter = state.range(2);
  const auto x = Random(n * hidden, 1);
  const HostBuffer gate_up = RandomInEngineMemory(2 * inter * hidden, 2);
  const HostBuffer down = RandomInEngineMemory(hidden * inter, 3);
  std::vector<float> gu(static_cast<size_t>(n * 2 * inter)), act(static_cast<size_t>(n * inter));
  std::vector<float> out(static_cast<size_t>(n * hidden));
  for (auto _ : state) {
    Matmul(x.data(), gate_up.data(), nullptr, n, 2 * inter, hidden, gu.data());
    SiluMul(gu.data(), n, inter, act.data());
    Matmul(act.data(), down.data(), nullptr, n, hidden, inter, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, 6.0 * n * hidden * inter);
}

}  // namespace

void RegisterMoeBenchmarks() {
  // MoE: E=64, hidden 1024, expert width 512 on 2,048 tokens (k = 1..8) and
  // decode (16 tokens, k = 2); the dense MLP of width 1,024 matches k = 2's
  // flops.
  for (int64_t k : {1, 2, 4, 8}) {
    benchmark::RegisterBenchmark("MoeExperts", BM_MoeExperts)
        ->Args({2048, 64, k, 1024, 512})
        ->ArgNames({"tokens", "E", "k", "hidden", "inter"})
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("MoeExperts", BM_MoeExperts)
      ->Args({16, 64, 2, 1024, 512})
      ->ArgNames({"tokens", "E", "k", "hidden", "inter"})
      ->UseRealTime();
  for (int64_t n : {2048, 16}) {
    benchmark::RegisterBenchmark("MoeRoute", BM_MoeRoute)
        ->Args({n, 64, 2})
        ->ArgNames({"tokens", "E", "k"})
        ->UseRealTime();
    benchmark::RegisterBenchmark("DenseMlp", BM_DenseMlp)
        ->Args({n, 1024, 1024})
        ->ArgNames({"tokens", "hidden", "inter"})
        ->UseRealTime();
  }
}

}  // namespace inferd::kernels
