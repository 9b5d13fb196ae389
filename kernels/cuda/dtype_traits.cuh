// kernels/cuda/dtype_traits.cuh — device-side storage types of DType and
// their conversions to and from fp32 (the arithmetic type of every kernel),
// plus the host-side dispatch from a runtime DType to a kernel template.
#ifndef INFERD_KERNELS_CUDA_DTYPE_TRAITS_CUH_
#define INFERD_KERNELS_CUDA_DTYPE_TRAITS_CUH_

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "common/check.h"
#include "kernels/cuda/dtype.h"

namespace inferd::kernels::cuda {

__device__ __forceinline__ float ToFloat(float v) { return v; }
__device__ __forceinline__ float ToFloat(__half v) { return __half2float(v); }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T FromFloat(float v);
template <>
__device__ __forceinline__ float FromFloat<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half FromFloat<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// N consecutive elements loaded or stored as one access (16 bytes at most per
// instruction). The pointer must be aligned to min(16, N * sizeof(T)) bytes;
// launchers check that before choosing a vector width.
template <typename T, int N>
struct alignas(N * sizeof(T) < 16 ? N * sizeof(T) : 16) PackedVec {
  T v[N];
};

template <typename T, int N>
__device__ __forceinline__ void LoadAsFloat(const T* p, float (&out)[N]) {
  const PackedVec<T, N> pv = *reinterpret_cast<const PackedVec<T, N>*>(p);
#pragma unroll
  for (int i = 0; i < N; ++i) out[i] = ToFloat(pv.v[i]);
}

// Calls f(T{}) with T the storage type of `dtype` (float, __half,
// __nv_bfloat16), so a launcher can write
//   DispatchDType(dtype, [&](auto tag) { using T = decltype(tag); ... });
template <typename F>
void DispatchDType(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kF32:
      f(float{});
      return;
    case DType::kF16:
      f(__half{});
      return;
    case DType::kBF16:
      f(__nv_bfloat16{});
      return;
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ4_1:
      break;  // quantized weights are CPU-only
  }
  INFERD_CHECK(false) << "unknown dtype " << static_cast<int>(dtype);
}

// Grid size for a grid-stride loop over `n` items with `threads` per block.
inline unsigned GridFor(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  constexpr int64_t kMaxBlocks = 65535LL * 16;  // plenty for a grid-stride loop
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

}  // namespace inferd::kernels::cuda

#endif  // INFERD_KERNELS_CUDA_DTYPE_TRAITS_CUH_
