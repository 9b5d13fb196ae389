// loadtest/instruction_peaks.cc — see instruction_peaks.h.
#include "loadtest/instruction_peaks.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cpu_isa.h"
#include "kernels/ops.h"

// GCC 12's 512-bit set1 intrinsics start from undefined vectors, which
// -Wmaybe-uninitialized reports once inlined.
#pragma GCC diagnostic push
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace inferd::kernels {
namespace {

using Clock = std::chrono::steady_clock;

// kChains independent chains of one instruction (12 hide a 5-6 cycle
// latency at 2 per cycle); the asm statements keep them in registers and
// the loop from being folded away. Returns seconds for `iters` iterations.
constexpr int kChains = 12;

#define INFERD_PEAK_LOOP(ATTR, NAME, VEC, INIT, STEP)                                      \
  ATTR double NAME(int64_t iters) {                                                        \
    VEC a0 = INIT, a1 = INIT, a2 = INIT, a3 = INIT, a4 = INIT, a5 = INIT;                  \
    VEC a6 = INIT, a7 = INIT, a8 = INIT, a9 = INIT, a10 = INIT, a11 = INIT;                \
    const auto t0 = Clock::now();                                                          \
    for (int64_t i = 0; i < iters; ++i) {                                                  \
      a0 = STEP(a0);                                                                       \
      a1 = STEP(a1);                                                                       \
      a2 = STEP(a2);                                                                       \
      a3 = STEP(a3);                                                                       \
      a4 = STEP(a4);                                                                       \
      a5 = STEP(a5);                                                                       \
      a6 = STEP(a6);                                                                       \
      a7 = STEP(a7);                                                                       \
      a8 = STEP(a8);                                                                       \
      a9 = STEP(a9);                                                                       \
      a10 = STEP(a10);                                                                     \
      a11 = STEP(a11);                                                                     \
      __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));   \
      __asm__ volatile("" : "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11)); \
    }                                                                                      \
    return std::chrono::duration<double>(Clock::now() - t0).count();                       \
  }

#define INFERD_AVX2 __attribute__((target("avx2,fma")))
#define INFERD_AVXVNNI __attribute__((target("avx2,fma,avxvnni")))
#define INFERD_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")))
#define INFERD_AVX512BF16 \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma")))
#define INFERD_AVX512VNNI \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma")))

#define FMA256(a) _mm256_fmadd_ps(a, _mm256_set1_ps(0.999999f), _mm256_set1_ps(1e-7f))
INFERD_PEAK_LOOP(INFERD_AVX2, Fma256, __m256, _mm256_set1_ps(0.5f), FMA256)

#define FMA512(a) _mm512_fmadd_ps(a, _mm512_set1_ps(0.999999f), _mm512_set1_ps(1e-7f))
INFERD_PEAK_LOOP(INFERD_AVX512, Fma512, __m512, _mm512_set1_ps(0.5f), FMA512)

#define BF16DOT(a)                                                           \
  _mm512_dpbf16_ps(a, reinterpret_cast<__m512bh>(_mm512_set1_epi16(0x3f80)), \
                   reinterpret_cast<__m512bh>(_mm512_set1_epi16(0x3380)))
INFERD_PEAK_LOOP(INFERD_AVX512BF16, Bf16Dot512, __m512, _mm512_set1_ps(0.5f), BF16DOT)

#define VNNI512(a) _mm512_dpbusd_epi32(a, _mm512_set1_epi8(3), _mm512_set1_epi8(5))
INFERD_PEAK_LOOP(INFERD_AVX512VNNI, Vnni512, __m512i, _mm512_set1_epi32(1), VNNI512)

#define VNNI256(a) _mm256_dpbusd_avx_epi32(a, _mm256_set1_epi8(3), _mm256_set1_epi8(5))
INFERD_PEAK_LOOP(INFERD_AVXVNNI, Vnni256, __m256i, _mm256_set1_epi32(1), VNNI256)

// The AVX2 form of an int8 dot step (matmul_quant.cc): vpmaddubsw to int16
// pairs, then vpmaddwd by ones to int32: 32 multiply-adds per pair of
// instructions (the kernel's vpaddd into its accumulator runs on another
// port). The chain feeds each step's result back as the next step's bytes,
// so nothing is loop-invariant.
#define MADDUBS256(a) \
  _mm256_madd_epi16(_mm256_maddubs_epi16(a, _mm256_set1_epi8(5)), _mm256_set1_epi16(1))
INFERD_PEAK_LOOP(INFERD_AVX2, Maddubs256, __m256i, _mm256_set1_epi32(1), MADDUBS256)
#define MADDUBS512(a) \
  _mm512_madd_epi16(_mm512_maddubs_epi16(a, _mm512_set1_epi8(5)), _mm512_set1_epi16(1))
INFERD_PEAK_LOOP(INFERD_AVX512, Maddubs512, __m512i, _mm512_set1_epi32(1), MADDUBS512)

// Best rate over 3 tries of `threads` threads at once, ops/s.
double Measure(double (*loop)(int64_t), double ops_per_instruction, int threads) {
  constexpr int64_t kIters = 10'000'000;
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<double> secs(static_cast<size_t>(threads));
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) ts.emplace_back([&, t] { secs[t] = loop(kIters); });
    for (auto& t : ts) t.join();
    const double worst = *std::max_element(secs.begin(), secs.end());
    best = std::max(best, threads * kIters * kChains * ops_per_instruction / worst);
  }
  return best;
}

}  // namespace

