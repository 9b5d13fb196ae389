// kernels/cuda/moe_experts.cu — MoeExperts: SwiGLU experts over routed tokens.
//
// Steps, all on `stream`, none reading anything back to the host:
//   1. counts[e] = slots routed to e (atomics: a count does not depend on
//      their order); offsets = exclusive prefix sum; tile_start = prefix sum
//      of ceil(count / 64), the work list of the grouped GEMM.
//   2. Each slot (t, j) takes a row of its expert's range (an atomic cursor):
//      slot_row[t * k + j], and row_token[row] = t. Rows within an expert
//      come in no fixed order, which changes no result: every row's GEMM is
//      computed from that row alone (grouped_gemm.h).
//   3. rows[r] = x[row_token[r]]; gu = GroupedGemm(rows, gate_up);
//      act = SiluMul(gu); rows = GroupedGemm(act, down) (the gathered x is
//      dead by then).
//   4. out[t] = fma over j = 0..k-1 from 0.0f of topk_weights[t, j] *
//      rows[slot_row[t, j]], in fp32, rounded once (the CPU's combine order).
// A slot whose expert id is out of range gets no row and turns its token's
// output into NaN (a caller bug made visible, never a stray access).
#include <cmath>
#include <cstdint>

#include "common/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/dtype_traits.cuh"
#include "kernels/cuda/grouped_gemm.h"

namespace inferd::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kAlign = 256;  // bytes, between scratch regions

int64_t AlignUp(int64_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// Int scratch: counts[E], cursor[E], offsets[E + 1], tile_start[E + 1],
// slot_row[slots], row_token[slots].
struct IntScratch {
  int32_t* counts;
  int32_t* cursor;
  int32_t* offsets;
  int32_t* tile_start;
  int32_t* slot_row;
  int32_t* row_token;
};

IntScratch SplitInts(int32_t* s, int64_t num_experts, int64_t slots) {
  IntScratch r;
  r.counts = s;
  r.cursor = r.counts + num_experts;
  r.offsets = r.cursor + num_experts;
  r.tile_start = r.offsets + num_experts + 1;
  r.slot_row = r.tile_start + num_experts + 1;
  r.row_token = r.slot_row + slots;
  return r;
}

__global__ void CountKernel(const int32_t* __restrict__ ids, int64_t slots, int64_t num_experts,
                            int32_t* __restrict__ counts) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < slots;
       i += stride) {
    const int32_t e = ids[i];
    if (e >= 0 && e < num_experts) atomicAdd(&counts[e], 1);
  }
}

// One block: offsets, cursor and tile_start from counts (num_experts <=
// kMoeMaxExperts, so the serial scan over shared memory is short).
__global__ void ScanKernel(int64_t num_experts, int32_t* __restrict__ counts,
                           int32_t* __restrict__ cursor, int32_t* __restrict__ offsets,
                           int32_t* __restrict__ tile_start) {
  __shared__ int32_t off_s[kMoeMaxExperts + 1];
  __shared__ int32_t tile_s[kMoeMaxExperts + 1];
  for (int64_t e = threadIdx.x; e < num_experts; e += blockDim.x) off_s[e + 1] = counts[e];
  __syncthreads();
  if (threadIdx.x == 0) {
    off_s[0] = 0;
    tile_s[0] = 0;
    for (int64_t e = 0; e < num_experts; ++e) {
      const int32_t cnt = off_s[e + 1];
      off_s[e + 1] = off_s[e] + cnt;
      tile_s[e + 1] = tile_s[e] + (cnt + kGroupedGemmTileM - 1) / kGroupedGemmTileM;
    }
  }
  __syncthreads();
  for (int64_t e = threadIdx.x; e <= num_experts; e += blockDim.x) {
    offsets[e] = off_s[e];
    tile_start[e] = tile_s[e];
    if (e < num_experts) cursor[e] = off_s[e];
  }
}

__global__ void AssignKernel(const int32_t* __restrict__ ids, int64_t slots, int64_t k,
                             int64_t num_experts, int32_t* __restrict__ cursor,
                             int32_t* __restrict__ slot_row, int32_t* __restrict__ row_token) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < slots;
       i += stride) {
    const int32_t e = ids[i];
    if (e < 0 || e >= num_experts) {
      slot_row[i] = -1;
      continue;
    }
    const int32_t row = atomicAdd(&cursor[e], 1);
    slot_row[i] = row;
    row_token[row] = static_cast<int32_t>(i / k);
  }
}

// rows[r] = x[row_token[r]] for r < offsets[num_experts].
template <typename T>
__global__ void GatherKernel(const T* __restrict__ x, const int32_t* __restrict__ row_token,
                             const int32_t* __restrict__ total_rows, int64_t slots, int64_t hidden,
                             T* __restrict__ rows) {
  const int64_t used = *total_rows;
  const int64_t total = slots * hidden;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    const int64_t r = i / hidden;
    if (r >= used) break;  // i only grows
    rows[i] = x[static_cast<int64_t>(row_token[r]) * hidden + (i - r * hidden)];
  }
}

