// kernels/cuda/convert.cu — Convert: elementwise dtype conversion (weights to
// bf16/fp16 at upload, logits back to fp32). Narrowing rounds to nearest even.
#include <cstdint>

#include "common/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/dtype_traits.cuh"

namespace inferd::kernels::cuda {
namespace {

template <typename Src, typename Dst>
__global__ void ConvertKernel(const Src* __restrict__ src, Dst* __restrict__ dst, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    dst[i] = FromFloat<Dst>(ToFloat(src[i]));
  }
}

}  // namespace

void Convert(const void* src, DType src_dtype, void* dst, DType dst_dtype, int64_t n,
             cudaStream_t stream) {
  INFERD_CHECK_GE(n, 0);
  if (n == 0) return;
  INFERD_CHECK(src != nullptr && dst != nullptr);
  constexpr int kThreads = 256;
  DispatchDType(src_dtype, [&](auto src_tag) {
    using Src = decltype(src_tag);
    DispatchDType(dst_dtype, [&](auto dst_tag) {
      using Dst = decltype(dst_tag);
      ConvertKernel<Src, Dst><<<GridFor(n, kThreads), kThreads, 0, stream>>>(
          static_cast<const Src*>(src), static_cast<Dst*>(dst), n);
    });
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace inferd::kernels::cuda
