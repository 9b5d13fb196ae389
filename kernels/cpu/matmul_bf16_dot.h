// kernels/cpu/matmul_bf16_dot.h — Matmul for bf16 weights with AVX512_BF16's
// vdpbf16ps (included by matmul.cc only; compiled with function-level target
// attributes, called only on the avx512 path of a CPU with AVX512_BF16:
// kernels/cpu_isa.h).
//
// Arithmetic (its own bits, not the fp32 instance's): each x row is rounded
// to bf16 (nearest even, vcvtne2ps2bf16) once per call, into a copy padded
// with zeros to a multiple of 32. out[i, j] keeps 16 fp32 lanes; lane l takes
// the pairs k = 32t + 2l, 2l + 1 for t = 0, 1, ... in increasing t, one
// vdpbf16ps each (the bf16 products are exact in fp32; the instruction adds
// them to the lane one after the other, odd element first, each rounded to
// nearest even, denormals flushed). w's k tail is a zero-filled masked load.
// Then lane l + 8 is added to lane l (l < 8) and the 8 lanes go through
// simd::Reduce4's tree, then + bias. Every path below (one row, register
// tiles) does exactly this per element, so out[i, j] depends only on x row
// i, w row j and k: batch- and thread-invariant.
//
// Why: vdpbf16ps does 32 multiply-adds per instruction where widening w
// and an fp32 FMA do 16 (measured peaks, one thread: 389 vs 205 GFLOP/s),
// and w is read as stored, without the widening shifts. This is also what
// a bf16 checkpoint computes in PyTorch, whose bf16 linear layers take bf16
// activations.
#ifndef INFERD_KERNELS_CPU_MATMUL_BF16_DOT_H_
#define INFERD_KERNELS_CPU_MATMUL_BF16_DOT_H_

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/simd.h"
#include "kernels/cpu/simd_avx512.h"

#define INFERD_AVX512_BF16 \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c")))

INFERD_ZMM_CODE_BEGIN

namespace inferd::kernels::bf16_dot {

constexpr int64_t kStep = 32;  // k elements per vdpbf16ps
// Register tile: rows of x by columns of w, 24 zmm accumulators, 4 w
// vectors and 1 x vector of the 32 registers; 10 loads per 24 vdpbf16ps.
constexpr int kMr = 6;
constexpr int kNr = 4;

// k rounded up to whole steps: the row length of the rounded x copy.
inline int64_t PaddedK(int64_t k) { return (k + kStep - 1) / kStep * kStep; }

// Rows [i0, i1) of x [m, k] fp32 rounded to bf16 into xb [m, PaddedK(k)],
// zeros past k.
INFERD_AVX512_BF16 inline void RoundRows(const float* x, int64_t k, int64_t i0, int64_t i1,
                                         uint16_t* xb) {
  const int64_t kp = PaddedK(k);
  for (int64_t i = i0; i < i1; ++i) {
    const float* xi = x + i * k;
    uint16_t* o = xb + i * kp;
    for (int64_t t = 0; t < kp; t += kStep) {
      const int64_t r = std::min<int64_t>(kStep, k - t);
      const __mmask16 lo =
          static_cast<__mmask16>(r >= 16 ? 0xFFFF : (1u << std::max<int64_t>(r, 0)) - 1);
      const __mmask16 hi =
          static_cast<__mmask16>(r >= 32 ? 0xFFFF : (r > 16 ? (1u << (r - 16)) - 1 : 0));
      const __m512 a = _mm512_maskz_loadu_ps(lo, xi + t);
      const __m512 b = _mm512_maskz_loadu_ps(hi, xi + t + 16);
      _mm512_storeu_si512(o + t, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(b, a)));
    }
  }
}

// 32 elements of a w row at t: all of them, or the first r (< 32) and zeros.
template <bool kPartial>
INFERD_AVX512_BF16 inline __m512i LoadW(const uint16_t* w, __mmask32 mask) {
  if constexpr (kPartial) {
    return _mm512_maskz_loadu_epi16(mask, w);
  } else {
    return _mm512_loadu_si512(w);
  }
}

