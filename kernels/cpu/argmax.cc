// kernels/cpu/argmax.cc — Argmax: a vector max pass, then a scan for the
// first index holding it (so ties resolve to the lowest index, whatever the
// vector width).
#include <immintrin.h>

#include <cstdint>
#include <limits>

#include "kernels/ops.h"

namespace inferd::kernels {

int64_t Argmax(const float* x, int64_t n) {
  const float kNegInf = -std::numeric_limits<float>::infinity();
  // Pass 1: the maximum. _mm256_max_ps(v, acc) returns acc when v is NaN, so
  // NaNs never win.
  __m256 acc = _mm256_set1_ps(kNegInf);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_max_ps(_mm256_loadu_ps(x + i), acc);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  float best = kNegInf;
  for (float l : lanes) best = l > best ? l : best;
  for (; i < n; ++i) best = x[i] > best ? x[i] : best;
  if (!(best > kNegInf)) return 0;

  // Pass 2: the first index holding it.
  const __m256 target = _mm256_set1_ps(best);
  for (i = 0; i + 8 <= n; i += 8) {
    const int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), target, _CMP_EQ_OQ));
    if (mask != 0) return i + __builtin_ctz(static_cast<unsigned>(mask));
  }
  for (; i < n; ++i) {
    if (x[i] == best) return i;
  }
  return 0;  // unreachable: best came from x
}

}  // namespace inferd::kernels
