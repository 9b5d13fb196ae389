// kernels/cpu/matmul_quant_avx512.h — internal to kernels/cpu/matmul_quant.cc:
// the many-rows tiles of the quantized Matmul with AVX-512 VNNI, for CPUs
// that have AVX512-F/BW/DQ/VL/VNNI (chosen at run time by the includer).
//
// Same arithmetic as matmul_quant.cc's 256-bit tiles, element by element: a
// zmm holds two columns side by side (lanes 0-7 column c, lanes 8-15 column
// c + 1), each half exactly the 8 lanes of the 256-bit form: the same int32
// lane sums from one vpdpbusd, the same scale dw * dx per half, one FMA per
// lane and block, and at the end each half goes through the 8-lane tree of
// the 256-bit form. So every bit equals the AVX2 form's (tests check both).
//
//   Q8_0: |w| . (x negated where w < 0)   (a mask from w's sign bits)
//   Q4_0: codes . x - 8 . x               (codes 0..15; 8 . x once per row
//                                          and block, for every column pair)
#ifndef INFERD_KERNELS_CPU_MATMUL_QUANT_AVX512_H_
#define INFERD_KERNELS_CPU_MATMUL_QUANT_AVX512_H_

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/simd_avx512.h"
#include "kernels/quant_blocks.h"

#define INFERD_AVX512_VNNI \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c")))

INFERD_ZMM_CODE_BEGIN

namespace inferd::kernels::quant_avx512 {

// Rows of x and column pairs of w per tile: 8 x 2 = 16 zmm accumulators.
constexpr int kRows = 8;
constexpr int kPairs = 2;

// x quantized per row (matmul_quant.cc): q [m, k] int8 and d [m, k / 32]
// fp32 scales, one per block of 32.
struct XRows {
  const int8_t* q;
  const float* d;
  int64_t k;
};

// The fp16 scales of block b of NC (<= 8) columns whose blocks start
// col_step blocks apart, as 8 halves (zero past NC) for one vcvtph2ps:
// gathered through two general registers, off the vector ALUs.
template <int NC, typename Block>
inline __m128i GatherScales(const Block* w, int64_t col_step, int64_t b) {
  static_assert(NC >= 1 && NC <= 8);
  uint64_t lo = 0, hi = 0;
#pragma GCC unroll 8
  for (int c = 0; c < NC; ++c) {
    const uint64_t d = w[c * col_step + b].d;
    if (c < 4) {
      lo |= d << (16 * c);
    } else {
      hi |= d << (16 * (c - 4));
    }
  }
  return _mm_set_epi64x(static_cast<int64_t>(hi), static_cast<int64_t>(lo));
}

// Two columns' blocks made ready for every row: the unsigned operand, the
// sign mask (Q8_0) and the scales [dw0 x 8 | dw1 x 8].
struct PairQ8 {
  __m512i aw;
  __mmask64 neg;
  __m512 dw;
};
struct PairQ4 {
  __m512i codes;
  __m512 dw;
};

INFERD_AVX512_VNNI inline __m512 PairScales(uint16_t d0, uint16_t d1) {
  const __m256i h = _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(d1)),
                                     _mm_set1_epi16(static_cast<short>(d0)));
  return _mm512_cvtph_ps(h);
}

INFERD_AVX512_VNNI inline PairQ8 LoadPair(const BlockQ8_0& b0, const BlockQ8_0& b1) {
  const __m512i w = _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0.qs))),
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b1.qs)), 1);
  return {_mm512_abs_epi8(w), _mm512_movepi8_mask(w), PairScales(b0.d, b1.d)};
}

INFERD_AVX512_VNNI inline PairQ4 LoadPair(const BlockQ4_0& b0, const BlockQ4_0& b1) {
  // [c0 bytes | c1 bytes] -> 128-bit lanes [c0 lo, c1 lo, c0 hi, c1 hi] ->
  // [c0 lo, c0 hi, c1 lo, c1 hi]: each column's 32 codes in element order.
  const __m256i t = _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b0.qs))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(b1.qs)), 1);
  const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(t), _mm256_srli_epi16(t, 4), 1);
  const __m512i codes = _mm512_and_si512(_mm512_shuffle_i64x2(both, both, _MM_SHUFFLE(3, 1, 2, 0)),
                                         _mm512_set1_epi8(0x0F));
  return {codes, PairScales(b0.d, b1.d)};
}

// 8 * the lane sums of an x block (Q4_0's correction); none for Q8_0.
INFERD_AVX512_VNNI inline __m512i XSums(const PairQ8*, __m512i /*xx*/) {
  return _mm512_setzero_si512();
}
INFERD_AVX512_VNNI inline __m512i XSums(const PairQ4*, __m512i xx) {
  // Negated: Q4_0's dot product accumulates onto it.
  return _mm512_sub_epi32(_mm512_setzero_si512(),
                          _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), xx));
}

