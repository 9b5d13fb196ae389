// kernels/cuda/norm.cu — RmsNorm and AddRmsNorm (Llama RMSNorm).
//
// One block of kThreads per row. Pass 1: each thread sums the squares of its
// elements (j = tid, tid + kThreads, ...), then a fixed-order block sum.
// inv = 1 / sqrt(ss / hidden + eps); pass 2: out = weight * (x * inv), as HF
// computes it, rounded once. AddRmsNorm first stores residual + x rounded to
// dtype and normalises that stored value; each thread rereads only the
// elements it wrote itself, so no extra barrier is needed.
#include <cstdint>

#include "common/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/dtype_traits.cuh"
#include "kernels/cuda/reduce.cuh"

namespace inferd::kernels::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__device__ void NormalizeRow(const T* x, const T* __restrict__ weight, int64_t hidden, float eps,
                             T* out, float* scratch) {
  float ss = 0.0f;
  for (int64_t j = threadIdx.x; j < hidden; j += blockDim.x) {
    const float v = ToFloat(x[j]);
    ss = fmaf(v, v, ss);
  }
  ss = BlockSum(ss, scratch);  // also a barrier: every x[j] is read before out is written
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(hidden) + eps);
  for (int64_t j = threadIdx.x; j < hidden; j += blockDim.x) {
    out[j] = FromFloat<T>(__fmul_rn(ToFloat(weight[j]), __fmul_rn(ToFloat(x[j]), inv)));
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    RmsNormKernel(const T* x, const T* __restrict__ weight, int64_t hidden, float eps, T* out) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  NormalizeRow(x + row * hidden, weight, hidden, eps, out + row * hidden, scratch);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    AddRmsNormKernel(T* residual, const T* x, const T* __restrict__ weight, int64_t hidden,
                     float eps, T* out) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  T* r = residual + row * hidden;
  const T* xr = x + row * hidden;
  for (int64_t j = threadIdx.x; j < hidden; j += blockDim.x) {
    r[j] = FromFloat<T>(__fadd_rn(ToFloat(r[j]), ToFloat(xr[j])));
  }
  NormalizeRow<T>(r, weight, hidden, eps, out + row * hidden, scratch);
}

}  // namespace

void RmsNorm(const void* x, const void* weight, int64_t n, int64_t hidden, float eps, void* out,
             DType dtype, cudaStream_t stream) {
  INFERD_CHECK(n >= 0 && hidden >= 0);
  if (n == 0 || hidden == 0) return;
  INFERD_CHECK_LE(n, 0x7fffffffLL) << "rows";
  DispatchDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    RmsNormKernel<T><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(
        static_cast<const T*>(x), static_cast<const T*>(weight), hidden, eps, static_cast<T*>(out));
  });
  CUDA_CHECK(cudaGetLastError());
}

void AddRmsNorm(void* residual, const void* x, const void* weight, int64_t n, int64_t hidden,
                float eps, void* out, DType dtype, cudaStream_t stream) {
  INFERD_CHECK(n >= 0 && hidden >= 0);
  if (n == 0 || hidden == 0) return;
  INFERD_CHECK_LE(n, 0x7fffffffLL) << "rows";
  DispatchDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    AddRmsNormKernel<T><<<static_cast<unsigned>(n), kThreads, 0, stream>>>(
        static_cast<T*>(residual), static_cast<const T*>(x), static_cast<const T*>(weight), hidden,
        eps, static_cast<T*>(out));
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace inferd::kernels::cuda
