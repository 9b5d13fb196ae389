// engine/model/decoder_layer.h — one decoder layer of the Llama family, the
// only definition of it: the target model's layers (Transformer), the draft
// model's (another Transformer) and the MTP module's one layer all run it.
//
//   attention: qkv = h · Wqkvᵀ (+ bias); per-head RMSNorm of q and k (qk_norm
//              models: Qwen3); RoPE; K/V into the paged cache; paged
//              attention over the step's layout; o projection
//   residual += attention;  h = post_attention_layernorm(residual)
//   MLP:       SwiGLU (dense) or Mixture-of-Experts (config.IsMoeLayer)
//   residual += MLP;        h = next_norm(residual)
//
// The caller norms the layer's input (input_layernorm) and names the norm
// that follows the layer (the next layer's input norm, the final norm, or
// the MTP module's shared_head.norm): each residual add is fused with the
// norm after it (Backend::AddRmsNorm).
#ifndef INFERD_ENGINE_MODEL_DECODER_LAYER_H_
#define INFERD_ENGINE_MODEL_DECODER_LAYER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/backend/backend.h"
#include "engine/model/config.h"
#include "engine/model/dense_mlp.h"
#include "engine/model/expert_load.h"
#include "engine/model/moe_mlp.h"
#include "engine/model/weight.h"
#include "engine/model/weight_store.h"

namespace inferd::engine {

struct AttentionWeights {
  Weight qkv;  // [q_dim + 2 * kv_dim, hidden], or empty when qkv_parts holds them
  // q [q_dim, hidden], k and v [kv_dim, hidden] apart, when the checkpoint
  // stores them in different quantized types and they are served as stored
  // (no one tensor holds two types: StoredInMixedTypes); else empty.
  std::vector<Weight> qkv_parts;
  Weight qkv_bias;  // [q_dim + 2 * kv_dim] fp32, or empty
  Weight o;         // [hidden, q_dim]
  Weight q_norm;    // [head_dim] fp32 (qk_norm models) or empty
  Weight k_norm;    // [head_dim] fp32 (qk_norm models) or empty
};

struct DecoderLayerWeights {
  Weight input_norm;      // [hidden] fp32
  Weight post_attn_norm;  // [hidden] fp32
  AttentionWeights attn;
  // The MLP block: dense, or MoE (config.IsMoeLayer(layer)).
  DenseMlpWeights mlp;
  std::unique_ptr<MoeMlpWeights> moe;
};

// Loads the layer's tensors, named with HF's names under `prefix` (e.g.
// "model.layers.3."): input_layernorm, self_attn.{q,k,v,o}_proj (+ biases
// when config.attention_bias, q_norm/k_norm when config.qk_norm),
// post_attention_layernorm, and the MLP (`layer` picks dense or MoE and
// names the MoE tensors). Matrices in `dtype`, the rest fp32.
absl::Status LoadDecoderLayer(const ModelConfig& config, const WeightStore& w, Backend& backend,
                              const std::string& prefix, int64_t layer, WeightDType dtype,
                              DecoderLayerWeights* out);

// Activations of one layer call, grown to the largest batch so far and
// shared by every layer of a model.
struct DecoderLayerScratch {
  int64_t capacity = 0;
  Tensor delta;  // [T, hidden] output of a sub-block
  Tensor qkv;    // [T, q_dim + 2 * kv_dim]
  Tensor q;      // [T, q_dim]
  Tensor k;      // [T, kv_dim]
  Tensor v;      // [T, kv_dim]
  Tensor attn;   // [T, q_dim]
  DenseMlpScratch dense;
  MoeMlpScratch moe;
};

// Runs layer `layer` over the step `in`, its K/V written into `kv`.
//   residual: [n, hidden] the layer's input x; on return x + attention + MLP
//   h:        [n, hidden] input_layernorm(x); on return next_norm(residual)
//   inv_freq: [head_dim / 2] RoPE frequencies   next_norm: [hidden]
// Counts the routing into `load` when it is not null (MoE layers).
void RunDecoderLayer(Backend& backend, const ModelConfig& config, const DecoderLayerWeights& w,
                     int64_t layer, const StepInputs& in, KvLayerView kv, TensorView inv_freq,
                     TensorView next_norm, TensorView residual, TensorView h,
                     DecoderLayerScratch* scratch, ExpertLoad* load);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_DECODER_LAYER_H_
