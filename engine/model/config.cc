// engine/model/config.cc — config.json parsing and validation.
//
// Defaults follow HF transformers' LlamaConfig / MistralConfig / Qwen2Config
// for fields a config.json may omit; the core sizes are required.
#include "engine/model/config.h"

#include <array>
#include <cmath>
#include <filesystem>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_fields.h"
#include "engine/model/moe_config.h"

namespace inferd::engine {
namespace {

using Json = nlohmann::json;

// The Llama-family architectures this build runs, dense and MoE.
constexpr std::array<const char*, 6> kSupportedArchitectures = {
    "LlamaForCausalLM",   "MistralForCausalLM",  "Qwen2ForCausalLM",
    "MixtralForCausalLM", "Qwen2MoeForCausalLM", "Qwen3MoeForCausalLM"};

struct FamilyDefaults {
  const char* architecture;
  const char* model_type;
  int64_t max_position_embeddings;  // HF config class default
};
constexpr std::array<FamilyDefaults, 6> kFamilies = {{
    {"LlamaForCausalLM", "llama", 2048},
    {"MistralForCausalLM", "mistral", 4096 * 32},
    {"Qwen2ForCausalLM", "qwen2", 32768},
    {"MixtralForCausalLM", "mixtral", 4096 * 32},
    {"Qwen2MoeForCausalLM", "qwen2_moe", 32768},
    {"Qwen3MoeForCausalLM", "qwen3_moe", 32768},
}};

// Largest accepted size field: keeps every product of two sizes in int64.
constexpr int64_t kMaxSize = std::numeric_limits<int32_t>::max();

absl::StatusOr<std::string> ParseArchitecture(const JsonFields& f) {
  const Json* archs = f.Find("architectures");
  const std::string supported = absl::StrJoin(kSupportedArchitectures, ", ");
  if (archs == nullptr || !archs->is_array() || archs->empty() || !(*archs)[0].is_string()) {
    return f.Error("architectures", absl::StrCat("expected a non-empty list of architecture names "
                                                 "(supported: ",
                                                 supported, ")"));
  }
  std::string arch = (*archs)[0].get<std::string>();
  for (const char* a : kSupportedArchitectures) {
    if (arch == a) return arch;
  }
  return f.Error("architectures",
                 absl::StrCat("unknown architecture ", arch, " (supported: ", supported, ")"));
}

// Reads a required size field into *out: an integer in [1, kMaxSize].
absl::Status ReadSize(const JsonFields& f, absl::string_view key, int64_t* out) {
  absl::StatusOr<int64_t> v = f.Int(key);
  if (!v.ok()) return v.status();
  if (*v <= 0 || *v > kMaxSize) {
    return f.Error(key,
                   absl::StrCat("must be a positive integer at most ", kMaxSize, ", got ", *v));
  }
  *out = *v;
  return absl::OkStatus();
}

// Optional size field: keeps *out (the default) when absent.
absl::Status ReadOptionalSize(const JsonFields& f, absl::string_view key, int64_t* out) {
  if (!f.Has(key)) return absl::OkStatus();
  return ReadSize(f, key, out);
}

// Optional positive finite number: keeps *out when absent.
absl::Status ReadPositive(const JsonFields& f, absl::string_view key, double* out) {
  absl::StatusOr<std::optional<double>> v = f.OptionalDouble(key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return absl::OkStatus();
  if (**v <= 0) return f.Error(key, absl::StrCat("must be positive, got ", **v));
  *out = **v;
  return absl::OkStatus();
}

// rope_scaling: null / absent / {"rope_type" (or "type"): "default"} -> none;
// "llama3" with its four parameters; anything else is an error.
absl::Status ParseRopeScaling(const JsonFields& top, RopeScaling* out) {
  const Json* rs = top.Find("rope_scaling");
  *out = RopeScaling();
  if (rs == nullptr) return absl::OkStatus();
  if (!rs->is_object()) {
    return top.Error("rope_scaling",
                     absl::StrCat("expected an object or null, got ", JsonTypeName(*rs)));
  }
  JsonFields f(*rs, top.origin(), "rope_scaling.");
  std::optional<std::string> type;
  for (const char* key : {"rope_type", "type"}) {
    absl::StatusOr<std::optional<std::string>> t = f.OptionalString(key);
    if (!t.ok()) return t.status();
    if (t->has_value()) {
      type = **t;
      break;
    }
  }
  if (!type.has_value()) return f.Error("rope_type", "required field is missing");
  if (*type == "default") return absl::OkStatus();
  if (*type != "llama3") {
    return f.Error("rope_type", absl::StrCat("rope scaling type \"", *type,
                                             "\" is not supported (supported: default, llama3)"));
  }
  out->type = "llama3";
  for (auto [key, dst] : {std::pair<const char*, double*>{"factor", &out->factor},
                          {"low_freq_factor", &out->low_freq_factor},
                          {"high_freq_factor", &out->high_freq_factor}}) {
    if (!f.Has(key)) return f.Error(key, "required for rope_type llama3");
    if (absl::Status s = ReadPositive(f, key, dst); !s.ok()) return s;
  }
  if (!f.Has("original_max_position_embeddings")) {
    return f.Error("original_max_position_embeddings", "required for rope_type llama3");
  }
  if (absl::Status s =
          ReadSize(f, "original_max_position_embeddings", &out->original_max_position_embeddings);
      !s.ok()) {
    return s;
  }
  if (out->factor < 1.0) {
    return f.Error("factor", absl::StrCat("must be >= 1, got ", out->factor));
  }
  if (out->high_freq_factor <= out->low_freq_factor) {
    return f.Error("high_freq_factor",
                   absl::StrCat("must be greater than low_freq_factor (", out->low_freq_factor,
                                "), got ", out->high_freq_factor));
  }
  return absl::OkStatus();
}

// Sliding-window attention is not implemented; a window narrower than the
// context is honoured exactly by capping the context at the window.
absl::Status ApplySlidingWindow(const JsonFields& f, ModelConfig* c) {
  bool use_window =
      c->architecture == "MistralForCausalLM" || c->architecture == "MixtralForCausalLM";
  if (c->architecture == "Qwen2ForCausalLM" || c->architecture == "Qwen2MoeForCausalLM" ||
      c->architecture == "Qwen3MoeForCausalLM") {
    if (absl::Status s = f.ReadBool("use_sliding_window", &use_window); !s.ok()) return s;
  }
  if (!use_window || !f.Has("sliding_window")) return absl::OkStatus();
  absl::StatusOr<int64_t> window = f.Int("sliding_window");
  if (!window.ok()) return window.status();
  if (*window <= 0) return f.Error("sliding_window", "must be positive or null");
  c->max_position_embeddings = std::min(c->max_position_embeddings, *window);
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ParseObject(const Json& j, const std::string& origin) {
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": expected a JSON object, got ", JsonTypeName(j)));
  }
  JsonFields f(j, origin);
  ModelConfig c;
  absl::StatusOr<std::string> arch = ParseArchitecture(f);
  if (!arch.ok()) return arch.status();
  c.architecture = *arch;
  const FamilyDefaults* family = &kFamilies[0];
  for (const FamilyDefaults& fam : kFamilies) {
    if (c.architecture == fam.architecture) family = &fam;
  }
  absl::StatusOr<std::optional<std::string>> model_type = f.OptionalString("model_type");
  if (!model_type.ok()) return model_type.status();
  c.model_type = model_type->value_or(family->model_type);

