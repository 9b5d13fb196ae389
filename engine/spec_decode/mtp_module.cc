// engine/spec_decode/mtp_module.cc
#include "engine/spec_decode/mtp_module.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/check.h"
#include "common/json_fields.h"
#include "engine/model/weight_store.h"
#include "kernels/ops.h"

namespace inferd::engine {
namespace {

using Json = nlohmann::json;

constexpr int64_t kMaxSize = std::numeric_limits<int32_t>::max();

// A size field in [1, kMaxSize]; `fallback` when absent (0: required).
absl::StatusOr<int64_t> ReadSize(const JsonFields& f, const char* key, int64_t fallback) {
  absl::StatusOr<std::optional<int64_t>> v = f.OptionalInt(key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) {
    if (fallback > 0) return fallback;
    return f.Error(key, "required field is missing");
  }
  if (**v <= 0 || **v > kMaxSize) {
    return f.Error(key,
                   absl::StrCat("must be a positive integer at most ", kMaxSize, ", got ", **v));
  }
  return **v;
}

// A positive number; `fallback` when absent.
absl::StatusOr<double> ReadPositive(const JsonFields& f, const char* key, double fallback) {
  absl::StatusOr<std::optional<double>> v = f.OptionalDouble(key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return fallback;
  if (!(**v > 0) || !std::isfinite(**v)) {
    return f.Error(key, absl::StrCat("must be a positive number, got ", **v));
  }
  return **v;
}

// Parses DIR/config.json into the layer's config (a copy of the target's
// with the layer's own sizes) and the tensor name prefix.
absl::Status ParseConfig(const std::string& dir, const ModelConfig& target, ModelConfig* c,
                         std::string* prefix) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<Json> j = ParseJson(*text, path);
  if (!j.ok()) return j.status();
  if (!j->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected a JSON object, got ", JsonTypeName(*j)));
  }
  JsonFields f(*j, path);
  const Json* archs = f.Find("architectures");
  if (archs == nullptr || !archs->is_array() || archs->empty() || !(*archs)[0].is_string()) {
    return f.Error("architectures", "expected a non-empty list of names (supported: LlamaMTP)");
  }
  if ((*archs)[0].get<std::string>() != "LlamaMTP") {
    return f.Error("architectures",
                   absl::StrCat("unknown MTP architecture ", (*archs)[0].get<std::string>(),
                                " (supported: LlamaMTP; --speculative-model must name an MTP "
                                "module directory)"));
  }
  *c = target;
  c->architecture = "LlamaMTP";
  c->model_type = "llama_mtp";
  c->num_hidden_layers = 1;
  c->moe = MoeConfig();
  c->qk_norm = false;

  absl::StatusOr<int64_t> depth = ReadSize(f, "num_nextn_predict_layers", 1);
  if (!depth.ok()) return depth.status();
  if (*depth != 1) {
    return f.Error("num_nextn_predict_layers",
                   absl::StrCat("only depth-1 MTP modules are supported, got ", *depth));
  }
  for (auto [key, want] : {std::pair<const char*, int64_t>{"hidden_size", target.hidden_size},
                           {"vocab_size", target.vocab_size}}) {
    absl::StatusOr<int64_t> v = ReadSize(f, key, 0);
    if (!v.ok()) return v.status();
    if (*v != want) {
      return f.Error(key, absl::StrCat(*v, " differs from the target model's ", key, " (", want,
                                       "): this module was trained for another model"));
    }
  }
  absl::StatusOr<int64_t> inter = ReadSize(f, "intermediate_size", 0);
  if (!inter.ok()) return inter.status();
  c->intermediate_size = *inter;
  absl::StatusOr<int64_t> heads = ReadSize(f, "num_attention_heads", 0);
  if (!heads.ok()) return heads.status();
  c->num_attention_heads = *heads;
  absl::StatusOr<int64_t> kv_heads = ReadSize(f, "num_key_value_heads", *heads);
  if (!kv_heads.ok()) return kv_heads.status();
  c->num_key_value_heads = *kv_heads;
  if (*heads % *kv_heads != 0) {
    return f.Error("num_key_value_heads", absl::StrCat(*kv_heads, " does not divide ",
                                                       "num_attention_heads (", *heads, ")"));
  }
  if (!f.Has("head_dim") && c->hidden_size % *heads != 0) {
    return f.Error("hidden_size",
                   absl::StrCat(c->hidden_size, " is not divisible by num_attention_heads (",
                                *heads, ") and head_dim is absent"));
  }
  absl::StatusOr<int64_t> head_dim = ReadSize(f, "head_dim", c->hidden_size / *heads);
  if (!head_dim.ok()) return head_dim.status();
  if (*head_dim % 2 != 0) {
    return f.Error("head_dim", absl::StrCat("must be even for RoPE, got ", *head_dim));
  }
  c->head_dim = *head_dim;
  absl::StatusOr<double> eps = ReadPositive(f, "rms_norm_eps", target.rms_norm_eps);
  if (!eps.ok()) return eps.status();
  c->rms_norm_eps = *eps;
  absl::StatusOr<double> theta = ReadPositive(f, "rope_theta", target.rope_theta);
  if (!theta.ok()) return theta.status();
  c->rope_theta = *theta;
  if (f.Has("rope_scaling")) {
    return f.Error("rope_scaling",
                   "is not supported for MTP modules (the module uses the target's RoPE "
                   "scaling); remove the field or set it to null");
  }
  absl::StatusOr<int64_t> max_pos =
      ReadSize(f, "max_position_embeddings", target.max_position_embeddings);
  if (!max_pos.ok()) return max_pos.status();
  c->max_position_embeddings = std::min(*max_pos, target.max_position_embeddings);
  c->attention_bias = false;
  if (absl::Status s = f.ReadBool("attention_bias", &c->attention_bias); !s.ok()) return s;
  bool shared = true;
  if (absl::Status s = f.ReadBool("shared_embedding_and_lm_head", &shared); !s.ok()) return s;
  if (!shared) {
    return f.Error("shared_embedding_and_lm_head",
                   "false is not supported: the module must use the target's embedding and LM "
                   "head");
  }
  absl::StatusOr<std::optional<std::string>> act = f.OptionalString("hidden_act");
  if (!act.ok()) return act.status();
  if (act->value_or("silu") != "silu") {
    return f.Error("hidden_act",
                   absl::StrCat("activation \"", **act, "\" is not supported (only silu)"));
  }
  absl::StatusOr<std::optional<std::string>> p = f.OptionalString("mtp_layer_prefix");
  if (!p.ok()) return p.status();
  *prefix = p->value_or(absl::StrCat("model.layers.", target.num_hidden_layers, "."));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<MtpModule>> MtpModule::Load(const std::string& dir,
                                                           const ModelConfig& target) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("MTP module directory ", dir, " not found"));
  }
  ModelConfig c;
  std::string prefix;
  if (absl::Status s = ParseConfig(dir, target, &c, &prefix); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<WeightStore>> w = WeightStore::Open(dir);
  if (!w.ok()) return w.status();

  std::unique_ptr<MtpModule> m(new MtpModule(c));
  m->inv_freq_ = c.RopeInvFreq();
  const int64_t hidden = c.hidden_size;
  const int64_t q_dim = c.num_attention_heads * c.head_dim;
  const int64_t kv_dim = m->kv_dim();
  const int64_t inter = c.intermediate_size;
  struct Want {
    const char* name;
    std::vector<int64_t> shape;
    std::vector<float>* dst;
  };
  std::vector<Want> wants = {
      {"enorm.weight", {hidden}, &m->enorm_},
      {"hnorm.weight", {hidden}, &m->hnorm_},
      {"eh_proj.weight", {hidden, 2 * hidden}, &m->eh_proj_},
      {"input_layernorm.weight", {hidden}, &m->input_norm_},
      {"self_attn.q_proj.weight", {q_dim, hidden}, &m->qkv_},
      {"self_attn.k_proj.weight", {kv_dim, hidden}, &m->qkv_},
      {"self_attn.v_proj.weight", {kv_dim, hidden}, &m->qkv_},
      {"self_attn.o_proj.weight", {hidden, q_dim}, &m->o_},
      {"post_attention_layernorm.weight", {hidden}, &m->post_attn_norm_},
      {"mlp.gate_proj.weight", {inter, hidden}, &m->gate_up_},
      {"mlp.up_proj.weight", {inter, hidden}, &m->gate_up_},
      {"mlp.down_proj.weight", {hidden, inter}, &m->down_},
      {"shared_head.norm.weight", {hidden}, &m->shared_head_norm_},
  };
  if (c.attention_bias) {
    wants.push_back({"self_attn.q_proj.bias", {q_dim}, &m->qkv_bias_});
    wants.push_back({"self_attn.k_proj.bias", {kv_dim}, &m->qkv_bias_});
    wants.push_back({"self_attn.v_proj.bias", {kv_dim}, &m->qkv_bias_});
  }
  std::set<std::string> expected;
  for (const Want& want : wants) {
    const std::string name = prefix + want.name;
    absl::StatusOr<std::vector<float>> t = (*w)->LoadF32(name, want.shape);
    if (!t.ok()) return t.status();
    want.dst->insert(want.dst->end(), t->begin(), t->end());
    expected.insert(name);
  }
  for (const std::string& name : (*w)->Names()) {
    if (expected.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          dir, ": unexpected tensor `", name, "` (a depth-1 MTP module holds only enorm, hnorm, ",
          "eh_proj, one decoder layer and shared_head.norm under mtp_layer_prefix \"", prefix,
          "\"; the embedding and LM head are the target's)"));
    }
  }
  return m;
}

