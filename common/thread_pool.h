// common/thread_pool.h — the process-wide CPU worker pool behind every op.
//
// Persistent workers plus the calling thread share each ParallelFor. Work is
// handed out in contiguous ranges; which thread runs a range never changes a
// result, because every op computes each output element independently of the
// split.
// Small jobs (a single chunk) run inline on the caller: no wake-up, no atomics.
// Workers spin briefly after each job before sleeping on a condition variable,
// so back-to-back ops in one decode step do not pay a futex wake-up each.
//
// Meant for one issuing thread (the engine's step thread). A ParallelFor nested
// inside a chunk runs inline; one issued while another thread's job is in
// flight also runs inline (serially, still correct). SetNumThreads must not
// race with running ops.
#ifndef INFERD_COMMON_THREAD_POOL_H_
#define INFERD_COMMON_THREAD_POOL_H_

#include <cstdint>
#include <type_traits>
#include <utility>

namespace inferd {

// Sets the number of threads ops use, the caller included (0 = hardware
// concurrency). Must not be called while an op is running.
void SetNumThreads(int num_threads);

// The number of threads ops use, the caller included (>= 1).
int NumThreads();

namespace internal {
using ChunkFn = void (*)(void* ctx, int64_t begin, int64_t end);
void ParallelForImpl(int64_t n, int64_t grain, ChunkFn fn, void* ctx);
}  // namespace internal

// Calls fn(begin, end) on disjoint contiguous ranges covering [0, n): at most
// min(ceil(n / grain), NumThreads()) near-equal ranges, one per thread (the
// caller runs the first and any that no worker has started when it is done).
// When n <= grain, or the pool has one thread, fn(0, n) runs inline on the
// caller. Returns when all ranges are done. `grain` is how the caller says
// "this many items are worth a hand-off"; see GrainFor below.
template <typename Fn>
void ParallelFor(int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (n <= grain) {
    fn(int64_t{0}, n);
    return;
  }
  using F = std::remove_reference_t<Fn>;
  internal::ParallelForImpl(
      n, grain, [](void* ctx, int64_t b, int64_t e) { (*static_cast<F*>(ctx))(b, e); },
      const_cast<void*>(static_cast<const void*>(&fn)));
}

// Roughly the work (in flops or bytes touched) below which handing a chunk to
// another thread costs more than doing it: ~1 microsecond of one core.
inline constexpr int64_t kMinParallelFlops = int64_t{1} << 16;

// Grain (items per chunk) for items that each cost `cost_per_item` work units.
inline int64_t GrainFor(int64_t cost_per_item) {
  if (cost_per_item < 1) cost_per_item = 1;
  const int64_t g = (kMinParallelFlops + cost_per_item - 1) / cost_per_item;
  return g < 1 ? 1 : g;
}

}  // namespace inferd

#endif  // INFERD_COMMON_THREAD_POOL_H_