  for (auto [key, dst] : {std::pair<const char*, int64_t*>{"vocab_size", &c.vocab_size},
                          {"hidden_size", &c.hidden_size},
                          {"intermediate_size", &c.intermediate_size},
                          {"num_hidden_layers", &c.num_hidden_layers},
                          {"num_attention_heads", &c.num_attention_heads}}) {
    if (absl::Status s = ReadSize(f, key, dst); !s.ok()) return s;
  }
  c.num_key_value_heads = c.num_attention_heads;
  if (absl::Status s = ReadOptionalSize(f, "num_key_value_heads", &c.num_key_value_heads);
      !s.ok()) {
    return s;
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return f.Error("num_key_value_heads",
                   absl::StrCat(c.num_key_value_heads, " does not divide num_attention_heads (",
                                c.num_attention_heads, ")"));
  }
  if (f.Has("head_dim")) {
    if (absl::Status s = ReadSize(f, "head_dim", &c.head_dim); !s.ok()) return s;
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      return f.Error("hidden_size",
                     absl::StrCat(c.hidden_size, " is not divisible by num_attention_heads (",
                                  c.num_attention_heads, ") and head_dim is absent"));
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) {
    return f.Error("head_dim", absl::StrCat("must be even for RoPE, got ", c.head_dim));
  }
  c.max_position_embeddings = family->max_position_embeddings;
  if (absl::Status s = ReadOptionalSize(f, "max_position_embeddings", &c.max_position_embeddings);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ReadPositive(f, "rms_norm_eps", &c.rms_norm_eps); !s.ok()) return s;
  if (absl::Status s = ReadPositive(f, "rope_theta", &c.rope_theta); !s.ok()) return s;
  if (absl::Status s = ParseRopeScaling(f, &c.rope_scaling); !s.ok()) return s;
  if (absl::Status s = ApplySlidingWindow(f, &c); !s.ok()) return s;

