// engine/model/gguf_config.cc
#include "engine/model/gguf_config.h"

#include <cmath>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace inferd::engine {
namespace {

using Json = nlohmann::json;

struct ArchNames {
  const char* gguf;
  const char* hf_arch;
  const char* model_type;
};
constexpr ArchNames kArchs[] = {
    {"llama", "LlamaForCausalLM", "llama"},
    {"qwen2", "Qwen2ForCausalLM", "qwen2"},
    {"qwen2moe", "Qwen2MoeForCausalLM", "qwen2_moe"},
    {"qwen3moe", "Qwen3MoeForCausalLM", "qwen3_moe"},
};

absl::Status KeyError(const GgufFile& f, const std::string& key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(f.path(), ": metadata `", key, "`: ", what));
}

// An integer key: absent -> nullopt; present but not an integer -> error.
absl::StatusOr<std::optional<int64_t>> Int(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.Find(key);
  if (v == nullptr) return std::optional<int64_t>();
  std::optional<int64_t> i = v->AsInt();
  if (!i.has_value()) {
    return KeyError(f, key, absl::StrCat("expected an integer, got ", GgufValueTypeName(v->type)));
  }
  return i;
}

absl::StatusOr<std::optional<double>> Number(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.Find(key);
  if (v == nullptr) return std::optional<double>();
  std::optional<double> d = v->AsDouble();
  if (!d.has_value()) {
    return KeyError(f, key, absl::StrCat("expected a number, got ", GgufValueTypeName(v->type)));
  }
  return d;
}

}  // namespace

