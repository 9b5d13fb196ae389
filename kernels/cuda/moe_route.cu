// kernels/cuda/moe_route.cu — MoeRoute: softmax + top-k over router logits.
//
// One thread per token runs the CPU's algorithm (kernels/cpu/moe_route.cc)
// step for step: m = max logit; s = Σ exp(double(l_e - m)) in id order; top-k
// by k selection sweeps under (logit descending, id ascending); p_j =
// exp(double(l_j - m)) / s, optionally divided by Σ_j p_j (slot order);
// rounded to float once. So ids equal the CPU's for the same logits, and
// weights differ only by the last bit of double exp, if at all.
#include <cstdint>

#include "common/check.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/dtype_traits.cuh"

namespace inferd::kernels::cuda {
namespace {

constexpr int kThreads = 128;

// True when expert (la, a) ranks before (lb, b): higher logit, then lower id.
__device__ __forceinline__ bool RanksBefore(float la, int64_t a, float lb, int64_t b) {
  return la > lb || (la == lb && a < b);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    MoeRouteKernel(const T* __restrict__ router_logits, int64_t n, int64_t num_experts, int64_t k,
                   bool renormalize, int32_t* __restrict__ topk_ids,
                   float* __restrict__ topk_weights) {
  const int64_t tok = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (tok >= n) return;
  const T* logits = router_logits + tok * num_experts;
  int32_t* ids = topk_ids + tok * k;
  float* weights = topk_weights + tok * k;
  float m = ToFloat(logits[0]);
  for (int64_t e = 1; e < num_experts; ++e) {
    const float v = ToFloat(logits[e]);
    m = v > m ? v : m;
  }
  double sum = 0.0;
  for (int64_t e = 0; e < num_experts; ++e) sum += exp(static_cast<double>(ToFloat(logits[e]) - m));

  double probs_sum = 0.0;
  int64_t prev = -1;
  for (int64_t j = 0; j < k; ++j) {
    int64_t best = -1;
    float best_logit = 0.0f;
    const float prev_logit = prev >= 0 ? ToFloat(logits[prev]) : 0.0f;
    for (int64_t e = 0; e < num_experts; ++e) {
      const float le = ToFloat(logits[e]);
      if (prev >= 0 && !RanksBefore(prev_logit, prev, le, e)) continue;
      if (best < 0 || RanksBefore(le, e, best_logit, best)) {
        best = e;
        best_logit = le;
      }
    }
    ids[j] = static_cast<int32_t>(best);
    probs_sum += exp(static_cast<double>(best_logit - m)) / sum;
    prev = best;
  }
  for (int64_t j = 0; j < k; ++j) {
    double p = exp(static_cast<double>(ToFloat(logits[ids[j]]) - m)) / sum;
    if (renormalize) p /= probs_sum;
    weights[j] = static_cast<float>(p);
  }
}

}  // namespace

void MoeRoute(const void* router_logits, DType dtype, int64_t n, int64_t num_experts, int64_t k,
              bool renormalize, int32_t* topk_ids, float* topk_weights, cudaStream_t stream) {
  INFERD_CHECK_GE(n, 0);
  if (n == 0) return;
  INFERD_CHECK(k >= 1 && k <= num_experts) << "k " << k << " experts " << num_experts;
  INFERD_CHECK_LE(num_experts, 0x7fffffffLL);
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  INFERD_CHECK_LE(blocks, 0x7fffffffLL);
  DispatchDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    MoeRouteKernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
        static_cast<const T*>(router_logits), n, num_experts, k, renormalize, topk_ids,
        topk_weights);
  });
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace inferd::kernels::cuda
