// engine/model/gguf_tensor_map.cc
#include "engine/model/gguf_tensor_map.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace inferd::engine {
namespace {

absl::Status Unknown(const GgufFile& f, const std::string& name, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(f.path(), ": tensor `", name, "`: ", why, " (architecture ",
                   f.Find("general.architecture") != nullptr ? f.Find("general.architecture")->str
                                                             : std::string("?"),
                   ")"));
}

std::vector<int64_t> Reversed(const std::vector<int64_t>& dims) {
  return std::vector<int64_t>(dims.rbegin(), dims.rend());
}

}  // namespace

absl::StatusOr<std::map<std::string, GgufTensorRef>> MapGgufTensors(const GgufFile& f,
                                                                    const ModelConfig& c) {
  const bool mixtral = c.model_type == "mixtral";
  const bool rope_permuted = c.model_type == "llama" || mixtral;
  // Per-layer names: GGUF suffix -> HF suffix (after "model.layers.N.").
  const std::map<std::string, std::string> kLayer = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.bias", "self_attn.v_proj.bias"},
      {"attn_q_norm.weight", "self_attn.q_norm.weight"},
      {"attn_k_norm.weight", "self_attn.k_norm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
      {"ffn_gate_inp.weight", mixtral ? "block_sparse_moe.gate.weight" : "mlp.gate.weight"},
      {"ffn_gate_shexp.weight", "mlp.shared_expert.gate_proj.weight"},
      {"ffn_up_shexp.weight", "mlp.shared_expert.up_proj.weight"},
      {"ffn_down_shexp.weight", "mlp.shared_expert.down_proj.weight"},
      {"ffn_gate_inp_shexp.weight", "mlp.shared_expert_gate.weight"},
  };
  // Stacked experts: GGUF suffix -> HF name after "experts.E.".
  const std::map<std::string, std::string> kExperts = {
      {"ffn_gate_exps.weight", mixtral ? "w1.weight" : "gate_proj.weight"},
      {"ffn_down_exps.weight", mixtral ? "w2.weight" : "down_proj.weight"},
      {"ffn_up_exps.weight", mixtral ? "w3.weight" : "up_proj.weight"},
  };
  std::map<std::string, GgufTensorRef> out;
  auto add = [&](const std::string& hf, GgufTensorRef ref) -> absl::Status {
    if (!out.emplace(hf, std::move(ref)).second) {
      return absl::InvalidArgumentError(absl::StrCat(f.path(), ": two tensors map to `", hf, "`"));
    }
    return absl::OkStatus();
  };
  for (const GgufTensorInfo& t : f.contents().tensors) {
    GgufTensorRef ref;
    ref.info = &t;
    ref.shape = Reversed(t.dims);
    ref.numel = t.numel;
    if (t.name == "token_embd.weight") {
      if (absl::Status s = add("model.embed_tokens.weight", ref); !s.ok()) return s;
      continue;
    }
    if (t.name == "output_norm.weight") {
      if (absl::Status s = add("model.norm.weight", ref); !s.ok()) return s;
      continue;
    }
    if (t.name == "output.weight") {
      if (absl::Status s = add("lm_head.weight", ref); !s.ok()) return s;
      continue;
    }
    // llama3 RoPE scaling as per-frequency factors: read into the config
    // (gguf_config.cc), not a weight.
    if (t.name == "rope_freqs.weight") continue;
    const std::vector<std::string> parts = absl::StrSplit(t.name, absl::MaxSplits('.', 2));
    int64_t layer = -1;
    if (parts.size() != 3 || parts[0] != "blk" || !absl::SimpleAtoi(parts[1], &layer) ||
        layer < 0 || layer >= c.num_hidden_layers) {
      return Unknown(f, t.name, "not a tensor of the supported architectures");
    }
    const std::string prefix = absl::StrCat("model.layers.", layer, ".");
    const std::string& suffix = parts[2];
    if (auto it = kLayer.find(suffix); it != kLayer.end()) {
      if (rope_permuted && (suffix == "attn_q.weight" || suffix == "attn_k.weight")) {
        ref.rope_heads = suffix == "attn_q.weight" ? c.num_attention_heads : c.num_key_value_heads;
      }
      if (suffix == "ffn_gate_inp_shexp.weight" && ref.shape.size() == 1) {
        ref.shape = {1, ref.shape[0]};  // HF keeps it as a [1, hidden] linear
      }
      if (absl::Status s = add(prefix + it->second, ref); !s.ok()) return s;
      continue;
    }
    if (auto it = kExperts.find(suffix); it != kExperts.end()) {
      if (t.dims.size() != 3) {
        return Unknown(f, t.name, absl::StrCat("stacked experts need 3 dims, got ", t.dims.size()));
      }
      const int64_t experts = t.dims[2];
      const int64_t per_expert = t.dims[0] * t.dims[1];
      const uint64_t bytes =
          static_cast<uint64_t>(per_expert / GgmlBlockElements(t.type) * GgmlBlockBytes(t.type));
      for (int64_t e = 0; e < experts; ++e) {
        GgufTensorRef slice = ref;
        slice.shape = {t.dims[1], t.dims[0]};
        slice.numel = per_expert;
        slice.byte_offset = static_cast<uint64_t>(e) * bytes;
        const std::string hf = absl::StrCat(prefix, mixtral ? "block_sparse_moe." : "mlp.",
                                            "experts.", e, ".", it->second);
        if (absl::Status s = add(hf, slice); !s.ok()) return s;
      }
      continue;
    }
    return Unknown(f, t.name, "not a tensor of the supported architectures");
  }
  return out;
}

}  // namespace inferd::engine