INFERD_AVX512_BF16 inline __m512 Dp(__m512 acc, __m512i x, __m512i w) {
  return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(x), reinterpret_cast<__m512bh>(w));
}

// Lane l + 8 added to lane l.
INFERD_AVX512_BF16 inline __m256 Fold(__m512 a) {
  return _mm256_add_ps(simd::Low(a), simd::High(a));
}

// The sums of up to 4 accumulators (zero past n) + bias, stored to o[0..n).
INFERD_AVX512_BF16 inline void Store4(const __m512* acc, int n, const float* bias, float* o,
                                      int64_t ostride) {
  const __m256 zero = _mm256_setzero_ps();
  const __m128 s = simd::Reduce4(Fold(acc[0]), n > 1 ? Fold(acc[1]) : zero,
                                 n > 2 ? Fold(acc[2]) : zero, n > 3 ? Fold(acc[3]) : zero);
  alignas(16) float sums[4];
  _mm_store_ps(sums, s);
  for (int j = 0; j < n; ++j) {
    o[j * ostride] = bias != nullptr ? sums[j] + bias[j * ostride] : sums[j];
  }
}

// One k step of a tile: acc[i][j] += the 32 elements of x row i and w row j
// at t.
template <int MR, int NR, bool kPartial>
INFERD_AVX512_BF16 inline void TileStep(__m512 (&acc)[MR][NR], const uint16_t* xb, int64_t kp,
                                        const uint16_t* w, int64_t k, int64_t t, __mmask32 mask,
                                        const char* pf) {
  if (pf != nullptr) {
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) _mm_prefetch(pf + 2 * (j * k + t), _MM_HINT_T0);
  }
  __m512i wv[NR];
#pragma GCC unroll 8
  for (int j = 0; j < NR; ++j) wv[j] = LoadW<kPartial>(w + j * k + t, mask);
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    const __m512i xv = _mm512_loadu_si512(xb + i * kp + t);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = Dp(acc[i][j], xv, wv[j]);
  }
}

// out[i, j] for i < MR, j < NR: xb rows kp apart (bf16, padded), w rows k
// apart, out rows ldo apart. With pf (not null) it also prefetches the NR
// rows of k bf16 elements at pf, k apart, one cache line each per step (the
// next column tile's w, which streams from DRAM the first time: its rows
// are page-sized, so the hardware prefetchers restart at every row).
template <int MR, int NR>
INFERD_AVX512_BF16 inline void Tile(const uint16_t* xb, int64_t kp, const uint16_t* w, int64_t k,
                                    const float* bias, float* out, int64_t ldo,
                                    const char* pf = nullptr) {
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
  }
  int64_t t = 0;
  for (; t + kStep <= k; t += kStep) TileStep<MR, NR, false>(acc, xb, kp, w, k, t, 0, pf);
  if (t < k) {
    TileStep<MR, NR, true>(acc, xb, kp, w, k, t, static_cast<__mmask32>((1ull << (k - t)) - 1),
                           nullptr);
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) Store4(acc[i], NR, bias, out + i * ldo, 1);
}

// A tile of `rows` (1..MR) rows and `cols` (1..NR) columns.
template <int MR = kMr, int NR = kNr>
INFERD_AVX512_BF16 inline void AnyTile(int64_t rows, int64_t cols, const uint16_t* xb, int64_t kp,
                                       const uint16_t* w, int64_t k, const float* bias, float* out,
                                       int64_t ldo) {
  if (cols < NR) {
    if constexpr (NR > 1) AnyTile<MR, NR - 1>(rows, cols, xb, kp, w, k, bias, out, ldo);
    return;
  }
  if (rows < MR) {
    if constexpr (MR > 1) AnyTile<MR - 1, NR>(rows, cols, xb, kp, w, k, bias, out, ldo);
    return;
  }
  Tile<MR, NR>(xb, kp, w, k, bias, out, ldo);
}

// ---- One row of x (decode at batch 1): memory-bound. ----
// Columns c + s * stride (s < 8) as 8 long sequential streams with a
// software prefetch, as matmul.cc's Gemv8; per element Tile's arithmetic.
constexpr int kStreams = 8;
constexpr int64_t kPrefetchBytes = 1024;

