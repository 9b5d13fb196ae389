// kernels/cuda/embedding.cu — Embedding: a row gather. One block per output
// row; an id outside [0, vocab) fills its row with NaN instead of reading out
// of bounds.
#include <cmath>
#include <cstdint>

#include "common/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/dtype_traits.cuh"

namespace inferd::kernels::cuda {
namespace {

template <typename T>
__global__ void EmbeddingKernel(const T* __restrict__ table, int64_t vocab, int64_t hidden,
                                const int32_t* __restrict__ ids, T* __restrict__ out) {
  const int64_t row = blockIdx.x;
  const int32_t id = ids[row];
  T* dst = out + row * hidden;
  if (id < 0 || id >= vocab) {
    for (int64_t j = threadIdx.x; j < hidden; j += blockDim.x) dst[j] = FromFloat<T>(NAN);
    return;
  }
  const T* src = table + static_cast<int64_t>(id) * hidden;
  for (int64_t j = threadIdx.x; j < hidden; j += blockDim.x) dst[j] = src[j];
}

}  // namespace

void Embedding(const void* table, int64_t vocab, int64_t hidden, const int32_t* ids, int64_t n,
               void* out, DType dtype, cudaStream_t stream) {
  INFERD_CHECK(n >= 0 && hidden >= 0 && vocab >= 0);
  if (n == 0 || hidden == 0) return;
  INFERD_CHECK_LE(n, 0x7fffffffLL) << "rows";
  DispatchDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    EmbeddingKernel<T><<<static_cast<unsigned>(n), 256, 0, stream>>>(
        static_cast<const T*>(table), vocab, hidden, ids, static_cast<T*>(out));
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace inferd::kernels::cuda
