// kernels/cpu/dword_transpose.h — internal to the packed-strip Matmuls
// (matmul_quant.cc's ymm strips, matmul_quant_packed_avx512.h,
// matmul_kquant_packed_avx512.h, matmul_kquant_strips_ymm.h): columns of 8
// dwords (32 bytes each) turned into 8 lines, so that lane c of line g is
// dword g of column c (one integer dot-product instruction on a line then
// advances every column's dot product by 4 bytes): 8 columns into ymm
// lines, 16 into zmm lines.
#ifndef INFERD_KERNELS_CPU_DWORD_TRANSPOSE_H_
#define INFERD_KERNELS_CPU_DWORD_TRANSPOSE_H_

#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/simd_avx512.h"

namespace inferd::kernels::cpu_internal {

// r[c] = 8 dwords of column c; out[g] lane c = dword g of r[c] (8 x 8, 24
// shuffles; out 32-byte aligned).
inline void TransposeDwords8x8(const __m256i r[8], __m256i* out) {
  __m256i t[8], u[8];
#pragma GCC unroll 4
  for (int p = 0; p < 4; ++p) {
    t[2 * p] = _mm256_unpacklo_epi32(r[2 * p], r[2 * p + 1]);
    t[2 * p + 1] = _mm256_unpackhi_epi32(r[2 * p], r[2 * p + 1]);
  }
  // u[4h + q]: columns 4h..4h+3, dwords {q, q + 4} (q = 0..3).
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    u[4 * h + 0] = _mm256_unpacklo_epi64(t[4 * h], t[4 * h + 2]);
    u[4 * h + 1] = _mm256_unpackhi_epi64(t[4 * h], t[4 * h + 2]);
    u[4 * h + 2] = _mm256_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
    u[4 * h + 3] = _mm256_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
  }
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    _mm256_store_si256(out + q, _mm256_permute2x128_si256(u[q], u[4 + q], 0x20));
    _mm256_store_si256(out + 4 + q, _mm256_permute2x128_si256(u[q], u[4 + q], 0x31));
  }
}

}  // namespace inferd::kernels::cpu_internal

INFERD_ZMM_CODE_BEGIN

namespace inferd::kernels::avx512 {

// vpermt2d indices of the 16 x 8 dword transpose (lane L of a result takes
// lane idx & 15 of the first source, or of the second when idx & 16).
// Level 1 merges [col 2j | col 2j + 1] pairs into 4 columns x 4 groups (h:
// groups 0-3 or 4-7), level 2 into 8 columns x 2 groups, level 3 into 16
// columns x 1 group.
struct DwordTransposeIndex {
  alignas(64) int32_t l1[2][16];
  alignas(64) int32_t l2[2][16];
  alignas(64) int32_t l3[2][16];
  constexpr DwordTransposeIndex() : l1{}, l2{}, l3{} {
    for (int h = 0; h < 2; ++h) {
      for (int g = 0; g < 4; ++g) {
        for (int c = 0; c < 4; ++c) l1[h][g * 4 + c] = (c >= 2 ? 16 : 0) + (c % 2) * 8 + 4 * h + g;
      }
      for (int g = 0; g < 2; ++g) {
        for (int c = 0; c < 8; ++c) l2[h][g * 8 + c] = (c >= 4 ? 16 : 0) + (2 * h + g) * 4 + c % 4;
      }
      for (int c = 0; c < 16; ++c) l3[h][c] = (c >= 8 ? 16 : 0) + h * 8 + c % 8;
    }
  }
};
inline constexpr DwordTransposeIndex kDwordTranspose{};

// z[j] = column 2j (low 256 bits) and column 2j + 1 (high); out: 8 64-byte
// aligned lines, line g lane c = dword g of column c. 24 vpermt2d.
INFERD_AVX512 inline void TransposeDwords16x8(const __m512i z[8], __m512i* out) {
  __m512i t1[4][2];  // [column quad][group half]
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      t1[i][h] = _mm512_permutex2var_epi32(z[2 * i], _mm512_load_si512(kDwordTranspose.l1[h]),
                                           z[2 * i + 1]);
    }
  }
  __m512i t2[2][2][2];  // [column octet][group half][group quarter]
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i) {
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 2
      for (int q = 0; q < 2; ++q) {
        t2[i][h][q] = _mm512_permutex2var_epi32(
            t1[2 * i][h], _mm512_load_si512(kDwordTranspose.l2[q]), t1[2 * i + 1][h]);
      }
    }
  }
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 2
    for (int q = 0; q < 2; ++q) {
#pragma GCC unroll 2
      for (int g = 0; g < 2; ++g) {
        _mm512_store_si512(out + 4 * h + 2 * q + g,
                           _mm512_permutex2var_epi32(
                               t2[0][h][q], _mm512_load_si512(kDwordTranspose.l3[g]), t2[1][h][q]));
      }
    }
  }
}

}  // namespace inferd::kernels::avx512

INFERD_ZMM_CODE_END

#endif  // INFERD_KERNELS_CPU_DWORD_TRANSPOSE_H_
