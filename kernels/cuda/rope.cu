// kernels/cuda/rope.cu — Rope: rotate-half rotary embedding, in place.
//
// One block per row (token). The row's cos/sin are computed once into shared
// memory with the CPU's rule (angle = float(pos) * inv_freq[i], a float
// product; cos and sin in double, rounded to float), then every head of the
// row is rotated:
//   lo' = lo * cos - hi * sin      hi' = hi * cos + lo * sin
// with explicit rounding intrinsics (no fma contraction), as the CPU does.
// RopeWriteKvCache fuses Rope on q and k with WriteKvCache of the rotated k
// and v (one launch per layer instead of three; the same bits).
#include <cstdint>

#include "common/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/dtype_traits.cuh"

namespace inferd::kernels::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int64_t kMaxHalf = 512;  // head_dim <= 1024

// The row's cos/sin into shared memory (then a barrier).
__device__ __forceinline__ void RowAngles(int32_t position, int64_t half,
                                          const float* __restrict__ inv_freq, float* cos_s,
                                          float* sin_s) {
  const float pos = static_cast<float>(position);
  for (int64_t i = threadIdx.x; i < half; i += blockDim.x) {
    const double angle = static_cast<double>(__fmul_rn(pos, inv_freq[i]));
    cos_s[i] = static_cast<float>(cos(angle));
    sin_s[i] = static_cast<float>(sin(angle));
  }
  __syncthreads();
}

// Rotates every head of one row in place; with `cache` (not null), also
// writes each rotated element there (the row's cache slot).
template <typename T>
__device__ __forceinline__ void RotateRow(T* xr, int64_t num_heads, int64_t head_dim,
                                          const float* cos_s, const float* sin_s, T* cache) {
  const int64_t half = head_dim / 2;
  const int64_t pairs = num_heads * half;
  for (int64_t p = threadIdx.x; p < pairs; p += blockDim.x) {
    const int64_t h = p / half;
    const int64_t i = p - h * half;
    const int64_t lo = h * head_dim + i;
    const int64_t hi = lo + half;
    const float a = ToFloat(xr[lo]);
    const float b = ToFloat(xr[hi]);
    const float c = cos_s[i];
    const float s = sin_s[i];
    const T new_lo = FromFloat<T>(__fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s)));
    const T new_hi = FromFloat<T>(__fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s)));
    xr[lo] = new_lo;
    xr[hi] = new_hi;
    if (cache != nullptr) {
      cache[lo] = new_lo;
      cache[hi] = new_hi;
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    RopeKernel(T* x, const int32_t* __restrict__ positions, int64_t num_heads, int64_t head_dim,
               const float* __restrict__ inv_freq) {
  __shared__ float cos_s[kMaxHalf];
  __shared__ float sin_s[kMaxHalf];
  const int64_t row = blockIdx.x;
  RowAngles(positions[row], head_dim / 2, inv_freq, cos_s, sin_s);
  RotateRow<T>(x + row * num_heads * head_dim, num_heads, head_dim, cos_s, sin_s, nullptr);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    RopeWriteKvCacheKernel(T* q, T* k, const T* __restrict__ v,
                           const int32_t* __restrict__ positions,
                           const int32_t* __restrict__ slot_mapping, int64_t num_q_heads,
                           int64_t num_kv_heads, int64_t head_dim,
                           const float* __restrict__ inv_freq, T* __restrict__ k_cache,
                           T* __restrict__ v_cache) {
  __shared__ float cos_s[kMaxHalf];
  __shared__ float sin_s[kMaxHalf];
  const int64_t row = blockIdx.x;
  const int64_t kv_dim = num_kv_heads * head_dim;
  const int64_t slot = slot_mapping[row];
  RowAngles(positions[row], head_dim / 2, inv_freq, cos_s, sin_s);
  RotateRow<T>(q + row * num_q_heads * head_dim, num_q_heads, head_dim, cos_s, sin_s, nullptr);
  RotateRow<T>(k + row * kv_dim, num_kv_heads, head_dim, cos_s, sin_s,
               slot >= 0 ? k_cache + slot * kv_dim : nullptr);
  if (slot >= 0) {
    const T* vr = v + row * kv_dim;
    T* vd = v_cache + slot * kv_dim;
    for (int64_t j = threadIdx.x; j < kv_dim; j += blockDim.x) vd[j] = vr[j];
  }
}

}  // namespace

void RopeWriteKvCache(void* q, void* k, const void* v, const int32_t* positions,
                      const int32_t* slot_mapping, int64_t n, int64_t num_q_heads,
                      int64_t num_kv_heads, int64_t head_dim, const float* inv_freq, void* k_cache,
                      void* v_cache, DType dtype, cudaStream_t stream) {
  INFERD_CHECK(n >= 0 && num_q_heads >= 0 && num_kv_heads >= 0 && head_dim >= 0);
  INFERD_CHECK_EQ(head_dim % 2, 0) << "rotate-half needs an even head_dim";
  INFERD_CHECK_LE(head_dim / 2, kMaxHalf);
  if (n == 0 || head_dim == 0) return;
  INFERD_CHECK_LE(n, 0x7fffffffLL) << "rows";
  DispatchDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    RopeWriteKvCacheKernel<T><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(
        static_cast<T*>(q), static_cast<T*>(k), static_cast<const T*>(v), positions, slot_mapping,
        num_q_heads, num_kv_heads, head_dim, inv_freq, static_cast<T*>(k_cache),
        static_cast<T*>(v_cache));
  });
  CUDA_CHECK(cudaGetLastError());
}

void Rope(void* x, const int32_t* positions, int64_t n, int64_t num_heads, int64_t head_dim,
          const float* inv_freq, DType dtype, cudaStream_t stream) {
  INFERD_CHECK(n >= 0 && num_heads >= 0 && head_dim >= 0);
  INFERD_CHECK_EQ(head_dim % 2, 0) << "rotate-half needs an even head_dim";
  INFERD_CHECK_LE(head_dim / 2, kMaxHalf);
  if (n == 0 || num_heads == 0 || head_dim == 0) return;
  INFERD_CHECK_LE(n, 0x7fffffffLL) << "rows";
  DispatchDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    RopeKernel<T><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(static_cast<T*>(x), positions,
                                                                     num_heads, head_dim, inv_freq);
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace inferd::kernels::cuda
