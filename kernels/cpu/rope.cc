// kernels/cpu/rope.cc — Rope: rotate-half rotary embedding (HF convention).
//
// angle = float(pos) * inv_freq[i] is the float product HF computes; cos and
// sin of it are taken in double and rounded to float, so a value depends only
// on (pos, inv_freq[i]), never on a table or on the batch. Rows are split
// across threads; each row computes its cos/sin once for all of its heads.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/thread_pool.h"
#include "kernels/ops.h"

namespace inferd::kernels {
namespace {

constexpr int64_t kFreqChunk = 64;  // cos/sin computed this many at a time

void RopeRow(float* row, int32_t pos, int64_t num_heads, int64_t head_dim, const float* inv_freq) {
  const int64_t half = head_dim / 2;
  float cos_v[kFreqChunk];
  float sin_v[kFreqChunk];
  for (int64_t f0 = 0; f0 < half; f0 += kFreqChunk) {
    const int64_t cnt = std::min(kFreqChunk, half - f0);
    for (int64_t f = 0; f < cnt; ++f) {
      const float angle = static_cast<float>(pos) * inv_freq[f0 + f];
      cos_v[f] = static_cast<float>(std::cos(static_cast<double>(angle)));
      sin_v[f] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
    for (int64_t h = 0; h < num_heads; ++h) {
      float* lo = row + h * head_dim + f0;
      float* hi = lo + half;
      for (int64_t f = 0; f < cnt; ++f) {
        const float a = lo[f];
        const float b = hi[f];
        lo[f] = a * cos_v[f] - b * sin_v[f];
        hi[f] = b * cos_v[f] + a * sin_v[f];
      }
    }
  }
}

}  // namespace

void Rope(float* x, const int32_t* positions, int64_t n, int64_t num_heads, int64_t head_dim,
          const float* inv_freq) {
  const int64_t row = num_heads * head_dim;
  ParallelFor(n, GrainFor(3 * row + 20 * head_dim), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      RopeRow(x + i * row, positions[i], num_heads, head_dim, inv_freq);
  });
}

}  // namespace inferd::kernels
