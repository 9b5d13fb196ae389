// kernels/cpu/kv_cache_copy.cc — CopyKvSlots: moves whole cache rows between
// flat slots, in the order given (after tree verification, the accepted
// path's rows move to consecutive positions).
//
// Sequential semantics: move i reads what moves 0..i-1 left behind, so a
// chain a -> b, b -> c carries a's row to c. Rows are split into column
// ranges across threads; each range applies every move in order, and columns
// never interact, so the result equals the one-thread loop for any split.
// A pure copy: no arithmetic, trivially batch-invariant.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/check.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/ops.h"

namespace inferd::kernels {
namespace {

constexpr int64_t kColumnChunk = 16;  // floats: one 64-byte cache line per row

// Applies moves 0..n-1 in order to columns [c0, c1) of every row.
void CopyColumns(const int32_t* src_slots, const int32_t* dst_slots, int64_t n, int64_t kv_dim,
                 int64_t c0, int64_t c1, float* cache) {
  const size_t bytes = sizeof(float) * static_cast<size_t>(c1 - c0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t src = src_slots[i], dst = dst_slots[i];
    if (src == dst) continue;  // distinct slots never overlap
    std::memcpy(cache + dst * kv_dim + c0, cache + src * kv_dim + c0, bytes);
  }
}

}  // namespace

void CopyKvSlots(const int32_t* src_slots, const int32_t* dst_slots, int64_t n, int64_t kv_dim,
                 float* k_cache, float* v_cache) {
  if (n <= 0 || kv_dim <= 0) return;
  for (int64_t i = 0; i < n; ++i) {
    INFERD_CHECK(src_slots[i] >= 0 && dst_slots[i] >= 0)
        << "CopyKvSlots move " << i << ": " << src_slots[i] << " -> " << dst_slots[i];
  }
  // Items: column chunks of both caches (K chunks first, then V).
  const int64_t chunks = (kv_dim + kColumnChunk - 1) / kColumnChunk;
  ParallelFor(2 * chunks, GrainFor(2 * 4 * kColumnChunk * n), [&](int64_t b, int64_t e) {
    // A range covers at most one K run and one V run of whole chunks.
    const int64_t k_end = std::min(e, chunks);
    if (b < k_end) {
      CopyColumns(src_slots, dst_slots, n, kv_dim, b * kColumnChunk,
                  std::min(kv_dim, k_end * kColumnChunk), k_cache);
    }
    const int64_t v_begin = std::max(b, chunks);
    if (v_begin < e) {
      CopyColumns(src_slots, dst_slots, n, kv_dim, (v_begin - chunks) * kColumnChunk,
                  std::min(kv_dim, (e - chunks) * kColumnChunk), v_cache);
    }
  });
}

}  // namespace inferd::kernels
