// engine/model/config.h — the parsed config.json of a HF model directory.
//
// Parsing validates every field the engine uses (types, ranges, consistency:
// hidden_size divisible by heads, kv heads dividing q heads, ...) and reports
// problems naming the file and the field. Immutable after parsing.
#ifndef INFERD_ENGINE_MODEL_CONFIG_H_
#define INFERD_ENGINE_MODEL_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace inferd::engine {

struct RopeScaling {
  std::string type;  // "" (none) or "llama3" (others are rejected at parse time)
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

// Mixture-of-Experts fields (Mixtral, Qwen2-MoE, Qwen3-MoE); num_experts == 0
// for dense models. engine/model/moe_config.cc parses them.
struct MoeConfig {
  int64_t num_experts = 0;               // num_local_experts (Mixtral) / num_experts (Qwen)
  int64_t num_experts_per_tok = 0;       // k
  int64_t expert_intermediate_size = 0;  // Mixtral: intermediate_size; Qwen: moe_intermediate_size
  bool norm_topk_prob = true;            // renormalise the k weights (always for Mixtral)
  int64_t shared_expert_intermediate_size = 0;  // Qwen2-MoE's sigmoid-gated shared expert; 0: none
  int64_t decoder_sparse_step = 1;              // a layer is sparse when (i + 1) % step == 0
  std::vector<int64_t> mlp_only_layers;         // layers that stay dense
};

struct ModelConfig {
  std::string architecture;  // architectures[0], e.g. "LlamaForCausalLM"
  std::string model_type;    // "llama", "mistral", "qwen2", ...
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // defaults to num_attention_heads
  int64_t head_dim = 0;             // defaults to hidden_size / num_attention_heads
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  // Per-frequency RoPE divisors [head_dim / 2] (a GGUF file's rope_freqs
  // tensor, llama.cpp's form of llama3 scaling); empty: none. RopeInvFreq
  // divides the plain inverse frequencies by them, as llama.cpp does.
  std::vector<float> rope_freq_factors;
  bool attention_bias = false;  // q/k/v (not o) projections have a bias (Qwen2: always)
  bool tie_word_embeddings = false;
  std::string hidden_act = "silu";
  std::string torch_dtype;             // as written; "" when absent
  std::vector<int32_t> bos_token_ids;  // config.json bos_token_id (may be empty)
  std::vector<int32_t> eos_token_ids;  // config.json eos_token_id, int or list
  MoeConfig moe;
  bool qk_norm = false;  // per-head RMSNorm of q and k before RoPE (Qwen3)

  // True when layer `layer` uses the MoE block (HF Qwen2-MoE rule; every
  // layer of Mixtral); dense layers use intermediate_size.
  bool IsMoeLayer(int64_t layer) const;

  // Parses `json_text`; `origin` (a path) prefixes error messages.
  static absl::StatusOr<ModelConfig> Parse(const std::string& json_text, const std::string& origin);
  // Reads and parses DIR/config.json.
  static absl::StatusOr<ModelConfig> FromDirectory(const std::string& dir);

  // RoPE inverse frequencies [head_dim / 2], rope_scaling applied (llama3).
  std::vector<float> RopeInvFreq() const;

  // A lower bound on the parameters these sizes imply: the embedding, and
  // per layer the attention projections, the two norms and (MoE) the router.
  // Checked against the checkpoint before anything is sized from the config,
  // so that a config.json claiming 10^9 layers is an error, not an
  // allocation. A double: the product of bad sizes may not fit in int64.
  double MinParameterCount() const;
};

// generation_config.json (optional file): stop tokens and the sampling
// defaults HF transformers' GenerationConfig carries, as written (nullopt:
// absent or null). Ranges are checked at parse time: temperature >= 0,
// top_k >= 0 (-1, vLLM's "disabled", reads as 0), top_p in (0, 1], min_p in
// [0, 1], repetition_penalty > 0, each finite as a float. What they mean for
// a request (do_sample false: greedy) is engine/sampling_defaults.h's.
struct GenerationConfig {
  std::vector<int32_t> eos_token_ids;  // eos_token_id, int or list; empty when absent
  int32_t bos_token_id = -1;
  std::optional<bool> do_sample;
  std::optional<float> temperature;
  std::optional<int32_t> top_k;
  std::optional<float> top_p;
  std::optional<float> min_p;
  std::optional<float> repetition_penalty;
  static absl::StatusOr<GenerationConfig> FromDirectory(
      const std::string& dir);  // absent file -> empty config
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_CONFIG_H_