// Lane sums (int32) of the pair's blocks with one x block broadcast to both
// halves (xx); s8x: XSums of xx (Q4_0: -8 . x, the sum starts from it).
INFERD_AVX512_VNNI inline __m512i PairDot(const PairQ8& w, __m512i xx, __m512i /*s8x*/) {
  const __m512i sx = _mm512_mask_sub_epi8(xx, w.neg, _mm512_setzero_si512(), xx);
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), w.aw, sx);
}
INFERD_AVX512_VNNI inline __m512i PairDot(const PairQ4& w, __m512i xx, __m512i s8x) {
  return _mm512_dpbusd_epi32(s8x, w.codes, xx);
}

// The 8-lane tree of simd::Reduce4 / Sum8 on one column's lanes, + bias.
INFERD_AVX512_VNNI inline float Sum8(__m256 v) {
  const __m128 lo = _mm256_castps256_ps128(v);
  const __m128 hi = _mm256_extractf128_ps(v, 1);
  // ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7))
  const __m128 pl = _mm_hadd_ps(lo, lo);  // l0+l1, l2+l3
  const __m128 ph = _mm_hadd_ps(hi, hi);  // l4+l5, l6+l7
  const float a = _mm_cvtss_f32(pl) + _mm_cvtss_f32(_mm_movehdup_ps(pl));
  const float b = _mm_cvtss_f32(ph) + _mm_cvtss_f32(_mm_movehdup_ps(ph));
  return a + b;
}

// NR rows starting at row i by NP column pairs starting at w (adjacent
// columns, nb blocks each); out rows n apart.
template <typename Block, int NR, int NP>
INFERD_AVX512_VNNI inline void Tile(XRows x, int64_t i, const Block* w, const float* bias,
                                    float* out, int64_t n) {
  const int64_t k = x.k;
  const int64_t nb = k / kQuantBlockElems;
  const int8_t* xq = x.q + i * k;
  const float* xd = x.d + i * nb;
  __m512 acc[NR][NP];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
#pragma GCC unroll 4
    for (int p = 0; p < NP; ++p) acc[r][p] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    decltype(LoadPair(w[0], w[0])) wp[NP];
#pragma GCC unroll 4
    for (int p = 0; p < NP; ++p) wp[p] = LoadPair(w[(2 * p) * nb + b], w[(2 * p + 1) * nb + b]);
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      const __m512i xx = _mm512_broadcast_i64x4(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + r * k + b * kQuantBlockElems)));
      const __m512i s8x = XSums(wp, xx);
      const __m512 dxv = _mm512_set1_ps(xd[r * nb + b]);
#pragma GCC unroll 4
      for (int p = 0; p < NP; ++p) {
        const __m512i dot = PairDot(wp[p], xx, s8x);
        acc[r][p] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(wp[p].dw, dxv), acc[r][p]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
#pragma GCC unroll 4
    for (int p = 0; p < NP; ++p) {
      const float s0 = Sum8(_mm512_castps512_ps256(acc[r][p]));
      const float s1 = Sum8(_mm512_extractf32x8_ps(acc[r][p], 1));
      float* o = out + r * n + 2 * p;
      o[0] = bias != nullptr ? s0 + bias[2 * p] : s0;
      o[1] = bias != nullptr ? s1 + bias[2 * p + 1] : s1;
    }
  }
}

// The 32 codes of two blocks as one zmm [c0 | c1], each column in element
// order; for the one-row path, where the blocks of a pair are far apart.
INFERD_AVX512_VNNI inline __m512i LoadCodes(const BlockQ4_0& b0, const BlockQ4_0& b1) {
  // Each block's 16 bytes in both 128-bit halves of its 256, the upper half
  // shifted right by 4, then the low nibbles: [lo0 hi0 | lo1 hi1].
  const __m512i both = _mm512_inserti64x4(
      _mm512_castsi256_si512(
          _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b0.qs)))),
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b1.qs))), 1);
  const __m512i shifted = _mm512_srlv_epi64(both, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4));
  return _mm512_and_si512(shifted, _mm512_set1_epi8(0x0F));
}

INFERD_AVX512_VNNI inline __m512i PairDotRow(const BlockQ8_0& b0, const BlockQ8_0& b1, __m512i xx,
                                             __m512i /*s8x*/) {
  const __m512i w = _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b0.qs))),
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b1.qs)), 1);
  const __m512i sx = _mm512_mask_sub_epi8(xx, _mm512_movepi8_mask(w), _mm512_setzero_si512(), xx);
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(w), sx);
}
INFERD_AVX512_VNNI inline __m512i PairDotRow(const BlockQ4_0& b0, const BlockQ4_0& b1, __m512i xx,
                                             __m512i s8x) {
  return _mm512_dpbusd_epi32(s8x, LoadCodes(b0, b1), xx);
}

