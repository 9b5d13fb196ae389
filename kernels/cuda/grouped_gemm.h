// kernels/cuda/grouped_gemm.h — internal to kernels/cuda: the grouped GEMM of
// MoeExperts. Rows of `a` are grouped by expert (expert e owns rows
// [offsets[e], offsets[e + 1])); each group is multiplied by its own weight:
//   out[r, :] = a[r, :] · w[e]ᵀ     a: [rows, k]   w: [num_experts, n, k]   out: [rows, n]
// The work list lives on the device: tile_start[e] (exclusive prefix sum of
// ceil(count_e / kGroupedGemmTileM)) maps a block to (expert, row tile), so
// the launch grid depends only on sizes (graph-capturable) and experts with
// no rows cost nothing but an early exit. Each output element is a k-loop in
// a fixed order over its own row: it does not depend on the other rows.
#ifndef INFERD_KERNELS_CUDA_GROUPED_GEMM_H_
#define INFERD_KERNELS_CUDA_GROUPED_GEMM_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/dtype.h"

namespace inferd::kernels::cuda {

constexpr int kGroupedGemmTileM = 64;

// `max_rows` bounds offsets[num_experts] (the slot count).
void GroupedGemm(DType dtype, const void* a, const void* w, void* out, const int32_t* offsets,
                 const int32_t* tile_start, int64_t max_rows, int64_t n, int64_t k,
                 int64_t num_experts, cudaStream_t stream);

}  // namespace inferd::kernels::cuda

#endif  // INFERD_KERNELS_CUDA_GROUPED_GEMM_H_
