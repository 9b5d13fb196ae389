// engine/model/transformer.h — the decoder-only transformer of the Llama
// family (Llama 2/3, Mistral, Qwen2): embedding -> N x (RMSNorm, attention
// with RoPE over the paged KV cache, RMSNorm, SwiGLU MLP) -> RMSNorm -> LM head.
//
// Weights are read out of the checkpoint at load into memory the model owns,
// in one storage dtype (fp32, bf16 or fp16; q/k/v fused into one matrix,
// gate/up into another); norms and biases are fp32. Activations are fp32 and
// every kernel accumulates in fp32. Forward() runs one flat varlen batch and
// writes logits only for the requested rows. Not thread-safe: the engine
// thread owns it and its workspace.
#ifndef INFERD_ENGINE_MODEL_TRANSFORMER_H_
#define INFERD_ENGINE_MODEL_TRANSFORMER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/kv_cache/kv_cache_tensors.h"
#include "engine/model/config.h"
#include "engine/model/dense_mlp.h"
#include "engine/model/input_batch.h"
#include "engine/model/moe_mlp.h"
#include "engine/model/weight.h"
#include "engine/model/weight_store.h"

namespace inferd::engine {

struct AttentionWeights {
  Weight qkv;                   // [q_dim + 2 * kv_dim, hidden]
  std::vector<float> qkv_bias;  // [q_dim + 2 * kv_dim] or empty
  Weight o;                     // [hidden, q_dim]
};

struct LayerWeights {
  std::vector<float> input_norm;      // [hidden]
  std::vector<float> post_attn_norm;  // [hidden]
  AttentionWeights attn;
  std::vector<float> q_norm;  // [head_dim] (qk_norm models) or empty
  std::vector<float> k_norm;  // [head_dim] (qk_norm models) or empty
  // The MLP block: dense, or MoE (config.IsMoeLayer).
  DenseMlpWeights mlp;
  std::unique_ptr<MoeMlpWeights> moe;
};

class Transformer {
 public:
  // Reads every weight as `dtype` (converting when the checkpoint stores
  // another). RESOURCE_EXHAUSTED before any allocation when they would not
  // fit in memory.
  static absl::StatusOr<std::unique_ptr<Transformer>> Load(const ModelConfig& config,
                                                           const WeightStore& weights,
                                                           DType dtype = DType::kF32);

  const ModelConfig& config() const { return config_; }
  DType dtype() const { return dtype_; }
  // Bytes of weights held (every matrix, norm and bias).
  int64_t weight_bytes() const { return weight_bytes_; }

  // Starts counting tokens per expert in every MoE layer (no-op for dense
  // models). Call before the first Forward; the counter lives as long as the
  // model and may be read from any thread.
  void EnableExpertLoad();
  const ExpertLoad* expert_load() const { return expert_load_.get(); }
  int64_t kv_dim() const { return config_.num_key_value_heads * config_.head_dim; }

  // Runs `batch` (its K/V are written into `kv` at batch.slot_mapping) and
  // writes logits for batch.logits_rows, in that order, to `logits`
  // [logits_rows.size(), vocab]. Grows the workspace when needed.
  void Forward(const InputBatch& batch, int32_t block_size, KvCacheTensors* kv, float* logits);

  // The final-norm hidden states of every row of the last Forward (what the
  // LM head reads): [num_tokens, hidden]. Valid until the next Forward.
  // Medusa heads and MTP modules read them.
  const float* hidden_states() const { return h_.data(); }
  // [vocab, hidden] of dtype(): the input embedding and the LM head (the same
  // matrix when tied).
  const Weight& embed_tokens() const { return embed_tokens_; }
  const Weight& lm_head() const { return lm_head_.empty() ? embed_tokens_ : lm_head_; }

 private:
  explicit Transformer(const ModelConfig& config);
  void EnsureWorkspace(int64_t num_tokens);
  void Attention(const InputBatch& batch, int64_t layer, int32_t block_size, KvCacheTensors* kv,
                 const float* h, float* out);
  void Mlp(int64_t layer, int64_t num_tokens, const float* h, float* out);

  ModelConfig config_;
  DType dtype_ = DType::kF32;
  int64_t weight_bytes_ = 0;
  std::vector<float> inv_freq_;    // [head_dim / 2]
  Weight embed_tokens_;            // [vocab, hidden]
  Weight lm_head_;                 // [vocab, hidden]; empty when tied
  std::vector<float> final_norm_;  // [hidden]
  std::vector<LayerWeights> layers_;

  // Workspace, sized for the largest batch seen so far.
  int64_t capacity_ = 0;
  std::vector<float> residual_;              // [T, hidden]
  std::vector<float> h_;                     // [T, hidden]
  std::vector<float> delta_;                 // [T, hidden] output of a sub-block
  std::vector<float> qkv_;                   // [T, q_dim + 2 * kv_dim]
  std::vector<float> q_;                     // [T, q_dim]
  std::vector<float> k_;                     // [T, kv_dim]
  std::vector<float> v_;                     // [T, kv_dim]
  std::vector<float> attn_;                  // [T, q_dim]
  std::unique_ptr<ExpertLoad> expert_load_;  // null unless enabled
  DenseMlpScratch dense_scratch_;
  MoeMlpScratch moe_scratch_;
  std::vector<float> selected_;  // [R, hidden] rows whose logits are wanted
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_TRANSFORMER_H_
