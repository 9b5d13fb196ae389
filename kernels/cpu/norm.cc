// kernels/cpu/norm.cc — RmsNorm and AddRmsNorm (Llama RMSNorm), fp32.
//
// Per row: ss = simd::Dot(x, x) (fixed lane order), inv = 1 / sqrt(ss / hidden
// + eps), out = weight * (x * inv) as HF computes it. Rows are independent and
// split across threads by rows, so a row's bits never depend on the batch.
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "common/thread_pool.h"
#include "kernels/cpu/simd.h"
#include "kernels/ops.h"

namespace inferd::kernels {
namespace {

// out = weight * (x * inv); out may alias x.
void ScaleRow(const float* x, const float* weight, int64_t hidden, float inv, float* out) {
  const __m256 vinv = _mm256_set1_ps(inv);
  int64_t t = 0;
  for (; t + 8 <= hidden; t += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + t), vinv);
    _mm256_storeu_ps(out + t, _mm256_mul_ps(_mm256_loadu_ps(weight + t), v));
  }
  for (; t < hidden; ++t) out[t] = weight[t] * (x[t] * inv);
}

float InvRms(const float* x, int64_t hidden, float eps) {
  const float ss = simd::Dot(x, x, hidden);
  return 1.0f / std::sqrt(ss / static_cast<float>(hidden) + eps);
}

}  // namespace

void RmsNorm(const float* x, const float* weight, int64_t n, int64_t hidden, float eps,
             float* out) {
  ParallelFor(n, GrainFor(4 * hidden), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float* xi = x + i * hidden;
      ScaleRow(xi, weight, hidden, InvRms(xi, hidden, eps), out + i * hidden);
    }
  });
}

void AddRmsNorm(float* residual, const float* x, const float* weight, int64_t n, int64_t hidden,
                float eps, float* out) {
  ParallelFor(n, GrainFor(6 * hidden), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float* r = residual + i * hidden;
      const float* xi = x + i * hidden;
      int64_t t = 0;
      for (; t + 8 <= hidden; t += 8) {
        _mm256_storeu_ps(r + t, _mm256_add_ps(_mm256_loadu_ps(r + t), _mm256_loadu_ps(xi + t)));
      }
      for (; t < hidden; ++t) r[t] = r[t] + xi[t];
      ScaleRow(r, weight, hidden, InvRms(r, hidden, eps), out + i * hidden);
    }
  });
}

}  // namespace inferd::kernels