// One x row, 8 columns whose blocks start col_step blocks apart (the 8
// streams of the one-row path: matmul_quant.cc's RowTile<.., 8, true>, with
// columns 2p and 2p + 1 in one zmm); out and bias step out_step.
template <typename Block>
INFERD_AVX512_VNNI inline void RowStreams(const int8_t* xq, const float* xd, const Block* w,
                                          int64_t nb, int64_t col_step, const float* bias,
                                          int64_t out_step, float* out, int64_t prefetch_bytes) {
  constexpr int kCols = 8;
  constexpr int64_t kEvery = std::max<int64_t>(1, 64 / static_cast<int64_t>(sizeof(Block)));
  __m512 acc[kCols / 2];
#pragma GCC unroll 4
  for (int p = 0; p < kCols / 2; ++p) acc[p] = _mm512_setzero_ps();
  // Lane i of pair p's scale vector takes scale 2p + (i >= 8).
  __m512i spread[kCols / 2];
#pragma GCC unroll 4
  for (int p = 0; p < kCols / 2; ++p) {
    spread[p] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(2 * p)),
                                   _mm256_set1_epi32(2 * p + 1), 1);
  }
  for (int64_t b = 0; b < nb; ++b) {
    if (b % kEvery == 0) {
#pragma GCC unroll 8
      for (int c = 0; c < kCols; ++c) {
        _mm_prefetch(reinterpret_cast<const char*>(w + c * col_step + b) + prefetch_bytes,
                     _MM_HINT_T0);
      }
    }
    const __m512i xx = _mm512_broadcast_i64x4(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + b * kQuantBlockElems)));
    const __m512i s8x = XSums(static_cast<decltype(LoadPair(w[0], w[0]))*>(nullptr), xx);
    // The 8 scales dw * dx: one conversion, one multiply (the same products
    // as column by column).
    const __m256 scales =
        _mm256_mul_ps(_mm256_cvtph_ps(GatherScales<kCols>(w, col_step, b)), _mm256_set1_ps(xd[b]));
    const __m512 scales512 = _mm512_castps256_ps512(scales);
#pragma GCC unroll 4
    for (int p = 0; p < kCols / 2; ++p) {
      const __m512i dot =
          PairDotRow(w[(2 * p) * col_step + b], w[(2 * p + 1) * col_step + b], xx, s8x);
      acc[p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_permutexvar_ps(spread[p], scales512),
                               acc[p]);
    }
  }
#pragma GCC unroll 4
  for (int p = 0; p < kCols / 2; ++p) {
    const float s0 = Sum8(_mm512_castps512_ps256(acc[p]));
    const float s1 = Sum8(_mm512_extractf32x8_ps(acc[p], 1));
    const int64_t c0 = 2 * p * out_step, c1 = (2 * p + 1) * out_step;
    out[c0] = bias != nullptr ? s0 + bias[c0] : s0;
    out[c1] = bias != nullptr ? s1 + bias[c1] : s1;
  }
}

// A tile of `rows` (1..NR) rows and `pairs` (1..NP) column pairs.
template <typename Block, int NR = kRows, int NP = kPairs>
INFERD_AVX512_VNNI inline void AnyTile(int64_t rows, int64_t pairs, XRows x, int64_t i,
                                       const Block* w, const float* bias, float* out, int64_t n) {
  if (pairs < NP) {
    if constexpr (NP > 1) AnyTile<Block, NR, NP - 1>(rows, pairs, x, i, w, bias, out, n);
  } else if (rows < NR) {
    if constexpr (NR > 1) AnyTile<Block, NR - 1, NP>(rows, pairs, x, i, w, bias, out, n);
  } else {
    Tile<Block, NR, NP>(x, i, w, bias, out, n);
  }
}

// Columns [j_begin, j_begin + 2 * pairs) of all m rows (panels of w columns
// sized for L2, blocks of x rows for L1).
template <typename Block>
INFERD_AVX512_VNNI void PairColumns(XRows x, int64_t m, const Block* w, const float* bias,
                                    int64_t n, float* out, int64_t j_begin, int64_t pairs,
                                    int64_t panel_bytes, int64_t row_block_bytes) {
  const int64_t k = x.k;
  const int64_t nb = k / kQuantBlockElems;
  const int64_t w_row_bytes = nb * static_cast<int64_t>(sizeof(Block));
  const int64_t panel_pairs = std::max<int64_t>(kPairs, panel_bytes / (2 * w_row_bytes));
  const int64_t block_rows = std::max<int64_t>(kRows, row_block_bytes / k / kRows * kRows);
  for (int64_t pp = 0; pp < pairs; pp += panel_pairs) {
    const int64_t pp_end = std::min(pairs, pp + panel_pairs);
    for (int64_t ib = 0; ib < m; ib += block_rows) {
      const int64_t ib_end = std::min(m, ib + block_rows);
      for (int64_t p = pp; p < pp_end; p += kPairs) {
        const int64_t np = std::min<int64_t>(kPairs, pp_end - p);
        const int64_t j = j_begin + 2 * p;
        const float* bj = bias != nullptr ? bias + j : nullptr;
        for (int64_t i = ib; i < ib_end; i += kRows) {
          AnyTile<Block>(std::min<int64_t>(kRows, ib_end - i), np, x, i, w + j * nb, bj,
                         out + i * n + j, n);
        }
      }
    }
  }
}

}  // namespace inferd::kernels::quant_avx512

INFERD_ZMM_CODE_END

#endif  // INFERD_KERNELS_CPU_MATMUL_QUANT_AVX512_H_