const char* PeakClassName(PeakClass c) {
  switch (c) {
    case PeakClass::kFma256:
      return "fma256";
    case PeakClass::kFma512:
      return "fma512";
    case PeakClass::kBf16Dot512:
      return "bf16dot512";
    case PeakClass::kInt8Maddubs256:
      return "int8maddubs256";
    case PeakClass::kInt8Maddubs512:
      return "int8maddubs512";
    case PeakClass::kInt8Vnni256:
      return "int8vnni256";
    case PeakClass::kInt8Vnni512:
      return "int8vnni512";
  }
  return "?";
}

std::vector<InstructionPeak> MeasureInstructionPeaks(int cores) {
  struct Candidate {
    PeakClass cls;
    const char* instruction;
    double ops;  // per instruction
    double (*loop)(int64_t);
    bool available;
  };
  const CpuFeatures& cpu = DetectedCpuFeatures();
  const Candidate all[] = {
      {PeakClass::kFma256, "vfmadd231ps ymm", 16, Fma256, true},
      {PeakClass::kFma512, "vfmadd231ps zmm", 32, Fma512, cpu.avx512},
      {PeakClass::kBf16Dot512, "vdpbf16ps zmm", 64, Bf16Dot512, cpu.avx512_bf16},
      {PeakClass::kInt8Maddubs256, "vpmaddubsw+vpmaddwd ymm", 64, Maddubs256, true},
      {PeakClass::kInt8Maddubs512, "vpmaddubsw+vpmaddwd zmm", 128, Maddubs512, cpu.avx512},
      {PeakClass::kInt8Vnni256, "vpdpbusd ymm", 64, Vnni256, cpu.avx_vnni},
      {PeakClass::kInt8Vnni512, "vpdpbusd zmm", 128, Vnni512, cpu.avx512_vnni},
  };
  std::vector<InstructionPeak> peaks;
  for (const Candidate& cand : all) {
    InstructionPeak p;
    p.cls = cand.cls;
    p.instruction = cand.instruction;
    p.available = cand.available;
    if (cand.available) {
      p.one_thread = Measure(cand.loop, cand.ops, 1);
      p.all_threads = Measure(cand.loop, cand.ops, cores);
      // Another process may hold a core while all_threads runs.
      p.peak = std::max(p.all_threads, cores * p.one_thread);
    }
    peaks.push_back(p);
  }
  return peaks;
}

PeakClass MatmulPeakClass(DType w_dtype, int64_t m) {
  const CpuIsa isa = ActiveCpuIsa();
  if (IsKQuant(w_dtype)) {
    // kernels/cpu/matmul_kquant.cc: 4+ rows with AVX512-VNNI on packed strips
    // (vpdpbusd zmm), else vpmaddubsw tiles, zmm on the avx512 path.
    if (MatmulKQuantUsesVnniStrips(m)) {
      return PeakClass::kInt8Vnni512;
    }
    return isa == CpuIsa::kAvx512 ? PeakClass::kInt8Maddubs512 : PeakClass::kInt8Maddubs256;
  }
  if (IsQuantized(w_dtype)) {
    const std::string form = MatmulQuantizedDotIsa();
    if (form == "avx512-vnni") return PeakClass::kInt8Vnni512;
    if (form == "avx-vnni") return PeakClass::kInt8Vnni256;
    return PeakClass::kInt8Maddubs256;
  }
  if (w_dtype == DType::kBF16 && MatmulBf16UsesDotProduct()) return PeakClass::kBf16Dot512;
  // Fewer than 4 rows run 256-bit FMAs on every path (memory-bound); more
  // rows on the avx512 path run zmm tiles.
  return isa == CpuIsa::kAvx512 && m >= 4 ? PeakClass::kFma512 : PeakClass::kFma256;
}

}  // namespace inferd::kernels

#pragma GCC diagnostic pop
