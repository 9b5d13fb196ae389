// kernels/cpu/embedding.cc — Embedding: a row gather. A pure copy, so
// trivially batch-invariant.
#include <cstdint>
#include <cstring>

#include "kernels/cpu/thread_pool.h"
#include "kernels/ops.h"

namespace inferd::kernels {

void Embedding(const float* table, int64_t vocab, int64_t hidden, const int32_t* ids, int64_t n,
               float* out) {
  (void)vocab;  // ids are in [0, vocab) by contract
  ParallelFor(n, GrainFor(8 * hidden), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      std::memcpy(out + i * hidden, table + static_cast<int64_t>(ids[i]) * hidden,
                  sizeof(float) * hidden);
    }
  });
}

}  // namespace inferd::kernels
