// kernels/cpu/moe_route.cc — MoeRoute: softmax + top-k over router logits.
//
// Per token, independent of every other token and of threading:
//   1. m = max logit; s = Σ_e exp(double(l_e - m)) in expert id order.
//   2. Top-k by selection: slot j takes the best expert under the order
//      (logit descending, id ascending) among those strictly after slot j-1's
//      expert in that order. Ranking by logit is ranking by exact probability
//      (exp is monotone), and equal logits are exactly the probability ties.
//      No scratch: the previous slot's (logit, id) is the only state.
//   3. p_j = exp(double(l_j - m)) / s; when renormalising, divided by
//      Σ_j p_j (double, slot order). Rounded to float once.
// The difference l - m is a float subtraction (exact when the exponents are
// close, and the same bits whatever the batch).
#include <cmath>
#include <cstdint>

#include "common/thread_pool.h"
#include "kernels/ops.h"

namespace inferd::kernels {
namespace {

// True when expert (la, a) ranks before (lb, b): higher logit, then lower id.
inline bool RanksBefore(float la, int64_t a, float lb, int64_t b) {
  return la > lb || (la == lb && a < b);
}

void RouteToken(const float* logits, int64_t num_experts, int64_t k, bool renormalize, int32_t* ids,
                float* weights) {
  float m = logits[0];
  for (int64_t e = 1; e < num_experts; ++e) m = logits[e] > m ? logits[e] : m;
  double sum = 0.0;
  for (int64_t e = 0; e < num_experts; ++e) sum += std::exp(static_cast<double>(logits[e] - m));

  double probs_sum = 0.0;
  for (int64_t j = 0; j < k; ++j) {
    int64_t best = -1;
    for (int64_t e = 0; e < num_experts; ++e) {
      // Only experts ranked after the previous slot's expert are eligible.
      if (j > 0 && !RanksBefore(logits[ids[j - 1]], ids[j - 1], logits[e], e)) continue;
      if (best < 0 || RanksBefore(logits[e], e, logits[best], best)) best = e;
    }
    ids[j] = static_cast<int32_t>(best);
    probs_sum += std::exp(static_cast<double>(logits[best] - m)) / sum;
  }
  for (int64_t j = 0; j < k; ++j) {
    double p = std::exp(static_cast<double>(logits[ids[j]] - m)) / sum;
    if (renormalize) p /= probs_sum;
    weights[j] = static_cast<float>(p);
  }
}

}  // namespace

void MoeRoute(const float* router_logits, int64_t n, int64_t num_experts, int64_t k,
              bool renormalize, int32_t* topk_ids, float* topk_weights) {
  if (n <= 0 || k <= 0 || num_experts <= 0) return;
  const int64_t cost = num_experts * (20 + k);  // exp calls plus k selection sweeps
  ParallelFor(n, GrainFor(cost), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      RouteToken(router_logits + t * num_experts, num_experts, k, renormalize, topk_ids + t * k,
                 topk_weights + t * k);
    }
  });
}

}  // namespace inferd::kernels
