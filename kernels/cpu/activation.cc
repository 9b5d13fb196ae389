// kernels/cpu/activation.cc — elementwise ops: Add and SiluMul (SwiGLU).
//
// silu(g) * u is computed as (g / (1 + exp(-g))) * u with simd::Exp on every
// element (the row tail goes through a masked vector too), so an element's
// bits depend only on its inputs.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "common/thread_pool.h"
#include "kernels/cpu/simd.h"
#include "kernels/ops.h"

namespace inferd::kernels {
namespace {

inline __m256 SiluMul8(__m256 g, __m256 u) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = simd::Exp(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), u);
}

}  // namespace

void Add(const float* a, const float* b, int64_t n, float* out) {
  constexpr int64_t kBlock = 1024;  // items are blocks of 1024 floats
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  ParallelFor(blocks, GrainFor(3 * kBlock), [&](int64_t bb, int64_t be) {
    const int64_t end = std::min(n, be * kBlock);
    int64_t t = bb * kBlock;
    for (; t + 8 <= end; t += 8) {
      _mm256_storeu_ps(out + t, _mm256_add_ps(_mm256_loadu_ps(a + t), _mm256_loadu_ps(b + t)));
    }
    for (; t < end; ++t) out[t] = a[t] + b[t];
  });
}

void SiluMul(const float* gate_up, int64_t n, int64_t inter, float* out) {
  ParallelFor(n, GrainFor(16 * inter), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float* g = gate_up + i * 2 * inter;
      const float* u = g + inter;
      float* o = out + i * inter;
      int64_t t = 0;
      for (; t + 8 <= inter; t += 8) {
        _mm256_storeu_ps(o + t, SiluMul8(_mm256_loadu_ps(g + t), _mm256_loadu_ps(u + t)));
      }
      if (t < inter) {
        const __m256i m = simd::TailMask(inter - t);
        _mm256_maskstore_ps(o + t, m,
                            SiluMul8(simd::LoadPartial(g + t, m), simd::LoadPartial(u + t, m)));
      }
    }
  });
}

}  // namespace inferd::kernels
