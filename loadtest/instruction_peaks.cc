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

// The block formats' instruction mixes on AVX512-VNNI, every operand in
// L1: what the packed-strip kernels would reach if memory cost nothing.
// Each iteration starts with a compiler memory barrier, so every operand is
// loaded again as the kernels load it (without it GCC hoisted the scale
// lines' loads and their multiplies by a dx shared by all rows out of the
// loop: the first version of these ceilings had no vmulps in its loop and
// read 84% where the kernels' real mix runs at 76-78%). Check with
// objdump that the loop holds the counts its comment gives.
//
// One iteration is one block of a 4-row x 2-strip tile, in the kernel's
// order (matmul_quant_packed_avx512.h): each row's start (the block's init)
// broadcast from memory; for each of the block's 8 groups of 4 bytes, each
// row's x broadcast and one vpdpbusd per strip over that group's w line (8
// chains); then per row its dx broadcast and per chain the vcvtdq2ps, the
// scale multiply and the FMA: 64 vpdpbusd, 8 vcvtdq2ps, 8 vmulps, 8 FMAs.
INFERD_AVX512VNNI double Q8BlockMix(int64_t iters) {
  constexpr int kRows = 4;
  alignas(64) static int8_t lines[2][9][64];
  alignas(64) static int8_t xq[kRows][32];
  alignas(64) static float xd[kRows] = {1.0001f, 0.9999f, 1.0002f, 0.9998f};
  alignas(64) static int32_t init[kRows] = {-3, 5, -7, 9};
  __m512 acc[kRows][2];
  for (auto& r : acc) r[0] = r[1] = _mm512_set1_ps(0.5f);
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < iters; ++i) {
    __asm__ volatile("" ::: "memory");
    __m512i dot[kRows][2];
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) dot[r][0] = dot[r][1] = _mm512_set1_epi32(init[r]);
#pragma GCC unroll 8
    for (int g = 0; g < 8; ++g) {
#pragma GCC unroll 4
      for (int r = 0; r < kRows; ++r) {
        int32_t x4;
        __builtin_memcpy(&x4, xq[r] + 4 * g, 4);
        const __m512i xb = _mm512_set1_epi32(x4);
#pragma GCC unroll 2
        for (int v = 0; v < 2; ++v) {
          dot[r][v] = _mm512_dpbusd_epi32(dot[r][v], _mm512_load_si512(lines[v][g]), xb);
        }
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      const __m512 dx = _mm512_set1_ps(xd[r]);
#pragma GCC unroll 2
      for (int v = 0; v < 2; ++v) {
        const __m512 scale = _mm512_mul_ps(_mm512_load_ps(lines[v][8]), dx);
        acc[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r][v]), scale, acc[r][v]);
      }
    }
  }
  for (auto& r : acc) __asm__ volatile("" : "+v"(r[0]), "+v"(r[1]));
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A k-quant scale's lines of a 6-row x 2-strip tile in the kernel's order
// (matmul_kquant_packed_avx512.h). Q4_K/Q5_K (kQ6 false): a sub-block of
// 32, 8 groups of 4 bytes, its dot products started from 0; Q6_K: a group
// of 16, 4 groups of 4 bytes, started from each row's -32 x S16 (broadcast
// from memory). For each group, the two strips' w lines, each row's x
// broadcast and one vpdpbusd per strip (12 chains); then per chain a
// vpmulld by the scale and a vpaddd into the super-block's sum: 96 (Q6_K:
// 48) vpdpbusd, 12 vpmulld, 12 vpaddd. At a super-block's end (every 8th,
// Q6_K 16th iteration), per row its dx broadcast and per chain: Q4_K/Q5_K
// the mins' 4 vpdpwssd, two multiplies, two conversions and two FMAs;
// Q6_K one multiply, one conversion, one FMA.
template <bool kQ6>
INFERD_AVX512VNNI double KQuantScaleMix(int64_t iters) {
  constexpr int kRows = 6;
  constexpr int kGroups = kQ6 ? 4 : 8;
  constexpr int64_t kSuperEnd = kQ6 ? 15 : 7;  // iteration mask of a super-block's last
  constexpr int kScaleLine = kGroups;          // then Q4_K's mins (4 lines), d, dmin
  alignas(64) static int8_t lines[2][kGroups + 7][64];
  alignas(64) static int8_t xq[kRows][32];
  alignas(64) static int32_t init[kRows] = {-3, 5, -7, 9, -11, 13};
  alignas(64) static float xd[kRows] = {1.0001f, 0.9999f, 1.0002f, 0.9998f, 1.0003f, 0.9997f};
  __m512i sq[kRows][2];
  __m512 acc[kRows][2];
  for (int r = 0; r < kRows; ++r) {
    for (int v = 0; v < 2; ++v) {
      sq[r][v] = _mm512_setzero_si512();
      acc[r][v] = _mm512_set1_ps(0.5f);
    }
  }
  const auto t0 = Clock::now();
  for (int64_t i = 0; i < iters; ++i) {
    __asm__ volatile("" ::: "memory");
    __m512i dot[kRows][2];
#pragma GCC unroll 6
    for (int r = 0; r < kRows; ++r) {
      dot[r][0] = dot[r][1] = kQ6 ? _mm512_set1_epi32(init[r]) : _mm512_setzero_si512();
    }
#pragma GCC unroll 8
    for (int g = 0; g < kGroups; ++g) {
      const __m512i w0 = _mm512_load_si512(lines[0][g]), w1 = _mm512_load_si512(lines[1][g]);
#pragma GCC unroll 6
      for (int r = 0; r < kRows; ++r) {
        int32_t x4;
        __builtin_memcpy(&x4, xq[r] + 4 * g, 4);
        const __m512i xb = _mm512_set1_epi32(x4);
        dot[r][0] = _mm512_dpbusd_epi32(dot[r][0], w0, xb);
        dot[r][1] = _mm512_dpbusd_epi32(dot[r][1], w1, xb);
      }
    }
#pragma GCC unroll 2
    for (int v = 0; v < 2; ++v) {
      const __m512i sc = _mm512_load_si512(lines[v][kScaleLine]);
#pragma GCC unroll 6
      for (int r = 0; r < kRows; ++r) {
        sq[r][v] = _mm512_add_epi32(sq[r][v], _mm512_mullo_epi32(dot[r][v], sc));
      }
    }
    if ((i & kSuperEnd) == kSuperEnd) {
#pragma GCC unroll 6
      for (int r = 0; r < kRows; ++r) {
        const __m512 dx = _mm512_set1_ps(xd[r]);
#pragma GCC unroll 2
        for (int v = 0; v < 2; ++v) {
          const __m512 d = _mm512_mul_ps(_mm512_load_ps(lines[v][kScaleLine + 5]), dx);
          acc[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sq[r][v]), d, acc[r][v]);
          if constexpr (!kQ6) {
            __m512i sm = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int p = 0; p < 4; ++p) {
              int32_t s2;
              __builtin_memcpy(&s2, xq[r] + 4 * p, 4);
              sm = _mm512_dpwssd_epi32(sm, _mm512_load_si512(lines[v][kScaleLine + 1 + p]),
                                       _mm512_set1_epi32(s2));
            }
            const __m512 dmin = _mm512_mul_ps(_mm512_load_ps(lines[v][kScaleLine + 6]), dx);
            acc[r][v] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(sm), dmin, acc[r][v]);
          }
          sq[r][v] = _mm512_setzero_si512();
        }
      }
    }
  }
  for (auto& r : acc) __asm__ volatile("" : "+v"(r[0]), "+v"(r[1]));
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Best rate over 3 tries of `threads` threads at once, ops/s.
double Measure(double (*loop)(int64_t), double ops_per_iteration, int threads,
               int64_t iters = 10'000'000) {
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<double> secs(static_cast<size_t>(threads));
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) ts.emplace_back([&, t] { secs[t] = loop(iters); });
    for (auto& t : ts) t.join();
    const double worst = *std::max_element(secs.begin(), secs.end());
    best = std::max(best, threads * static_cast<double>(iters) * ops_per_iteration / worst);
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
      p.one_thread = Measure(cand.loop, kChains * cand.ops, 1);
      p.all_threads = Measure(cand.loop, kChains * cand.ops, cores);
      // Another process may hold a core while all_threads runs.
      p.peak = std::max(p.all_threads, cores * p.one_thread);
    }
    peaks.push_back(p);
  }
  return peaks;
}

