// kernels/cuda/kv_cache.cu — WriteKvCache (scatter new K/V rows to their
// slots) and CopyKvSlots (move rows between slots, in order).
//
// WriteKvCache: one block per new row, a negative slot skips the row; rows
// write distinct slots, so blocks are independent. CopyKvSlots has
// sequential semantics (a later move sees the earlier ones; moves can chain),
// so a single block walks the moves in order with a barrier between moves;
// n is small (accepted speculative tokens).
#include <cstdint>

#include "common/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/dtype_traits.cuh"

namespace inferd::kernels::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    WriteKvCacheKernel(const T* __restrict__ k, const T* __restrict__ v,
                       const int32_t* __restrict__ slot_mapping, int64_t kv_dim,
                       T* __restrict__ k_cache, T* __restrict__ v_cache) {
  const int64_t row = blockIdx.x;
  const int64_t slot = slot_mapping[row];
  if (slot < 0) return;
  const T* ks = k + row * kv_dim;
  const T* vs = v + row * kv_dim;
  T* kd = k_cache + slot * kv_dim;
  T* vd = v_cache + slot * kv_dim;
  for (int64_t j = threadIdx.x; j < kv_dim; j += blockDim.x) {
    kd[j] = ks[j];
    vd[j] = vs[j];
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    CopyKvSlotsKernel(const int32_t* __restrict__ src_slots, const int32_t* __restrict__ dst_slots,
                      int64_t n, int64_t kv_dim, T* k_cache, T* v_cache) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t src = src_slots[i];
    const int64_t dst = dst_slots[i];
    if (src >= 0 && dst >= 0 && src != dst) {
      for (int64_t j = threadIdx.x; j < kv_dim; j += blockDim.x) {
        k_cache[dst * kv_dim + j] = k_cache[src * kv_dim + j];
        v_cache[dst * kv_dim + j] = v_cache[src * kv_dim + j];
      }
    }
    __syncthreads();  // the next move may read what this one wrote
  }
}

}  // namespace

void WriteKvCache(const void* k, const void* v, const int32_t* slot_mapping, int64_t n,
                  int64_t kv_dim, void* k_cache, void* v_cache, DType dtype, cudaStream_t stream) {
  INFERD_CHECK(n >= 0 && kv_dim >= 0);
  if (n == 0 || kv_dim == 0) return;
  INFERD_CHECK_LE(n, 0x7fffffffLL) << "rows";
  DispatchDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    WriteKvCacheKernel<T><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(
        static_cast<const T*>(k), static_cast<const T*>(v), slot_mapping, kv_dim,
        static_cast<T*>(k_cache), static_cast<T*>(v_cache));
  });
  CUDA_CHECK(cudaGetLastError());
}

void CopyKvSlots(const int32_t* src_slots, const int32_t* dst_slots, int64_t n, int64_t kv_dim,
                 void* k_cache, void* v_cache, DType dtype, cudaStream_t stream) {
  INFERD_CHECK(n >= 0 && kv_dim >= 0);
  if (n == 0 || kv_dim == 0) return;
  DispatchDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    CopyKvSlotsKernel<T><<<1, kThreads, 0, stream>>>(
        src_slots, dst_slots, n, kv_dim, static_cast<T*>(k_cache), static_cast<T*>(v_cache));
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace inferd::kernels::cuda
