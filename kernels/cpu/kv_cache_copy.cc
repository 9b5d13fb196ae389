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

#include "common/check.h"
#include "common/thread_pool.h"
#include "kernels/ops.h"

namespace inferd::kernels {
namespace {

constexpr int64_t kColumnChunk = 64;  // bytes: one cache line per row

// Applies moves 0..n-1 in order to byte columns [c0, c1) of every row (rows
// `row_bytes` apart).
void CopyColumns(const int32_t* src_slots, const int32_t* dst_slots, int64_t n, int64_t row_bytes,
                 int64_t c0, int64_t c1, uint8_t* cache) {
  const size_t bytes = static_cast<size_t>(c1 - c0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t src = src_slots[i], dst = dst_slots[i];
    if (src == dst) continue;  // distinct slots never overlap
    std::memcpy(cache + dst * row_bytes + c0, cache + src * row_bytes + c0, bytes);
  }
}

}  // namespace

void CopyKvSlots(const int32_t* src_slots, const int32_t* dst_slots, int64_t n, int64_t kv_dim,
                 void* k_cache, void* v_cache, DType cache_dtype) {
  if (n <= 0 || kv_dim <= 0) return;
  for (int64_t i = 0; i < n; ++i) {
    INFERD_CHECK(src_slots[i] >= 0 && dst_slots[i] >= 0)
        << "CopyKvSlots move " << i << ": " << src_slots[i] << " -> " << dst_slots[i];
  }
  // Items: byte-column chunks of both caches (K chunks first, then V).
  const int64_t row_bytes = kv_dim * DTypeSize(cache_dtype);
  auto* kc = static_cast<uint8_t*>(k_cache);
  auto* vc = static_cast<uint8_t*>(v_cache);
  const int64_t chunks = (row_bytes + kColumnChunk - 1) / kColumnChunk;
  ParallelFor(2 * chunks, GrainFor(2 * kColumnChunk * n), [&](int64_t b, int64_t e) {
    // A range covers at most one K run and one V run of whole chunks.
    const int64_t k_end = std::min(e, chunks);
    if (b < k_end) {
      CopyColumns(src_slots, dst_slots, n, row_bytes, b * kColumnChunk,
                  std::min(row_bytes, k_end * kColumnChunk), kc);
    }
    const int64_t v_begin = std::max(b, chunks);
    if (v_begin < e) {
      CopyColumns(src_slots, dst_slots, n, row_bytes, (v_begin - chunks) * kColumnChunk,
                  std::min(row_bytes, (e - chunks) * kColumnChunk), vc);
    }
  });
}

}  // namespace inferd::kernels