std::vector<MixCeiling> MeasureMixCeilings(int cores) {
  std::vector<MixCeiling> out;
  if (!DetectedCpuFeatures().avx512_vnni) return out;
  struct Mix {
    MixFormat format;
    const char* name;
    const char* mix;
    double ops;  // per iteration: the vpdpbusd lanes' int8 multiply-adds x 2
    double (*loop)(int64_t);
  };
  const Mix mixes[] = {
      {MixFormat::kQ8Block, "q8_0/q4_0 strips", "8 vpdpbusd + cvt + mul + fma a block",
       8 * 8 * 128.0, Q8BlockMix},
      {MixFormat::kKQuantSubBlock, "q4_k/q5_k strips", "8 vpdpbusd + vpmulld + vpaddd a sub-block",
       12 * 8 * 128.0, KQuantScaleMix<false>},
      {MixFormat::kQ6KGroup, "q6_k strips", "4 vpdpbusd + vpmulld + vpaddd a group of 16",
       12 * 4 * 128.0, KQuantScaleMix<true>},
  };
  for (const Mix& m : mixes) {
    MixCeiling c;
    c.format = m.format;
    c.name = m.name;
    c.mix = m.mix;
    c.one_thread = Measure(m.loop, m.ops, 1, 2'000'000);
    c.all_threads = Measure(m.loop, m.ops, cores, 2'000'000);
    c.ceiling = std::max(c.all_threads, cores * c.one_thread);
    out.push_back(c);
  }
  return out;
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

int MatmulMixFormat(DType w_dtype, int64_t m) {
  if ((w_dtype == DType::kQ8_0 || w_dtype == DType::kQ4_0) && MatmulQuantUsesVnniStrips(m)) {
    return static_cast<int>(MixFormat::kQ8Block);
  }
  if ((w_dtype == DType::kQ4_K || w_dtype == DType::kQ5_K) && MatmulKQuantUsesVnniStrips(m)) {
    return static_cast<int>(MixFormat::kKQuantSubBlock);
  }
  if (w_dtype == DType::kQ6_K && MatmulKQuantUsesVnniStrips(m)) {
    return static_cast<int>(MixFormat::kQ6KGroup);
  }
  return -1;
}

}  // namespace inferd::kernels

#pragma GCC diagnostic pop