  if (c.architecture == "Qwen2ForCausalLM" || c.model_type == "qwen2" ||
      c.architecture == "Qwen2MoeForCausalLM") {
    c.attention_bias = true;  // Qwen2 (and Qwen2-MoE) always have q/k/v biases
    if (c.architecture == "Qwen2MoeForCausalLM") {
      if (absl::Status s = f.ReadBool("qkv_bias", &c.attention_bias); !s.ok()) return s;
    }
  } else if (c.architecture == "LlamaForCausalLM" || c.architecture == "Qwen3MoeForCausalLM") {
    if (absl::Status s = f.ReadBool("attention_bias", &c.attention_bias); !s.ok()) return s;
  }  // Mistral, Mixtral: never (HF ignores the field)
  c.qk_norm = c.architecture == "Qwen3MoeForCausalLM";
  if (absl::Status s = ParseMoeConfig(f, &c); !s.ok()) return s;
  bool mlp_bias = false;
  if (absl::Status s = f.ReadBool("mlp_bias", &mlp_bias); !s.ok()) return s;
  if (mlp_bias) return f.Error("mlp_bias", "MLP biases are not supported");
  if (absl::Status s = f.ReadBool("tie_word_embeddings", &c.tie_word_embeddings); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::optional<std::string>> act = f.OptionalString("hidden_act");
  if (!act.ok()) return act.status();
  c.hidden_act = act->value_or("silu");
  if (c.hidden_act != "silu") {
    return f.Error("hidden_act",
                   absl::StrCat("activation \"", c.hidden_act, "\" is not supported (only silu)"));
  }
  for (const char* key : {"torch_dtype", "dtype"}) {
    absl::StatusOr<std::optional<std::string>> dtype = f.OptionalString(key);
    if (!dtype.ok()) return dtype.status();
    if (dtype->has_value()) {
      c.torch_dtype = **dtype;
      break;
    }
  }
  absl::StatusOr<std::vector<int32_t>> bos = f.TokenIds("bos_token_id");
  if (!bos.ok()) return bos.status();
  c.bos_token_ids = *std::move(bos);
  absl::StatusOr<std::vector<int32_t>> eos = f.TokenIds("eos_token_id");
  if (!eos.ok()) return eos.status();
  c.eos_token_ids = *std::move(eos);
  return c;
}

}  // namespace

absl::StatusOr<ModelConfig> ModelConfig::Parse(const std::string& json_text,
                                               const std::string& origin) {
  absl::StatusOr<Json> j = ParseJson(json_text, origin);
  if (!j.ok()) return j.status();
  try {
    return ParseObject(*j, origin);
  } catch (const Json::exception& e) {  // defensive: the readers check types first
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", e.what()));
  }
}

double ModelConfig::MinParameterCount() const {
  const double hidden = static_cast<double>(hidden_size);
  const double q_dim = static_cast<double>(num_attention_heads) * static_cast<double>(head_dim);
  const double kv_dim = static_cast<double>(num_key_value_heads) * static_cast<double>(head_dim);
  double per_layer = 2 * q_dim * hidden + 2 * kv_dim * hidden + 2 * hidden;
  if (moe.num_experts > 0) per_layer += static_cast<double>(moe.num_experts) * hidden;
  return static_cast<double>(vocab_size) * hidden +
         static_cast<double>(num_hidden_layers) * per_layer;
}

absl::StatusOr<ModelConfig> ModelConfig::FromDirectory(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  return Parse(*text, path);
}

}  // namespace inferd::engine