absl::StatusOr<ModelConfig> ModelConfigFromGguf(const GgufFile& f) {
  const GgufValue* arch_value = f.Find("general.architecture");
  if (arch_value == nullptr || arch_value->type != GgufValueType::kString) {
    return KeyError(f, "general.architecture", "missing or not a string");
  }
  const std::string& arch = arch_value->str;
  const ArchNames* names = nullptr;
  for (const ArchNames& a : kArchs) {
    if (arch == a.gguf) names = &a;
  }
  if (names == nullptr) {
    return KeyError(f, "general.architecture",
                    absl::StrCat("architecture \"", arch,
                                 "\" is not supported (supported: llama, qwen2, qwen2moe, "
                                 "qwen3moe)"));
  }
  Json j;
  std::string hf_arch = names->hf_arch;
  std::string model_type = names->model_type;
  // Every size the config needs, with the GGUF key it comes from.
  struct Field {
    const char* suffix;
    const char* json;
    bool required;
  };
  const Field kFields[] = {
      {"embedding_length", "hidden_size", true},
      {"block_count", "num_hidden_layers", true},
      {"feed_forward_length", "intermediate_size", false},
      {"attention.head_count", "num_attention_heads", true},
      {"attention.head_count_kv", "num_key_value_heads", false},
      {"attention.key_length", "head_dim", false},
      {"context_length", "max_position_embeddings", false},
  };
  for (const Field& field : kFields) {
    const std::string key = absl::StrCat(arch, ".", field.suffix);
    absl::StatusOr<std::optional<int64_t>> v = Int(f, key);
    if (!v.ok()) return v.status();
    if (!v->has_value()) {
      if (field.required) return KeyError(f, key, "required key is missing");
      continue;
    }
    j[field.json] = **v;
  }
  if (const std::string key = arch + ".attention.value_length"; f.Find(key) != nullptr) {
    absl::StatusOr<std::optional<int64_t>> v = Int(f, key);
    if (!v.ok()) return v.status();
    if (j.contains("head_dim") && **v != j["head_dim"].get<int64_t>()) {
      return KeyError(f, key, "differs from attention.key_length (not supported)");
    }
  }
  for (auto [suffix, json] :
       {std::pair<const char*, const char*>{"attention.layer_norm_rms_epsilon", "rms_norm_eps"},
        {"rope.freq_base", "rope_theta"}}) {
    absl::StatusOr<std::optional<double>> v = Number(f, absl::StrCat(arch, ".", suffix));
    if (!v.ok()) return v.status();
    if (v->has_value()) j[json] = **v;
  }
  if (!j.contains("rope_theta")) j["rope_theta"] = 10000.0;
  // RoPE scaling: llama.cpp writes llama3's as a rope_freqs tensor (one
  // divisor per frequency, read below), others as rope.scaling.* keys (not
  // read yet).
  if (const GgufValue* s = f.Find(arch + ".rope.scaling.type");
      s != nullptr && !(s->type == GgufValueType::kString && s->str == "none")) {
    return KeyError(f, arch + ".rope.scaling.type", "RoPE scaling is not supported");
  }
  // Vocabulary: <arch>.vocab_size, else the token list, else the embedding.
  absl::StatusOr<std::optional<int64_t>> vocab = Int(f, arch + ".vocab_size");
  if (!vocab.ok()) return vocab.status();
  if (vocab->has_value()) {
    j["vocab_size"] = **vocab;
  } else if (const GgufValue* t = f.Find("tokenizer.ggml.tokens");
             t != nullptr && t->type == GgufValueType::kArray) {
    j["vocab_size"] = static_cast<int64_t>(t->array.size());
  } else if (const GgufTensorInfo* e = f.FindTensor("token_embd.weight");
             e != nullptr && e->dims.size() == 2) {
    j["vocab_size"] = e->dims[1];
  }
  j["tie_word_embeddings"] = f.FindTensor("output.weight") == nullptr;
  for (auto [key, json] :
       {std::pair<const char*, const char*>{"tokenizer.ggml.bos_token_id", "bos_token_id"},
        {"tokenizer.ggml.eos_token_id", "eos_token_id"}}) {
    absl::StatusOr<std::optional<int64_t>> v = Int(f, key);
    if (!v.ok()) return v.status();
    if (v->has_value()) j[json] = **v;
  }
  // Mixture of experts.
  absl::StatusOr<std::optional<int64_t>> experts = Int(f, arch + ".expert_count");
  if (!experts.ok()) return experts.status();
  if (experts->has_value() && **experts > 0) {
    absl::StatusOr<std::optional<int64_t>> used = Int(f, arch + ".expert_used_count");
    if (!used.ok()) return used.status();
    if (!used->has_value())
      return KeyError(f, arch + ".expert_used_count", "required with experts");
    j["num_experts_per_tok"] = **used;
    if (arch == "llama") {  // llama.cpp's converter writes Mixtral as llama with experts
      hf_arch = "MixtralForCausalLM";
      model_type = "mixtral";
      j["num_local_experts"] = **experts;
    } else {
      j["num_experts"] = **experts;
      absl::StatusOr<std::optional<int64_t>> ff = Int(f, arch + ".expert_feed_forward_length");
      if (!ff.ok()) return ff.status();
      if (!ff->has_value()) {
        return KeyError(f, arch + ".expert_feed_forward_length", "required with experts");
      }
      j["moe_intermediate_size"] = **ff;
      if (!j.contains("intermediate_size")) j["intermediate_size"] = **ff;
      absl::StatusOr<std::optional<int64_t>> shared =
          Int(f, arch + ".expert_shared_feed_forward_length");
      if (!shared.ok()) return shared.status();
      if (shared->has_value()) j["shared_expert_intermediate_size"] = **shared;
      // Qwen2-MoE does not renormalise its top-k weights; Qwen3-MoE does.
      j["norm_topk_prob"] = arch == "qwen3moe";
      // Dense layers are those without a router.
      Json dense = Json::array();
      const int64_t layers = j["num_hidden_layers"].get<int64_t>();
      for (int64_t l = 0; l < layers && l < (int64_t{1} << 20); ++l) {
        if (f.FindTensor(absl::StrCat("blk.", l, ".ffn_gate_inp.weight")) == nullptr) {
          dense.push_back(l);
        }
      }
      if (!dense.empty()) j["mlp_only_layers"] = dense;
    }
  }
  j["architectures"] = Json::array({hf_arch});
  j["model_type"] = model_type;
  j["hidden_act"] = "silu";
  absl::StatusOr<ModelConfig> config = ModelConfig::Parse(j.dump(), f.path());
  if (!config.ok()) return config.status();
  if (const GgufTensorInfo* t = f.FindTensor("rope_freqs.weight"); t != nullptr) {
    const int64_t half = config->head_dim / 2;
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat(f.path(), ": tensor `rope_freqs.weight` (RoPE frequency factors): ", why));
    };
    if (t->type != GgmlType::kF32) return bad("type must be F32");
    if (t->dims.size() != 1 || t->dims[0] != half) {
      return bad(absl::StrCat("shape must be [", half, "] (head_dim / 2)"));
    }
    const uint8_t* data = f.TensorData(*t);
    config->rope_freq_factors.resize(static_cast<size_t>(half));
    std::memcpy(config->rope_freq_factors.data(), data, static_cast<size_t>(half) * sizeof(float));
    for (int64_t i = 0; i < half; ++i) {
      const float v = config->rope_freq_factors[i];
      if (!std::isfinite(v) || v <= 0.0f) {
        return bad(absl::StrCat("factor ", i, " is ", v, ", not a positive finite number"));
      }
    }
  }
  return config;
}

absl::StatusOr<GenerationConfig> GenerationConfigFromGguf(const GgufFile& f) {
  GenerationConfig g;
  absl::StatusOr<std::optional<int64_t>> bos = Int(f, "tokenizer.ggml.bos_token_id");
  if (!bos.ok()) return bos.status();
  absl::StatusOr<std::optional<int64_t>> eos = Int(f, "tokenizer.ggml.eos_token_id");
  if (!eos.ok()) return eos.status();
  constexpr int64_t kMaxId = (int64_t{1} << 31) - 1;
  if (bos->has_value()) {
    if (**bos < 0 || **bos > kMaxId) {
      return KeyError(f, "tokenizer.ggml.bos_token_id", "not a token id");
    }
    g.bos_token_id = static_cast<int32_t>(**bos);
  }
  if (eos->has_value()) {
    if (**eos < 0 || **eos > kMaxId) {
      return KeyError(f, "tokenizer.ggml.eos_token_id", "not a token id");
    }
    g.eos_token_ids.push_back(static_cast<int32_t>(**eos));
  }
  return g;
}

}  // namespace inferd::engine
