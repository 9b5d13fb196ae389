// kernels/cuda/reduce.cuh — warp and block reductions with a fixed order
// (xor butterflies: every lane ends with the same bits), so a row's result
// never depends on timing.
#ifndef INFERD_KERNELS_CUDA_REDUCE_CUH_
#define INFERD_KERNELS_CUDA_REDUCE_CUH_

namespace inferd::kernels::cuda {

constexpr unsigned kFullWarpMask = 0xffffffffu;

// Sum over the 32 lanes; every lane gets the same value.
__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFullWarpMask, v, off);
  return v;
}

__device__ __forceinline__ float WarpMax(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullWarpMask, v, off));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every
// thread gets the result. `scratch` holds 32 floats of shared memory; the
// call synchronises the block twice.
__device__ __forceinline__ float BlockSum(float v, float* scratch) {
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  const int num_warps = blockDim.x / 32;
  v = WarpSum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float total = lane < num_warps ? scratch[lane] : 0.0f;
  total = WarpSum(total);
  __syncthreads();  // scratch may be reused right after
  return total;
}

}  // namespace inferd::kernels::cuda

#endif  // INFERD_KERNELS_CUDA_REDUCE_CUH_
