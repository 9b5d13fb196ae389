// kernels/cpu/int8_activations.h — internal to the quantized Matmuls
// (matmul_quant.cc per block of 32, matmul_kquant.cc per super-block of
// 256): the steps that turn fp32 activations into int8 with one scale,
// xq = nearbyint(x * id) with id = 127 / max |x| (0 for an all-zero block).
#ifndef INFERD_KERNELS_CPU_INT8_ACTIVATIONS_H_
#define INFERD_KERNELS_CPU_INT8_ACTIVATIONS_H_

#include <immintrin.h>

namespace inferd::kernels::cpu_internal {

// The largest of v's 8 lanes (exact: max has one value in any order).
inline float HorizontalMax(__m256 v) {
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  return _mm_cvtss_f32(m4);
}

// 32 values (v[0..3], in order) times id, rounded half to even, as 32 int8
// in order (saturating; |v * id| <= 127 when id is the block's 127 / max |x|).
inline __m256i ScaledToInt8(const __m256 v[4], __m256 id) {
  __m256i qi[4];
#pragma GCC unroll 4
  for (int s = 0; s < 4; ++s) {
    qi[s] = _mm256_cvtps_epi32(
        _mm256_round_ps(_mm256_mul_ps(v[s], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  // int32 -> int8; the packs interleave 128-bit halves, the permute restores
  // element order.
  return _mm256_permutevar8x32_epi32(
      _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3])),
      _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

}  // namespace inferd::kernels::cpu_internal

#endif  // INFERD_KERNELS_CPU_INT8_ACTIVATIONS_H_
