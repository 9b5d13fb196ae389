// engine/model/moe_mlp.h — the Mixture-of-Experts MLP block (Mixtral,
// Qwen2-MoE, Qwen3-MoE): router -> softmax -> top-k (renormalised when the
// config says) -> SwiGLU experts over the tokens routed to them -> weighted
// combine; plus, for Qwen2-MoE, a shared expert scaled by
// sigmoid(shared_expert_gate(x)). Compute follows the k active experts per
// token (Backend::Moe); all experts' weights stay resident.
#ifndef INFERD_ENGINE_MODEL_MOE_MLP_H_
#define INFERD_ENGINE_MODEL_MOE_MLP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/backend/backend.h"
#include "engine/model/config.h"
#include "engine/model/dense_mlp.h"
#include "engine/model/expert_load.h"
#include "engine/model/weight.h"
#include "engine/model/weight_store.h"

namespace inferd::engine {

struct MoeMlpWeights {
  Weight router;           // [num_experts, hidden] fp32
  Weight gate_up;          // [num_experts * 2 * inter, hidden]: per expert gate, up
  Weight down;             // [num_experts * hidden, inter]
  DenseMlpWeights shared;  // Qwen2-MoE's shared expert; empty otherwise
  Weight shared_gate;      // [1, hidden] fp32; empty without a shared expert
};

// Loads layer `layer`'s MoE block with the HF tensor names of its family.
// The router and the shared expert's gate stay fp32 (routing decisions are
// made on them); the experts are stored as `dtype`.
absl::Status LoadMoeMlp(const ModelConfig& config, const WeightStore& w, Backend& backend,
                        int64_t layer, WeightDType dtype, MoeMlpWeights* out);

// Activations of RunMoeMlp, grown to the largest batch so far.
struct MoeMlpScratch {
  int64_t capacity = 0;
  Tensor router_logits;  // [n, num_experts]
  Tensor shared_out;     // [n, hidden]
  Tensor shared_gate;    // [n, 1]
  DenseMlpScratch shared;
  std::vector<int32_t> topk_ids;  // [n, k] on the host, when expert load is counted
};

// out = block(h):  h [n, hidden] -> out [n, hidden]. Records the routing of
// layer `layer` into `load` when it is not null.
void RunMoeMlp(Backend& backend, const ModelConfig& config, const MoeMlpWeights& m, int64_t layer,
               TensorView h, TensorView out, MoeMlpScratch* scratch, ExpertLoad* load);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_MOE_MLP_H_
