// kernels/cpu/prefetch.h — software prefetch helpers shared by the CPU
// kernels that stream weights.
#ifndef INFERD_KERNELS_CPU_PREFETCH_H_
#define INFERD_KERNELS_CPU_PREFETCH_H_

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace inferd::kernels::cpu_internal {

// Prefetches share `part` (0-based) of `parts` equal shares of the cache
// lines of [p, p + bytes) into L2. The packed-strip Matmuls call it once
// per row tile with the next pass's weights, so the next unpacking reads
// L2 rather than waiting on DRAM, without a burst of prefetches that
// would overflow the miss queues.
inline void PrefetchShareToL2(const char* p, int64_t bytes, int64_t part, int64_t parts) {
  if (bytes <= 0 || parts <= 0 || part >= parts) return;
  const int64_t share = (bytes / parts + 63) / 64 * 64;
  const int64_t end = std::min(bytes, (part + 1) * share);
  for (int64_t b = part * share; b < end; b += 64) _mm_prefetch(p + b, _MM_HINT_T1);
}

}  // namespace inferd::kernels::cpu_internal

#endif  // INFERD_KERNELS_CPU_PREFETCH_H_