INFERD_AVX512_BF16 inline void Gemv8(const uint16_t* xb, const uint16_t* w, int64_t k,
                                     int64_t stride, const float* bias, float* out) {
  const int64_t seg = stride * k;
  __m512 acc[kStreams];
#pragma GCC unroll 8
  for (int s = 0; s < kStreams; ++s) acc[s] = _mm512_setzero_ps();
  int64_t t = 0;
  for (; t + kStep <= k; t += kStep) {
    const __m512i xv = _mm512_loadu_si512(xb + t);
#pragma GCC unroll 8
    for (int s = 0; s < kStreams; ++s) {
      _mm_prefetch(reinterpret_cast<const char*>(w + s * seg + t) + kPrefetchBytes, _MM_HINT_T0);
      acc[s] = Dp(acc[s], xv, _mm512_loadu_si512(w + s * seg + t));
    }
  }
  if (t < k) {
    const __mmask32 mask = static_cast<__mmask32>((1ull << (k - t)) - 1);
    const __m512i xv = _mm512_loadu_si512(xb + t);
#pragma GCC unroll 8
    for (int s = 0; s < kStreams; ++s) {
      acc[s] = Dp(acc[s], xv, _mm512_maskz_loadu_epi16(mask, w + s * seg + t));
    }
  }
  Store4(acc, 4, bias, out, stride);
  Store4(acc + 4, 4, bias != nullptr ? bias + 4 * stride : nullptr, out + 4 * stride, stride);
}

// Output columns [j_begin, j_end) of the one row xb.
INFERD_AVX512_BF16 inline void GemvColumns(const uint16_t* xb, const uint16_t* w, const float* bias,
                                           int64_t k, float* out, int64_t j_begin, int64_t j_end) {
  const int64_t stride = (j_end - j_begin) / kStreams;
  for (int64_t r = 0; r < stride; ++r) {
    const int64_t j = j_begin + r;
    Gemv8(xb, w + j * k, k, stride, bias != nullptr ? bias + j : nullptr, out + j);
  }
  for (int64_t j = j_begin + kStreams * stride; j < j_end; j += kNr) {
    AnyTile(1, std::min<int64_t>(kNr, j_end - j), xb, PaddedK(k), w + j * k, k,
            bias != nullptr ? bias + j : nullptr, out + j, 0);
  }
}

// Output columns [j_begin, j_end) of all m rows: panels of w columns sized
// for L2 (panel_cols), and inside a panel each row tile (in L1) sweeps the
// panel's column tiles.
INFERD_AVX512_BF16 inline void Columns(const uint16_t* xb, const uint16_t* w, const float* bias,
                                       int64_t m, int64_t n, int64_t k, float* out, int64_t j_begin,
                                       int64_t j_end, int64_t panel_cols) {
  const int64_t kp = PaddedK(k);
  for (int64_t jp = j_begin; jp < j_end; jp += panel_cols) {
    const int64_t jp_end = std::min(j_end, jp + panel_cols);
    for (int64_t i = 0; i < m; i += kMr) {
      const int64_t rows = std::min<int64_t>(kMr, m - i);
      for (int64_t j = jp; j < jp_end; j += kNr) {
        const int64_t cols = std::min<int64_t>(kNr, jp_end - j);
        const float* bj = bias != nullptr ? bias + j : nullptr;
        if (rows == kMr && cols == kNr) {
          // The first row tile pulls the next column tile's w in.
          const char* pf = i == 0 && j + 2 * kNr <= jp_end
                               ? reinterpret_cast<const char*>(w + (j + kNr) * k)
                               : nullptr;
          Tile<kMr, kNr>(xb + i * kp, kp, w + j * k, k, bj, out + i * n + j, n, pf);
        } else {
          AnyTile(rows, cols, xb + i * kp, kp, w + j * k, k, bj, out + i * n + j, n);
        }
      }
    }
  }
}

}  // namespace inferd::kernels::bf16_dot

INFERD_ZMM_CODE_END

#endif  // INFERD_KERNELS_CPU_MATMUL_BF16_DOT_H_