void MtpModule::EnsureScratch(int64_t n) {
  if (n <= capacity_) return;
  const int64_t hidden = config_.hidden_size;
  const int64_t q_dim = config_.num_attention_heads * config_.head_dim;
  cat_.resize(n * 2 * hidden);
  residual_.resize(n * hidden);
  h_.resize(n * hidden);
  delta_.resize(n * hidden);
  qkv_out_.resize(n * (q_dim + 2 * kv_dim()));
  q_.resize(n * q_dim);
  k_.resize(n * kv_dim());
  v_.resize(n * kv_dim());
  attn_.resize(n * q_dim);
  gate_up_out_.resize(n * 2 * config_.intermediate_size);
  act_.resize(n * config_.intermediate_size);
  y_.resize(n * hidden);
  z_.resize(n * hidden);
  selected_.resize(n * hidden);
  capacity_ = n;
}

void MtpModule::Forward(const InputBatch& batch, const float* target_hidden,
                        const int32_t* next_tokens, WeightView embed, WeightView lm_head,
                        int32_t block_size, void* k_cache, void* v_cache,
                        const std::vector<int32_t>& logits_rows, float* logits, float* out_hidden) {
  const int64_t n = static_cast<int64_t>(batch.positions.size());
  INFERD_CHECK_GT(n, 0);
  INFERD_CHECK_EQ(static_cast<int64_t>(batch.slot_mapping.size()), n);
  INFERD_CHECK(batch.tree_mask.empty() || static_cast<int64_t>(batch.tree_mask.size()) == n);
  EnsureScratch(n);
  const int64_t hidden = config_.hidden_size;
  const int64_t vocab = config_.vocab_size;
  const int64_t head_dim = config_.head_dim;
  const int64_t q_dim = config_.num_attention_heads * head_dim;
  const int64_t kvd = kv_dim();
  const int64_t qkv_dim = q_dim + 2 * kvd;
  const int64_t inter = config_.intermediate_size;
  const float eps = static_cast<float>(config_.rms_norm_eps);

  // x = eh_proj(concat(enorm(embed(S[i+1])), hnorm(h_i))): [n, 2 * hidden] -> [n, hidden]
  kernels::Embedding(embed.data, vocab, hidden, next_tokens, n, delta_.data(), embed.dtype);
  kernels::RmsNorm(delta_.data(), enorm_.data(), n, hidden, eps, h_.data());
  kernels::RmsNorm(target_hidden, hnorm_.data(), n, hidden, eps, delta_.data());
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(cat_.data() + i * 2 * hidden, h_.data() + i * hidden, hidden * sizeof(float));
    std::memcpy(cat_.data() + i * 2 * hidden + hidden, delta_.data() + i * hidden,
                hidden * sizeof(float));
  }
  kernels::Matmul(cat_.data(), eh_proj_.data(), nullptr, n, hidden, 2 * hidden, residual_.data());

  // Attention: [n, hidden] -> [n, q_dim + 2 * kv_dim] -> [n, hidden]
  kernels::RmsNorm(residual_.data(), input_norm_.data(), n, hidden, eps, h_.data());
  kernels::Matmul(h_.data(), qkv_.data(), qkv_bias_.empty() ? nullptr : qkv_bias_.data(), n,
                  qkv_dim, hidden, qkv_out_.data());
  for (int64_t i = 0; i < n; ++i) {
    const float* row = qkv_out_.data() + i * qkv_dim;
    std::memcpy(q_.data() + i * q_dim, row, q_dim * sizeof(float));
    std::memcpy(k_.data() + i * kvd, row + q_dim, kvd * sizeof(float));
    std::memcpy(v_.data() + i * kvd, row + q_dim + kvd, kvd * sizeof(float));
  }
  kernels::Rope(q_.data(), batch.positions.data(), n, config_.num_attention_heads, head_dim,
                inv_freq_.data());
  kernels::Rope(k_.data(), batch.positions.data(), n, config_.num_key_value_heads, head_dim,
                inv_freq_.data());
  kernels::WriteKvCache(k_.data(), v_.data(), batch.slot_mapping.data(), n, kvd, k_cache, v_cache);
  kernels::PagedAttentionParams p = BatchAttentionParams(
      batch, config_.num_attention_heads, config_.num_key_value_heads, head_dim, block_size);
  p.q = q_.data();
  p.k_cache = k_cache;
  p.v_cache = v_cache;
  p.out = attn_.data();
  kernels::PagedAttention(p);
  kernels::Matmul(attn_.data(), o_.data(), nullptr, n, hidden, q_dim, delta_.data());
  kernels::AddRmsNorm(residual_.data(), delta_.data(), post_attn_norm_.data(), n, hidden, eps,
                      h_.data());

  // SwiGLU MLP: [n, hidden] -> [n, 2 * inter] -> [n, inter] -> [n, hidden]; y = residual + mlp
  kernels::Matmul(h_.data(), gate_up_.data(), nullptr, n, 2 * inter, hidden, gate_up_out_.data());
  kernels::SiluMul(gate_up_out_.data(), n, inter, act_.data());
  kernels::Matmul(act_.data(), down_.data(), nullptr, n, hidden, inter, delta_.data());
  kernels::Add(residual_.data(), delta_.data(), n * hidden, y_.data());
  // z = shared_head.norm(y): [n, hidden]
  float* z = out_hidden != nullptr ? out_hidden : z_.data();
  kernels::RmsNorm(y_.data(), shared_head_norm_.data(), n, hidden, eps, z);

  // Only the rows that draft need the head: [R, hidden] -> [R, vocab].
  const int64_t r = static_cast<int64_t>(logits_rows.size());
  if (r == 0) return;
  INFERD_CHECK_LE(r, n);
  for (int64_t i = 0; i < r; ++i) {
    INFERD_CHECK(logits_rows[i] >= 0 && logits_rows[i] < n) << "logits row " << logits_rows[i];
    std::memcpy(selected_.data() + i * hidden, z + logits_rows[i] * hidden, hidden * sizeof(float));
  }
  kernels::Matmul(selected_.data(), lm_head.data, nullptr, r, vocab, hidden, logits, lm_head.dtype);
}

}  // namespace inferd::engine
