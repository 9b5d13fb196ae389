// kernels/cuda/grouped_gemm.cu — GroupedGemm (see grouped_gemm.h).
//
// Block tile 64 rows x 64 columns, k in steps of 32 staged in shared memory
// (zero-filled past the group's rows, past n and past k). fp16/bf16: 4 warps,
// each 32x32 of the tile as 2x2 WMMA 16x16x16 fragments (tensor cores, fp32
// accumulators), stored through shared memory for the bounds-checked write.
// fp32: plain FMA, each thread 8 rows x 4 columns. Every output element sums
// its k terms in one fixed order.
#include <mma.h>

#include <cstdint>
#include <type_traits>

#include "common/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dtype_traits.cuh"
#include "kernels/cuda/grouped_gemm.h"

namespace inferd::kernels::cuda {
namespace {

constexpr int kTileM = kGroupedGemmTileM;
constexpr int kTileN = 64;
constexpr int kTileK = 32;
constexpr int kThreads = 128;

struct Tile {
  int64_t expert;     // -1: no work for this block
  int64_t row_begin;  // first row of the tile
  int64_t row_end;    // end of the expert's rows
};

// The (expert, row tile) of work item `y`: the expert e with tile_start[e] <=
// y < tile_start[e + 1] (binary search; every thread computes the same).
__device__ __forceinline__ Tile FindTile(const int32_t* offsets, const int32_t* tile_start,
                                         int64_t num_experts, int64_t y) {
  if (y >= tile_start[num_experts]) return Tile{-1, 0, 0};
  int64_t lo = 0, hi = num_experts;  // tile_start[lo] <= y < tile_start[hi]
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (tile_start[mid] <= y) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return Tile{lo, offsets[lo] + (y - tile_start[lo]) * kTileM, offsets[lo + 1]};
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    GroupedGemmTensorCoreKernel(const T* __restrict__ a, const T* __restrict__ w,
                                T* __restrict__ out, const int32_t* __restrict__ offsets,
                                const int32_t* __restrict__ tile_start, int64_t n, int64_t k,
                                int64_t num_experts) {
  namespace wmma = nvcuda::wmma;
  constexpr int kLdAB = kTileK + 8;  // multiple of 8 elements; 16-row steps stay 32-byte aligned
  constexpr int kLdC = kTileN + 4;
  __shared__ __align__(32) T a_s[kTileM][kLdAB];
  __shared__ __align__(32) T b_s[kTileN][kLdAB];
  __shared__ __align__(32) float c_s[kTileM][kLdC];

  const Tile tile = FindTile(offsets, tile_start, num_experts, blockIdx.y);
  if (tile.expert < 0) return;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kTileN;
  const T* we = w + tile.expert * n * k;
  const int warp = threadIdx.x / 32;
  const int wm = warp / 2;  // rows [32 wm, 32 wm + 32)
  const int wn = warp % 2;  // cols [32 wn, 32 wn + 32)

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
  }
  const T zero = FromFloat<T>(0.0f);
  for (int64_t k0 = 0; k0 < k; k0 += kTileK) {
    for (int idx = threadIdx.x; idx < kTileM * kTileK; idx += kThreads) {
      const int r = idx / kTileK;
      const int c = idx % kTileK;
      const int64_t row = tile.row_begin + r;
      const int64_t col = k0 + c;
      a_s[r][c] = row < tile.row_end && col < k ? a[row * k + col] : zero;
    }
    for (int idx = threadIdx.x; idx < kTileN * kTileK; idx += kThreads) {
      const int r = idx / kTileK;
      const int c = idx % kTileK;
      const int64_t nrow = n0 + r;
      const int64_t col = k0 + c;
      b_s[r][c] = nrow < n && col < k ? we[nrow * k + col] : zero;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> af[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> bf[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(af[i], &a_s[32 * wm + 16 * i][kk], kLdAB);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(bf[j], &b_s[32 * wn + 16 * j][kk], kLdAB);
#pragma unroll
      for (int i = 0; i < 2; ++i) {
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], af[i], bf[j], acc[i][j]);
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; ++i) {
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      wmma::store_matrix_sync(&c_s[32 * wm + 16 * i][32 * wn + 16 * j], acc[i][j], kLdC,
                              wmma::mem_row_major);
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < kTileM * kTileN; idx += kThreads) {
    const int r = idx / kTileN;
    const int c = idx % kTileN;
    const int64_t row = tile.row_begin + r;
    const int64_t col = n0 + c;
    if (row < tile.row_end && col < n) out[row * n + col] = FromFloat<T>(c_s[r][c]);
  }
}

__global__ void __launch_bounds__(kThreads)
    GroupedGemmSimtKernel(const float* __restrict__ a, const float* __restrict__ w,
                          float* __restrict__ out, const int32_t* __restrict__ offsets,
                          const int32_t* __restrict__ tile_start, int64_t n, int64_t k,
                          int64_t num_experts) {
  __shared__ float a_s[kTileK][kTileM + 4];  // k-major: a_s[c][r] = a(row r, k c)
  __shared__ float b_s[kTileK][kTileN + 4];

  const Tile tile = FindTile(offsets, tile_start, num_experts, blockIdx.y);
  if (tile.expert < 0) return;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kTileN;
  const float* we = w + tile.expert * n * k;
  const int tr = threadIdx.x / 16;  // rows [8 tr, 8 tr + 8)
  const int tc = threadIdx.x % 16;  // cols [4 tc, 4 tc + 4)
  float acc[8][4] = {};
  for (int64_t k0 = 0; k0 < k; k0 += kTileK) {
    for (int idx = threadIdx.x; idx < kTileM * kTileK; idx += kThreads) {
      const int r = idx / kTileK;
      const int c = idx % kTileK;
      const int64_t row = tile.row_begin + r;
      const int64_t col = k0 + c;
      a_s[c][r] = row < tile.row_end && col < k ? a[row * k + col] : 0.0f;
    }
    for (int idx = threadIdx.x; idx < kTileN * kTileK; idx += kThreads) {
      const int r = idx / kTileK;
      const int c = idx % kTileK;
      const int64_t nrow = n0 + r;
      const int64_t col = k0 + c;
      b_s[c][r] = nrow < n && col < k ? we[nrow * k + col] : 0.0f;
    }
    __syncthreads();
#pragma unroll 8
    for (int kk = 0; kk < kTileK; ++kk) {
      float av[8], bv[4];
#pragma unroll
      for (int i = 0; i < 8; ++i) av[i] = a_s[kk][8 * tr + i];
#pragma unroll
      for (int j = 0; j < 4; ++j) bv[j] = b_s[kk][4 * tc + j];
#pragma unroll
      for (int i = 0; i < 8; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int64_t row = tile.row_begin + 8 * tr + i;
    if (row >= tile.row_end) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t col = n0 + 4 * tc + j;
      if (col < n) out[row * n + col] = acc[i][j];
    }
  }
}

}  // namespace

void GroupedGemm(DType dtype, const void* a, const void* w, void* out, const int32_t* offsets,
                 const int32_t* tile_start, int64_t max_rows, int64_t n, int64_t k,
                 int64_t num_experts, cudaStream_t stream) {
  if (max_rows == 0 || n == 0) return;
  // At most ceil(rows / tile) full tiles plus one partial tile per expert with rows.
  const int64_t max_tiles =
      (max_rows + kTileM - 1) / kTileM + (num_experts < max_rows ? num_experts : max_rows);
  const int64_t col_tiles = (n + kTileN - 1) / kTileN;
  INFERD_CHECK(max_tiles <= 65535 && col_tiles <= 0x7fffffffLL)
      << "grouped GEMM grid " << col_tiles << " x " << max_tiles;
  const dim3 grid(static_cast<unsigned>(col_tiles), static_cast<unsigned>(max_tiles));
  DispatchDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float>) {
      GroupedGemmSimtKernel<<<grid, kThreads, 0, stream>>>(
          static_cast<const float*>(a), static_cast<const float*>(w), static_cast<float*>(out),
          offsets, tile_start, n, k, num_experts);
    } else {
      GroupedGemmTensorCoreKernel<T><<<grid, kThreads, 0, stream>>>(
          static_cast<const T*>(a), static_cast<const T*>(w), static_cast<T*>(out), offsets,
          tile_start, n, k, num_experts);
    }
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace inferd::kernels::cuda