template <typename T>
__global__ void CombineKernel(const T* __restrict__ rows, const int32_t* __restrict__ slot_row,
                              const float* __restrict__ topk_weights, int64_t n, int64_t k,
                              int64_t hidden, T* __restrict__ out) {
  const int64_t total = n * hidden;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    const int64_t t = i / hidden;
    const int64_t h = i - t * hidden;
    float acc = 0.0f;
    for (int64_t j = 0; j < k; ++j) {
      const int32_t r = slot_row[t * k + j];
      const float v = r >= 0 ? ToFloat(rows[static_cast<int64_t>(r) * hidden + h]) : NAN;
      acc = fmaf(topk_weights[t * k + j], v, acc);
    }
    out[i] = FromFloat<T>(acc);
  }
}

}  // namespace

int64_t MoeScratchBytes(DType dtype, int64_t n, int64_t k, int64_t hidden, int64_t inter) {
  const int64_t slots = n * k;
  const int64_t es = DTypeSize(dtype);
  return AlignUp(slots * hidden * es) + AlignUp(slots * 2 * inter * es) +
         AlignUp(slots * inter * es);
}

int64_t MoeScratchInts(int64_t n, int64_t k, int64_t num_experts) {
  return 4 * num_experts + 2 + 2 * n * k;
}

void MoeExperts(const MoeExpertsArgs& a, cudaStream_t stream) {
  INFERD_CHECK(a.n >= 0 && a.k >= 0 && a.hidden >= 0 && a.inter >= 0 && a.num_experts >= 0);
  if (a.n == 0 || a.hidden == 0) return;
  const int64_t es = DTypeSize(a.dtype);
  if (a.k == 0 || a.inter == 0 || a.num_experts == 0) {
    CUDA_CHECK(cudaMemsetAsync(a.out, 0, a.n * a.hidden * es, stream));
    return;
  }
  INFERD_CHECK_LE(a.num_experts, kMoeMaxExperts);
  const int64_t slots = a.n * a.k;
  INFERD_CHECK_LE(slots, 0x7fffffffLL) << "routed slots";
  INFERD_CHECK(a.scratch != nullptr && a.int_scratch != nullptr);
  const IntScratch s = SplitInts(a.int_scratch, a.num_experts, slots);
  char* base = static_cast<char*>(a.scratch);
  void* rows = base;                                                       // [slots, hidden]
  void* gu = base + AlignUp(slots * a.hidden * es);                        // [slots, 2 * inter]
  void* act = static_cast<char*>(gu) + AlignUp(slots * 2 * a.inter * es);  // [slots, inter]

  CUDA_CHECK(cudaMemsetAsync(s.counts, 0, sizeof(int32_t) * a.num_experts, stream));
  CountKernel<<<GridFor(slots, kThreads), kThreads, 0, stream>>>(a.topk_ids, slots, a.num_experts,
                                                                 s.counts);
  CUDA_CHECK(cudaGetLastError());
  ScanKernel<<<1, kThreads, 0, stream>>>(a.num_experts, s.counts, s.cursor, s.offsets,
                                         s.tile_start);
  CUDA_CHECK(cudaGetLastError());
  AssignKernel<<<GridFor(slots, kThreads), kThreads, 0, stream>>>(
      a.topk_ids, slots, a.k, a.num_experts, s.cursor, s.slot_row, s.row_token);
  CUDA_CHECK(cudaGetLastError());

  DispatchDType(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    GatherKernel<T><<<GridFor(slots * a.hidden, kThreads), kThreads, 0, stream>>>(
        static_cast<const T*>(a.x), s.row_token, s.offsets + a.num_experts, slots, a.hidden,
        static_cast<T*>(rows));
  });
  CUDA_CHECK(cudaGetLastError());
  GroupedGemm(a.dtype, rows, a.gate_up, gu, s.offsets, s.tile_start, slots, 2 * a.inter, a.hidden,
              a.num_experts, stream);
  SiluMul(gu, slots, a.inter, act, a.dtype, stream);
  GroupedGemm(a.dtype, act, a.down, rows, s.offsets, s.tile_start, slots, a.hidden, a.inter,
              a.num_experts, stream);
  DispatchDType(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    CombineKernel<T><<<GridFor(a.n * a.hidden, kThreads), kThreads, 0, stream>>>(
        static_cast<const T*>(rows), s.slot_row, a.topk_weights, a.n, a.k, a.hidden,
        static_cast<T*>(a.out));
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace inferd::kernels::cuda
