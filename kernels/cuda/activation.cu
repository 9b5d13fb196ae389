// kernels/cuda/activation.cu — elementwise ops: Add, SiluMul (SwiGLU),
// AddSilu (Medusa's ResBlock) and SigmoidGatedAdd. fp32 arithmetic with explicit rounding
// intrinsics (no contraction into fma), as the CPU computes it; one rounding to dtype.
#include <cstdint>

#include "common/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/dtype_traits.cuh"

namespace inferd::kernels::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void AddKernel(const T* a, const T* b, int64_t n, T* out) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    out[i] = FromFloat<T>(__fadd_rn(ToFloat(a[i]), ToFloat(b[i])));
  }
}

// silu(g) * u = (g / (1 + exp(-g))) * u
template <typename T>
__global__ void SiluMulKernel(const T* __restrict__ gate_up, int64_t n, int64_t inter,
                              T* __restrict__ out) {
  const int64_t total = n * inter;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    const int64_t row = i / inter;
    const int64_t col = i - row * inter;
    const T* g_row = gate_up + row * 2 * inter;
    const float g = ToFloat(g_row[col]);
    const float u = ToFloat(g_row[inter + col]);
    const float silu = __fdiv_rn(g, __fadd_rn(1.0f, expf(-g)));
    out[i] = FromFloat<T>(__fmul_rn(silu, u));
  }
}

// x + silu(z) = x + z / (1 + exp(-z))
template <typename T>
__global__ void AddSiluKernel(const T* __restrict__ x, const T* __restrict__ z, int64_t n,
                              T* __restrict__ out) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const float zi = ToFloat(z[i]);
    out[i] = FromFloat<T>(__fadd_rn(ToFloat(x[i]), __fdiv_rn(zi, __fadd_rn(1.0f, expf(-zi)))));
  }
}

template <typename T>
__global__ void SigmoidGatedAddKernel(const T* __restrict__ gate, const T* __restrict__ y,
                                      int64_t n, int64_t hidden, T* __restrict__ out) {
  const int64_t total = n * hidden;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    const int64_t row = i / hidden;
    const double gd = static_cast<double>(ToFloat(gate[row]));
    const float g = static_cast<float>(1.0 / (1.0 + exp(-gd)));
    out[i] = FromFloat<T>(__fadd_rn(ToFloat(out[i]), __fmul_rn(g, ToFloat(y[i]))));
  }
}

}  // namespace

void Add(const void* a, const void* b, int64_t n, void* out, DType dtype, cudaStream_t stream) {
  INFERD_CHECK_GE(n, 0);
  if (n == 0) return;
  DispatchDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    AddKernel<T><<<GridFor(n, kThreads), kThreads, 0, stream>>>(
        static_cast<const T*>(a), static_cast<const T*>(b), n, static_cast<T*>(out));
  });
  CUDA_CHECK(cudaGetLastError());
}

void SiluMul(const void* gate_up, int64_t n, int64_t inter, void* out, DType dtype,
             cudaStream_t stream) {
  INFERD_CHECK(n >= 0 && inter >= 0);
  if (n == 0 || inter == 0) return;
  DispatchDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    SiluMulKernel<T><<<GridFor(n * inter, kThreads), kThreads, 0, stream>>>(
        static_cast<const T*>(gate_up), n, inter, static_cast<T*>(out));
  });
  CUDA_CHECK(cudaGetLastError());
}

void AddSilu(const void* x, const void* z, int64_t n, void* out, DType dtype, cudaStream_t stream) {
  INFERD_CHECK_GE(n, 0);
  if (n == 0) return;
  DispatchDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    AddSiluKernel<T><<<GridFor(n, kThreads), kThreads, 0, stream>>>(
        static_cast<const T*>(x), static_cast<const T*>(z), n, static_cast<T*>(out));
  });
  CUDA_CHECK(cudaGetLastError());
}

void SigmoidGatedAdd(const void* gate, const void* y, int64_t n, int64_t hidden, void* out,
                     DType dtype, cudaStream_t stream) {
  INFERD_CHECK(n >= 0 && hidden >= 0);
  if (n == 0 || hidden == 0) return;
  DispatchDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    SigmoidGatedAddKernel<T><<<GridFor(n * hidden, kThreads), kThreads, 0, stream>>>(
        static_cast<const T*>(gate), static_cast<const T*>(y), n, hidden, static_cast<T*>(out));
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace inferd::kernels::cuda
