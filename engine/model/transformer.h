// engine/model/transformer.h — the decoder-only transformer of the Llama
// family (Llama 2/3, Mistral, Qwen2): embedding -> N x (RMSNorm, attention
// with RoPE over the paged KV cache, RMSNorm, SwiGLU MLP) -> RMSNorm -> LM head.
//
// Written once against the device seam (engine/backend/backend.h): weights,
// workspace and the KV cache live on the backend's device and every op runs
// through it. Weights are read out of the checkpoint at load in one storage
// dtype (fp32, bf16 or fp16; q/k/v fused into one matrix, gate/up into
// another); norms and biases are fp32. Activations are the backend's
// activation dtype and every op accumulates in fp32. Forward() runs one flat
// varlen batch and writes logits only for the requested rows. Not
// thread-safe: the engine thread owns it and its workspace.
#ifndef INFERD_ENGINE_MODEL_TRANSFORMER_H_
#define INFERD_ENGINE_MODEL_TRANSFORMER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/backend.h"
#include "engine/backend/input_batch.h"
#include "engine/kv_cache/kv_cache_tensors.h"
#include "engine/model/config.h"
#include "engine/model/decoder_layer.h"
#include "engine/model/expert_load.h"
#include "engine/model/weight.h"
#include "engine/model/weight_store.h"

namespace inferd::engine {

// Weight-only quantization (--quantization, --quantize-lm-head): the linear
// layers' matrices (attention q/k/v/o, MLP gate/up/down, MoE experts and
// shared experts) quantized at load in blocks of 32 along the input
// dimension (kernels/quant_blocks.h), or (as_stored, --quantization auto)
// served in the quantized types the checkpoint stores them in (a GGUF
// file's Q8_0, Q4_0, Q4_K, Q5_K, Q6_K: engine/model/weight.h WeightDType), the LM
// head and the embedding included (a tied head is then the embedding
// itself). Otherwise embeddings, and always norms, biases and routers, keep
// the model dtype.
// CPU backend only (as_stored is ignored on another backend: the matrices
// are dequantized to the model dtype).
struct WeightQuantization {
  std::optional<DType> linear;  // kQ8_0 or kQ4_0; nullopt: none
  bool lm_head = false;         // the LM head too (a tied one gets a quantized copy)
  bool as_stored = false;       // with linear nullopt: the checkpoint's quantized types
};

class Transformer {
 public:
  // Reads every weight as `dtype` (converting when the checkpoint stores
  // another) onto `backend`'s device (a new CpuBackend when null), the
  // matrices `quant` names quantized. RESOURCE_EXHAUSTED before any
  // allocation when they would not fit in memory; INVALID_ARGUMENT for
  // quantization on a backend other than the CPU. (A matrix whose rows are
  // not whole blocks of 32 stays fp32: WeightStore::KeptUnquantized.)
  static absl::StatusOr<std::unique_ptr<Transformer>> Load(
      const ModelConfig& config, const WeightStore& weights, DType dtype = DType::kF32,
      std::shared_ptr<Backend> backend = nullptr, WeightQuantization quant = {});

  const ModelConfig& config() const { return config_; }
  DType dtype() const { return dtype_; }
  // The linear layers' quantized dtype, or nullopt (WeightQuantization).
  const WeightQuantization& quantization() const { return quant_; }
  Backend& backend() const { return *backend_; }
  const std::shared_ptr<Backend>& shared_backend() const { return backend_; }
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
  // [logits_rows.size(), vocab] fp32 on the backend's device. Grows the
  // workspace when needed.
  void Forward(const InputBatch& batch, KvCacheTensors* kv, TensorView logits);

  // The final-norm hidden states of every row of the last Forward (what the
  // LM head reads): [num_tokens, hidden] on the device. Valid until the next
  // Forward. Medusa heads and MTP modules read them.
  TensorView hidden_states() const { return h_.view().Rows(0, last_tokens_); }
  // [vocab, hidden] of dtype(): the input embedding and the LM head (the same
  // matrix when tied, unless the LM head is quantized).
  const Weight& embed_tokens() const { return embed_tokens_; }
  const Weight& lm_head() const { return lm_head_.empty() ? embed_tokens_ : lm_head_; }
  bool lm_head_quantized() const { return kernels::IsQuantized(lm_head().dtype()); }

 private:
  explicit Transformer(const ModelConfig& config, std::shared_ptr<Backend> backend);
  void EnsureWorkspace(int64_t num_tokens);

  ModelConfig config_;
  std::shared_ptr<Backend> backend_;
  DType dtype_ = DType::kF32;
  WeightQuantization quant_;
  int64_t weight_bytes_ = 0;
  Weight inv_freq_;      // [head_dim / 2] fp32
  Weight embed_tokens_;  // [vocab, hidden]
  Weight lm_head_;       // [vocab, hidden]; empty when tied
  Weight final_norm_;    // [hidden] fp32
  std::vector<DecoderLayerWeights> layers_;

  // Workspace, sized for the largest batch seen so far.
  int64_t capacity_ = 0;
  int64_t last_tokens_ = 0;
  Tensor residual_;  // [T, hidden]
  Tensor h_;         // [T, hidden]
  Tensor selected_;  // [T, hidden] rows whose logits are wanted
  DecoderLayerScratch scratch_;
  std::unique_ptr<ExpertLoad> expert_load_;  // null unless enabled
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_TRANSFORMER_H_
