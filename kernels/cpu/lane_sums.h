// kernels/cpu/lane_sums.h — internal to the quantized Matmuls
// (matmul_quant.cc, matmul_kquant.cc): the per-column sums of 8 int32 lane
// vectors, one vector per column, as one vector with a lane per column.
#ifndef INFERD_KERNELS_CPU_LANE_SUMS_H_
#define INFERD_KERNELS_CPU_LANE_SUMS_H_

#include <immintrin.h>

namespace inferd::kernels::cpu_internal {

// Lane c = the sum of p[c]'s 8 lanes (exact integer adds, wrapping only
// where the caller's bounds allow none; zero vectors for absent columns).
inline __m256i ColumnSums(const __m256i p[8]) {
  // hadd of (a, b): [a01 a23 b01 b23 | a45 a67 b45 b67]
  const __m256i h01 = _mm256_hadd_epi32(p[0], p[1]);
  const __m256i h23 = _mm256_hadd_epi32(p[2], p[3]);
  const __m256i h45 = _mm256_hadd_epi32(p[4], p[5]);
  const __m256i h67 = _mm256_hadd_epi32(p[6], p[7]);
  // [p0 p1 p2 p3 lanes 0-3 | the same, lanes 4-7], and for p4..p7.
  const __m256i q0 = _mm256_hadd_epi32(h01, h23);
  const __m256i q1 = _mm256_hadd_epi32(h45, h67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(q0, q1, 0x20),
                          _mm256_permute2x128_si256(q0, q1, 0x31));
}

}  // namespace inferd::kernels::cpu_internal

#endif  // INFERD_KERNELS_CPU_LANE_SUMS_H_
