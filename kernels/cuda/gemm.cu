// kernels/cuda/gemm.cu — Matmul: out = x · wᵀ (+ bias) through cuBLAS.
//
// Row-major x [m, k] and w [n, k] are, to column-major cuBLAS, xᵀ [k, m] and
// wᵀ [k, n]; outᵀ [n, m] = (wᵀ)ᵀ · xᵀ is one cublasGemmEx with op(A) = T on w
// and op(B) = N on x, CUBLAS_COMPUTE_32F (fp32 accumulation, no TF32). With
// a bias, out is filled with it first and the GEMM runs with beta = 1, so
// the sum is rounded to dtype once.
#include <cublas_v2.h>

#include <cstdint>

#include "common/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/dtype_traits.cuh"

namespace inferd::kernels::cuda {
namespace {

constexpr int kThreads = 256;

// out[i, j] = bias[j] (or 0 without a bias).
template <typename T>
__global__ void FillRowsKernel(const T* __restrict__ bias, int64_t m, int64_t n,
                               T* __restrict__ out) {
  const int64_t total = m * n;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    out[i] = bias != nullptr ? bias[i % n] : FromFloat<T>(0.0f);
  }
}

cudaDataType_t CudaType(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return CUDA_R_32F;
    case DType::kF16:
      return CUDA_R_16F;
    case DType::kBF16:
      return CUDA_R_16BF;
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
  INFERD_CHECK(false) << "unknown dtype";
  return CUDA_R_32F;
}

}  // namespace

void Matmul(cublasHandle_t handle, const void* x, const void* w, const void* bias, int64_t m,
            int64_t n, int64_t k, void* out, DType dtype, cudaStream_t stream) {
  INFERD_CHECK(m >= 0 && n >= 0 && k >= 0);
  constexpr int64_t kIntMax = 0x7fffffffLL;
  INFERD_CHECK(m <= kIntMax && n <= kIntMax && k <= kIntMax) << "GEMM dims beyond int32";
  if (m == 0 || n == 0) return;
  INFERD_CHECK(handle != nullptr);
  const bool prefill = bias != nullptr || k == 0;
  if (prefill) {
    DispatchDType(dtype, [&](auto tag) {
      using T = decltype(tag);
      FillRowsKernel<T><<<GridFor(m * n, kThreads), kThreads, 0, stream>>>(
          static_cast<const T*>(bias), m, n, static_cast<T*>(out));
    });
    CUDA_CHECK(cudaGetLastError());
  }
  if (k == 0) return;  // out = bias (or 0)
  const float alpha = 1.0f;
  const float beta = prefill ? 1.0f : 0.0f;
  const cudaDataType_t t = CudaType(dtype);
  CUBLAS_CHECK(cublasSetStream(handle, stream));
  CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n),
                            static_cast<int>(m), static_cast<int>(k), &alpha, w, t,
                            static_cast<int>(k), x, t, static_cast<int>(k), &beta, out, t,
                            static_cast<int>(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace inferd::kernels::cuda
