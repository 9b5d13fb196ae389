// engine/model/moe_config.cc
#include "engine/model/moe_config.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace inferd::engine {
namespace {

constexpr int64_t kMaxExperts = 1 << 16;

absl::Status ReadCount(const JsonFields& f, absl::string_view key, int64_t max, int64_t* out) {
  absl::StatusOr<int64_t> v = f.Int(key);
  if (!v.ok()) return v.status();
  if (*v < 1 || *v > max) {
    return f.Error(key, absl::StrCat("must be an integer in [1, ", max, "], got ", *v));
  }
  *out = *v;
  return absl::OkStatus();
}

absl::Status ReadLayerList(const JsonFields& f, absl::string_view key, int64_t num_layers,
                           std::vector<int64_t>* out) {
  const nlohmann::json* v = f.Find(key);
  if (v == nullptr || v->is_null()) return absl::OkStatus();
  if (!v->is_array()) return f.Error(key, "expected a list of layer indices");
  for (const nlohmann::json& e : *v) {
    if (!e.is_number_integer() || e.get<int64_t>() < 0 || e.get<int64_t>() >= num_layers) {
      return f.Error(key, absl::StrCat("entries must be layer indices in [0, ", num_layers, ")"));
    }
    out->push_back(e.get<int64_t>());
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseMoeConfig(const JsonFields& f, ModelConfig* c) {
  MoeConfig& m = c->moe;
  m = MoeConfig();
  const int64_t kMaxSize = std::numeric_limits<int32_t>::max();
  if (c->architecture == "MixtralForCausalLM") {
    if (absl::Status s = ReadCount(f, "num_local_experts", kMaxExperts, &m.num_experts); !s.ok()) {
      return s;
    }
    m.expert_intermediate_size = c->intermediate_size;
    m.norm_topk_prob = true;
  } else if (c->architecture == "Qwen2MoeForCausalLM" || c->architecture == "Qwen3MoeForCausalLM") {
    if (absl::Status s = ReadCount(f, "num_experts", kMaxExperts, &m.num_experts); !s.ok()) {
      return s;
    }
    if (absl::Status s =
            ReadCount(f, "moe_intermediate_size", kMaxSize, &m.expert_intermediate_size);
        !s.ok()) {
      return s;
    }
    m.norm_topk_prob = false;  // HF Qwen2MoeConfig / Qwen3MoeConfig default
    if (absl::Status s = f.ReadBool("norm_topk_prob", &m.norm_topk_prob); !s.ok()) {
      return s;
    }
    if (f.Has("decoder_sparse_step")) {
      if (absl::Status s =
              ReadCount(f, "decoder_sparse_step", c->num_hidden_layers, &m.decoder_sparse_step);
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s =
            ReadLayerList(f, "mlp_only_layers", c->num_hidden_layers, &m.mlp_only_layers);
        !s.ok()) {
      return s;
    }
    if (c->architecture == "Qwen2MoeForCausalLM") {
      if (absl::Status s = ReadCount(f, "shared_expert_intermediate_size", kMaxSize,
                                     &m.shared_expert_intermediate_size);
          !s.ok()) {
        return s;
      }
    } else if (f.Has("shared_expert_intermediate_size")) {
      return f.Error("shared_expert_intermediate_size",
                     "Qwen3MoeForCausalLM has no shared expert; this MoE variant is not supported");
    }
  } else {
    return absl::OkStatus();  // dense
  }
  if (absl::Status s = ReadCount(f, "num_experts_per_tok", m.num_experts, &m.num_experts_per_tok);
      !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

bool ModelConfig::IsMoeLayer(int64_t layer) const {
  if (moe.num_experts == 0) return false;
  if (std::find(moe.mlp_only_layers.begin(), moe.mlp_only_layers.end(), layer) !=
      moe.mlp_only_layers.end()) {
    return false;
  }
  return (layer + 1) % moe.decoder_sparse_step == 0;
}

}  // namespace inferd::engine
