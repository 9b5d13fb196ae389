// engine/spec_decode/mtp_module.h — a DeepSeek-V3-style multi-token
// prediction (MTP) module of depth 1 (../shared/models/stories260K-mtp).
//
// At sequence position i, with h_i the target's final-norm hidden state (what
// its LM head reads) and S[i+1] the token after position i:
//   x_i      = eh_proj(concat(enorm(embed(S[i+1])), hnorm(h_i)))    [hidden]
//   y_i      = one Llama decoder layer over x (causal over the module's own
//              inputs x_0..x_i, kept in its own one-layer paged KV cache;
//              RoPE at position i)
//   logits_i = shared_head.norm(y_i) · lm_headᵀ   -> predicts S[i+2]
// embed and lm_head are the target's. Chaining for k > 1 (DeepSeek's
// sequential MTP, here with the one module reused) feeds the module's own
// state back as the next position's h: x_{i+1} = eh_proj(concat(
// enorm(embed(d_1)), hnorm(z_i))) with d_1 the drafted S[i+2] and
// z_i = shared_head.norm(y_i), the vector the module's LM head reads: the
// same role as the target's final-norm h_i it was trained on. Measured on
// 105 greedy stories (12,910 positions; tests/golden/spec_decode/
// mtp_golden_test.cc): the first draft token is accepted 80.0% of the time;
// feeding z_i, the second one 61.9% of the times the first is (y_i: 61.4%;
// 229 positions right only with z_i, 178 only with y_i), 2.283 tokens per
// greedy k = 2 step (y_i: 2.271; k = 1: 1.786). Forward returns z_i for every
// row.
//
// Directory: config.json (architectures [LlamaMTP], hidden_size and
// vocab_size equal to the target's, the layer's attention and MLP sizes,
// mtp_layer_prefix) and *.safetensors with, under the prefix: enorm, hnorm,
// eh_proj, input_layernorm, self_attn.{q,k,v,o}_proj, post_attention_layernorm,
// mlp.{gate,up,down}_proj, shared_head.norm. RoPE scaling is the target's.
//
// The decoder layer is the target model's own definition
// (engine/model/decoder_layer.h): qk_norm when the module holds
// self_attn.q_norm/k_norm, attention biases per config.json; its MLP is dense
// (no MoE MTP modules yet). Weights are stored in the target's dtype on the
// target's backend.
//
// Not thread-safe: the engine thread owns it and its scratch, which grows to
// the largest batch seen (no allocation per call after that).
#ifndef INFERD_ENGINE_SPEC_DECODE_MTP_MODULE_H_
#define INFERD_ENGINE_SPEC_DECODE_MTP_MODULE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/backend.h"
#include "engine/backend/input_batch.h"
#include "engine/kv_cache/kv_cache_tensors.h"
#include "engine/model/config.h"
#include "engine/model/decoder_layer.h"
#include "engine/model/weight.h"

namespace inferd::engine {

class MtpModule {
 public:
  // Loads and validates `dir` against the target model, its matrices as
  // `dtype`, onto `backend` (a new CpuBackend when null). Errors name the
  // file and the field or tensor.
  static absl::StatusOr<std::unique_ptr<MtpModule>> Load(
      const std::string& dir, const ModelConfig& target, DType dtype = DType::kF32,
      std::shared_ptr<Backend> backend = nullptr);

  // The decoder layer's sizes (attention heads, head_dim, intermediate size,
  // eps, RoPE) as a one-layer ModelConfig; hidden and vocab are the target's.
  const ModelConfig& config() const { return config_; }
  Backend& backend() const { return *backend_; }
  int64_t hidden_size() const { return config_.hidden_size; }
  int64_t vocab_size() const { return config_.vocab_size; }
  // Elements per token of K (and of V) in the module's one-layer cache.
  int64_t kv_dim() const { return config_.num_key_value_heads * config_.head_dim; }

  // Runs the module over `batch` (positions = MTP position i, slot_mapping,
  // query_start, seq_lens, block tables and tree_mask with the target's
  // semantics; batch.token_ids and batch.logits_rows are not read). Writes
  // the K/V of every row into `kv` (the module's one layer) at
  // batch.slot_mapping, then
  // logits for `logits_rows` (row indices, in that order). All tensors on
  // the backend's device:
  //   target_hidden: [n, hidden] h_i (or a chained z)   next_tokens: [n] S[i+1]
  //   embed, lm_head: [vocab, hidden] the target's (Transformer::embed_tokens, lm_head)
  //   logits: [logits_rows.size(), vocab]
  //   out_hidden: [n, hidden] z = shared_head.norm(y), the vector the LM head
  //               reads and what chaining feeds back as h; or empty
  void Forward(const InputBatch& batch, TensorView target_hidden, IndexView next_tokens,
               TensorView embed, TensorView lm_head, KvLayerView kv,
               const std::vector<int32_t>& logits_rows, TensorView logits, TensorView out_hidden);

  // y, the decoder layer's output before shared_head.norm, of every row of the
  // last Forward: [n, hidden] on the device. Valid until the next Forward.
  TensorView layer_output() const { return residual_.view().Rows(0, last_rows_); }

 private:
  MtpModule(const ModelConfig& config, std::shared_ptr<Backend> backend)
      : config_(config), backend_(std::move(backend)) {}
  void EnsureScratch(int64_t n);

  ModelConfig config_;
  std::shared_ptr<Backend> backend_;
  Weight inv_freq_;  // [head_dim / 2] fp32
  Weight enorm_;     // [hidden] fp32
  Weight hnorm_;     // [hidden] fp32
  Weight eh_proj_;   // [hidden, 2 * hidden]
  DecoderLayerWeights layer_;
  Weight shared_head_norm_;  // [hidden] fp32

  // Scratch, sized for the largest n so far.
  int64_t capacity_ = 0;
  int64_t last_rows_ = 0;
  Tensor cat_;       // [n, 2 * hidden] enorm(embed) | hnorm(h)
  Tensor residual_;  // [n, hidden] x, then the layer output y
  Tensor h_;         // [n, hidden] normed input of a sub-block; at the end z
  Tensor delta_;     // [n, hidden]
  Tensor selected_;  // [n, hidden] rows whose logits are wanted
  DecoderLayerScratch layer_scratch_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SPEC_DECODE_MTP_MODULE_H_
