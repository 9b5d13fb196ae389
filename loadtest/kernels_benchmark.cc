// loadtest/kernels_benchmark.cc — CPU kernel throughput against this
// machine's measured peak of the instruction class each kernel runs.
//
// The peaks are measured first (loadtest/instruction_peaks.h: 256- and
// 512-bit FMA, vdpbf16ps, the int8 dot products) and printed; each Matmul
// case reports GFLOP/s and % of its class's peak (the class is the case's
// label: it follows the active CPU path and the weight dtype), and the
// int8 packed-strip cases also % of their block format's measured
// instruction-mix ceiling (%ceiling); RmsNorm and PagedAttention decode
// report bytes/s.
//   build/kernels_benchmark --benchmark_min_time=0.2
//   INFERD_CPU_ISA=avx2 build/kernels_benchmark ...   (the AVX2 path forced)
// The MoE and dense-MLP cases live in moe_benchmark.cc.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/thread_pool.h"
#include "kernels/cpu_isa.h"
#include "kernels/ops.h"
#include "kernels/quant_blocks.h"
#include "loadtest/kernels_benchmark_util.h"

namespace inferd::kernels {
namespace {

void BM_Matmul(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const auto x = Random(m * k, 1);
  const HostBuffer w = RandomInEngineMemory(n * k, 2);
  std::vector<float> out(static_cast<size_t>(m * n));
  for (auto _ : state) {
    Matmul(x.data(), w.data(), nullptr, m, n, k, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, 2.0 * m * n * k, MatmulPeakClass(DType::kF32, m));
}

// Random k-quant super-blocks of `n` elements (llama.cpp makes them; this
// project only reads them): random codes, scales and mins, fp16 d and dmin
// of 1/256 (the first field(s) of Q4_K/Q5_K, the last of Q6_K).
void RandomKQuantBlocks(DType t, int64_t n, uint8_t* out) {
  const int64_t bytes = DTypeBytes(t, n), block = DTypeBytes(t, kKQuantBlockElems);
  uint32_t state = 12345;
  for (int64_t i = 0; i < bytes; ++i) {
    state = state * 1664525u + 1013904223u;
    out[i] = static_cast<uint8_t>(state >> 24);
  }
  const uint16_t d = F32ToF16(1.0f / 256);
  for (int64_t b = 0; b < bytes / block; ++b) {
    uint8_t* blk = out + b * block;
    if (t == DType::kQ6_K) {
      std::memcpy(blk + block - 2, &d, 2);
    } else {
      std::memcpy(blk, &d, 2);
      std::memcpy(blk + 2, &d, 2);
    }
  }
}

// Matmul with a weight of any dtype (range 3, a kernels::DType: fp32, a
// 16-bit type, Q8_0/Q4_0 blocks or the k-quants' super-blocks) on the 1B-parameter Llama's shapes:
// bytes/s counts the weight bytes read.
void BM_MatmulDType(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const DType dtype = static_cast<DType>(state.range(3));
  const auto x = Random(m * k, 1);
  const auto w32 = Random(n * k, 2);
  HostBuffer buffer = EngineMemory(DTypeBytes(dtype, n * k));
  auto* w = static_cast<uint8_t*>(buffer.data());
  if (IsKQuant(dtype)) {  // nothing here makes k-quants: random super-blocks
    RandomKQuantBlocks(dtype, n * k, w);
  } else if (IsQuantized(dtype)) {
    for (int64_t j = 0; j < n; ++j) {
      QuantizeRow(dtype, w32.data() + j * k, k, w + DTypeBytes(dtype, j * k));
    }
  } else {
    ConvertFromF32(w32.data(), n * k, w, dtype);
  }
  std::vector<float> out(static_cast<size_t>(m * n));
  for (auto _ : state) {
    Matmul(x.data(), w, nullptr, m, n, k, out.data(), dtype);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * DTypeBytes(dtype, n * k));
  SetFlopCounters(state, 2.0 * m * n * k, MatmulPeakClass(dtype, m));
  // The packed-strip kernels also against their format's mix ceiling.
  if (const int f = MatmulMixFormat(dtype, m); f >= 0 && g_mix_ceilings[f] > 0) {
    state.counters["%ceiling"] = benchmark::Counter(
        2.0 * m * n * k * static_cast<double>(state.iterations()) / g_mix_ceilings[f] * 100.0,
        benchmark::Counter::kIsRate);
  }
}

void BM_RmsNorm(benchmark::State& state) {
  const int64_t n = state.range(0), hidden = state.range(1);
  const auto x = Random(n * hidden, 1);
  const auto w = Random(hidden, 2);
  std::vector<float> out(x.size());
  for (auto _ : state) {
    RmsNorm(x.data(), w.data(), n, hidden, 1e-5f, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * n * hidden * 8);
}

// `batch` sequences of `ctx` tokens each whose last `q_len` tokens are the
// queries (1: decode; ctx: a whole prompt's prefill, causal), physical
// blocks shuffled, the cache in `kv_dtype` (range 6, a DType). Bytes = K and
// V rows read once per query token's KV head; flops = 4 per (query head,
// visible key, dim).
void BM_PagedAttention(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const int ctx = static_cast<int>(state.range(1));
  const int hq = static_cast<int>(state.range(2));
  const int hkv = static_cast<int>(state.range(3));
  const int d = static_cast<int>(state.range(4));
  const int q_len = static_cast<int>(state.range(5));
  const DType kv_dtype = static_cast<DType>(state.range(6));
  const int bs = 16;
  const int blocks_per_seq = (ctx + bs - 1) / bs;
  const int num_blocks = batch * blocks_per_seq;
  const int64_t cache_elems = int64_t{num_blocks} * bs * hkv * d;
  HostBuffer k_cache = EngineMemory(DTypeBytes(kv_dtype, cache_elems));
  HostBuffer v_cache = EngineMemory(DTypeBytes(kv_dtype, cache_elems));
  ConvertFromF32(Random(cache_elems, 1).data(), cache_elems, k_cache.data(), kv_dtype);
  ConvertFromF32(Random(cache_elems, 2).data(), cache_elems, v_cache.data(), kv_dtype);
  const auto q = Random(int64_t{batch} * q_len * hq * d, 3);
  std::vector<float> out(q.size());
  std::vector<int32_t> tables(static_cast<size_t>(num_blocks));
  for (int i = 0; i < num_blocks; ++i) tables[i] = i;
  std::shuffle(tables.begin(), tables.end(), std::mt19937(4));
  std::vector<int32_t> query_start(batch + 1), seq_lens(batch, ctx);
  for (int s = 0; s <= batch; ++s) query_start[s] = s * q_len;
  PagedAttentionParams p;
  p.q = q.data();
  p.k_cache = k_cache.data();
  p.v_cache = v_cache.data();
  p.kv_dtype = kv_dtype;
  p.out = out.data();
  p.query_start = query_start.data();
  p.seq_lens = seq_lens.data();
  p.block_tables = tables.data();
  p.num_seqs = batch;
  p.max_blocks_per_seq = blocks_per_seq;
  p.num_q_heads = hq;
  p.num_kv_heads = hkv;
  p.head_dim = d;
  p.block_size = bs;
  p.scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (auto _ : state) {
    PagedAttention(p);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  // Visible keys summed over the query positions ctx - q_len .. ctx - 1.
  const double keys = static_cast<double>(q_len) * (2.0 * ctx - q_len + 1) / 2;
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * batch * keys * hkv * d * 2 * DTypeSize(kv_dtype)));
  SetFlopCounters(state, 4.0 * batch * keys * hq * d);
}

void RegisterAll() {
  struct Shape {
    const char* name;
    int64_t n, k;
  };
  const Shape shapes[] = {
      {"q_proj/o_proj", 128, 128}, {"k_proj/v_proj", 32, 128}, {"gate_up", 704, 128},
      {"down_proj", 128, 352},     {"lm_head", 32000, 128},    {"stories260K_64x64", 64, 64},
  };
  for (const Shape& s : shapes) {
    for (int64_t m : {1, 16, 64}) {
      benchmark::RegisterBenchmark((std::string("Matmul/") + s.name).c_str(), BM_Matmul)
          ->Args({m, s.n, s.k})
          ->ArgNames({"M", "N", "K"})
          ->UseRealTime();
    }
  }
  // Llama-3.2-1B shapes (hidden 2048, 8 KV heads of 64, ffn 8192, vocab 32000).
  const Shape llama1b[] = {
      {"1B_qkv", 3072, 2048},  {"1B_o", 2048, 2048},        {"1B_gate_up", 16384, 2048},
      {"1B_down", 2048, 8192}, {"1B_lm_head", 32000, 2048},
  };
  for (const Shape& s : llama1b) {
    for (int64_t dtype :
         {0, 1, 2, 3, 4, 5, 7, 6}) {  // fp32, fp16, bf16, q8_0, q4_0, q4_k, q5_k, q6_k
      // 1, 4 and 16: decode at batch 1, 4 and 16 streams (4: also a
      // speculative verification); 64 and 512: prefill.
      for (int64_t m : {1, 4, 16, 64, 512}) {
        benchmark::RegisterBenchmark((std::string("MatmulDType/") + s.name).c_str(), BM_MatmulDType)
            ->Args({m, s.n, s.k, dtype})
            ->ArgNames({"M", "N", "K", "dtype"})
            ->UseRealTime();
      }
    }
  }
  for (auto [n, h] : std::vector<std::pair<int64_t, int64_t>>{{1, 128}, {16, 128}, {16, 4096}}) {
    benchmark::RegisterBenchmark("RmsNorm", BM_RmsNorm)
        ->Args({n, h})
        ->ArgNames({"n", "hidden"})
        ->UseRealTime();
  }
  // batch, ctx, hq, hkv, d, q_len, kv dtype (0 fp32, 2 bf16).
  const std::vector<std::vector<int64_t>> attn = {
      {1, 256, 4, 1, 32, 1, 0},    {8, 256, 4, 1, 32, 1, 0},     {1, 1024, 32, 8, 128, 1, 0},
      {4, 1024, 32, 8, 128, 1, 0}, {16, 1024, 32, 8, 64, 1, 2},     // 1B decode, 16 streams
      {1, 512, 32, 8, 64, 512, 2}, {1, 2048, 32, 8, 64, 2048, 2}};  // 1B prefill 512 / 2048
  for (const auto& a : attn) {
    benchmark::RegisterBenchmark(a[5] == 1 ? "PagedAttentionDecode" : "PagedAttentionPrefill",
                                 BM_PagedAttention)
        ->Args(a)
        ->ArgNames({"batch", "ctx", "hq", "hkv", "d", "q_len", "kv_dtype"})
        ->UseRealTime();
  }
  RegisterMoeBenchmarks();
}

}  // namespace
}  // namespace inferd::kernels

int main(int argc, char** argv) {
  using inferd::kernels::g_peaks;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::printf("CPU kernels: %s (INFERD_CPU_ISA=auto|avx2|avx-vnni|avx512 forces a path)\n",
              inferd::kernels::CpuKernelsSummary().c_str());
  std::printf(
      "Peak per instruction class, %d independent chains per thread; %%peak divides by\n"
      "max(%d threads at once, %d x one thread) of the class the kernel runs (its label):\n",
      12, cores, cores);
  std::printf("  %-16s %-32s %14s %14s\n", "class", "instruction", "1 thread", "all threads");
  for (const inferd::kernels::InstructionPeak& p :
       inferd::kernels::MeasureInstructionPeaks(cores)) {
    if (!p.available) {
      std::printf("  %-16s %-32s %14s %14s\n", inferd::kernels::PeakClassName(p.cls), p.instruction,
                  "not on this CPU", "");
      continue;
    }
    g_peaks[static_cast<int>(p.cls)] = p.peak;
    std::printf("  %-16s %-32s %9.1f G/s %9.1f G/s\n", inferd::kernels::PeakClassName(p.cls),
                p.instruction, p.one_thread / 1e9, p.all_threads / 1e9);
  }
  // (Empty without AVX512-VNNI, whose vpdpbusd zmm peak is then 0.)
  // %ceiling divides a packed-strip int8 kernel by its format's ceiling.
  const double vnni512 = g_peaks[static_cast<int>(inferd::kernels::PeakClass::kInt8Vnni512)];
  for (const inferd::kernels::MixCeiling& c : inferd::kernels::MeasureMixCeilings(cores)) {
    inferd::kernels::g_mix_ceilings[static_cast<int>(c.format)] = c.ceiling;
    std::printf("  ceiling: %-17s %-44s %7.1f G/s = %.0f%% of int8vnni512 (%%ceiling)\n", c.name,
                c.mix, c.ceiling / 1e9, 100 * c.ceiling / vnni512);
  }
  if (const char* env = std::getenv("INFERD_KERNEL_THREADS"); env != nullptr) {
    ::inferd::SetNumThreads(std::atoi(env));
  }
  std::printf("  kernel threads: %d (env INFERD_KERNEL_THREADS)\n\n", ::inferd::NumThreads());
  inferd::kernels::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
