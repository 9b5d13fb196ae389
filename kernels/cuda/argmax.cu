// kernels/cuda/argmax.cu — Argmax per row (greedy sampling on device).
//
// One block per row. Each thread keeps the best (value, index) of its strided
// elements; candidates are merged pairwise by one rule — the greater value
// wins, equal values go to the lower index, NaN never wins — which is
// associative and commutative, so the answer does not depend on the order of
// the merges: the lowest index of the maximum, as the CPU. A row with nothing
// above -inf yields 0.
#include <cmath>
#include <cstdint>

#include "common/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/dtype_traits.cuh"
#include "kernels/cuda/reduce.cuh"

namespace inferd::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int32_t kNone = 0x7fffffff;  // no candidate yet

struct Best {
  float value;
  int32_t index;
};

// a beats b: a is a candidate and b is not, or a's value is greater, or the
// values are equal and a's index is lower.
__device__ __forceinline__ Best Merge(Best a, Best b) {
  if (a.index == kNone) return b;
  if (b.index == kNone) return a;
  if (a.value > b.value) return a;
  if (b.value > a.value) return b;
  return a.index < b.index ? a : b;
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    ArgmaxKernel(const T* __restrict__ x, int64_t n, int32_t* __restrict__ out) {
  __shared__ Best warp_best[32];
  const T* row = x + static_cast<int64_t>(blockIdx.x) * n;
  Best best{-INFINITY, kNone};
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = ToFloat(row[i]);
    if (v > -INFINITY) best = Merge(best, Best{v, static_cast<int32_t>(i)});  // NaN fails v > -inf
  }
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    Best other;
    other.value = __shfl_xor_sync(kFullWarpMask, best.value, off);
    other.index = __shfl_xor_sync(kFullWarpMask, best.index, off);
    best = Merge(best, other);
  }
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  if (lane == 0) warp_best[warp] = best;
  __syncthreads();
  if (warp == 0) {
    const int num_warps = blockDim.x / 32;
    best = lane < num_warps ? warp_best[lane] : Best{-INFINITY, kNone};
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      Best other;
      other.value = __shfl_xor_sync(kFullWarpMask, best.value, off);
      other.index = __shfl_xor_sync(kFullWarpMask, best.index, off);
      best = Merge(best, other);
    }
    if (lane == 0) out[blockIdx.x] = best.index == kNone ? 0 : best.index;
  }
}

}  // namespace

void Argmax(const void* x, int64_t rows, int64_t n, DType dtype, int32_t* out,
            cudaStream_t stream) {
  INFERD_CHECK(rows >= 0 && n >= 0);
  INFERD_CHECK_LT(n, static_cast<int64_t>(kNone)) << "row too long for int32 indices";
  INFERD_CHECK_LE(rows, 0x7fffffffLL) << "rows";
  if (rows == 0) return;
  DispatchDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    ArgmaxKernel<T>
        <<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(static_cast<const T*>(x), n, out);
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace inferd::kernels::cuda
