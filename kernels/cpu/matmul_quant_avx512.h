// kernels/cpu/matmul_quant_avx512.h — internal to kernels/cpu/matmul_quant.cc:
// the one-row (decode) quantized Matmul with AVX-512 VNNI, for CPUs that have
// AVX512-F/BW/DQ/VL/VNNI (chosen at run time by the includer), and the pieces
// the packed many-rows form (matmul_quant_packed_avx512.h) shares.
//
// Same arithmetic as matmul_quant.cc's 256-bit form, element by element: a
// zmm holds two columns' blocks side by side (lanes 0-7 column c, 8-15
// column c + 1) for one vpdpbusd; the 8 int32 lane sums of each column are
// added into the block's exact dot product (integer adds: any order gives the
// same value), then one FMA per column and block with the scale dw * dx. So
// every bit equals the AVX2 form's (tests check both).
//
//   Q8_0: |w| . (x negated where w < 0)   (a mask from w's sign bits)
//   Q4_0: codes . x - 8 . x               (codes 0..15; 8 . x once per block)
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

// -8 times the lane sums of an x block broadcast to both halves (Q4_0's
// correction, the start of its dot product); none for Q8_0.
INFERD_AVX512_VNNI inline __m512i XSums(const BlockQ8_0*, __m512i /*xx*/) {
  return _mm512_setzero_si512();
}
INFERD_AVX512_VNNI inline __m512i XSums(const BlockQ4_0*, __m512i xx) {
  return _mm512_sub_epi32(_mm512_setzero_si512(),
                          _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), xx));
}

// Lane sums (int32) of blocks b0 (lanes 0-7) and b1 (8-15) with one x block
// broadcast to both halves (xx); s8x: XSums of xx.
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

// The block dot products of 8 columns from their lane sums z[p] = [column 2p
// | column 2p + 1] (8 lanes each): lane c of the result = the sum of column
// c's 8 lanes. Exact integer adds, pairwise across the 4 registers.
INFERD_AVX512_VNNI inline __m256i ColumnSums(const __m512i z[4]) {
  // 128-bit chunk j of z[p]: column 2p + j / 2, lanes 4 (j % 2) .. + 3.
  const __m512i s01 =
      _mm512_add_epi32(_mm512_unpacklo_epi32(z[0], z[1]), _mm512_unpackhi_epi32(z[0], z[1]));
  const __m512i s23 =
      _mm512_add_epi32(_mm512_unpacklo_epi32(z[2], z[3]), _mm512_unpackhi_epi32(z[2], z[3]));
  // Chunk j: the 4-lane sums of chunk j of z[0], z[1], z[2], z[3].
  const __m512i t =
      _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
  // Chunk 0: columns 0, 2, 4, 6; chunk 2: columns 1, 3, 5, 7.
  const __m512i u = _mm512_add_epi32(t, _mm512_shuffle_i64x2(t, t, _MM_SHUFFLE(2, 3, 0, 1)));
  const __m512i order = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_castsi512_si256(_mm512_permutexvar_epi32(order, u));
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
  __m256 acc = _mm256_setzero_ps();
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
    const __m512i s8x = XSums(static_cast<const Block*>(nullptr), xx);
    __m512i z[kCols / 2];
#pragma GCC unroll 4
    for (int p = 0; p < kCols / 2; ++p) {
      z[p] = PairDotRow(w[(2 * p) * col_step + b], w[(2 * p + 1) * col_step + b], xx, s8x);
    }
    // The 8 scales dw * dx: one conversion, one multiply.
    const __m256 scales =
        _mm256_mul_ps(_mm256_cvtph_ps(GatherScales<kCols>(w, col_step, b)), _mm256_set1_ps(xd[b]));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ColumnSums(z)), scales, acc);
  }
  alignas(32) float sums[kCols];
  _mm256_store_ps(sums, acc);
#pragma GCC unroll 8
  for (int c = 0; c < kCols; ++c) {
    out[c * out_step] = bias != nullptr ? sums[c] + bias[c * out_step] : sums[c];
  }
}

}  // namespace inferd::kernels::quant_avx512

INFERD_ZMM_CODE_END

#endif  // INFERD_KERNELS_CPU_MATMUL_QUANT_AVX512_H_
