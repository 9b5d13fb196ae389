// kernels/cpu/gating.cc — SigmoidGatedAdd. Per row: one sigmoid in double,
// rounded to float, then an elementwise multiply-add (no reduction, so rows
// are independent of batching by construction).
#include <cmath>

#include "common/thread_pool.h"
#include "kernels/ops.h"

namespace inferd::kernels {

void SigmoidGatedAdd(const float* gate, const float* y, int64_t n, int64_t hidden, float* out) {
  ParallelFor(n, GrainFor(2 * hidden), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float g = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(gate[i]))));
      const float* yi = y + i * hidden;
      float* oi = out + i * hidden;
      for (int64_t j = 0; j < hidden; ++j) oi[j] += g * yi[j];
    }
  });
}

}  // namespace inferd::kernels
