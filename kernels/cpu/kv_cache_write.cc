// kernels/cpu/kv_cache_write.cc — WriteKvCache: scatters new K/V rows into
// the paged cache at flat slots (block_id * block_size + offset); a negative
// slot skips its row (padding). A pure copy, so trivially batch-invariant.
#include <cstdint>
#include <cstring>

#include "common/thread_pool.h"
#include "kernels/ops.h"

namespace inferd::kernels {

void WriteKvCache(const float* k, const float* v, const int32_t* slot_mapping, int64_t n,
                  int64_t kv_dim, void* k_cache, void* v_cache, DType cache_dtype) {
  const int64_t row_bytes = kv_dim * DTypeSize(cache_dtype);
  auto* kc = static_cast<uint8_t*>(k_cache);
  auto* vc = static_cast<uint8_t*>(v_cache);
  ParallelFor(n, GrainFor(16 * kv_dim), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t slot = slot_mapping[i];
      if (slot < 0) continue;
      ConvertFromF32(k + i * kv_dim, kv_dim, kc + slot * row_bytes, cache_dtype);
      ConvertFromF32(v + i * kv_dim, kv_dim, vc + slot * row_bytes, cache_dtype);
    }
  });
}

}  // namespace inferd::kernels
