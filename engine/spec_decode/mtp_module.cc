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
#include "engine/backend/cpu_backend.h"
#include "engine/model/weight_store.h"

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
                                                           const ModelConfig& target, DType dtype,
                                                           std::shared_ptr<Backend> backend) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("MTP module directory ", dir, " not found"));
  }
  ModelConfig c;
  std::string prefix;
  if (absl::Status s = ParseConfig(dir, target, &c, &prefix); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<WeightStore>> w = WeightStore::Open(dir);
  if (!w.ok()) return w.status();
  const WeightStore& store = **w;
  // The layer normalises q and k per head when the module holds the norms
  // (a Qwen3-style target), whatever the target does.
  c.qk_norm = store.Has(prefix + "self_attn.q_norm.weight") ||
              store.Has(prefix + "self_attn.k_norm.weight");

  if (backend == nullptr) backend = CpuBackend::Create();
  std::unique_ptr<MtpModule> m(new MtpModule(c, std::move(backend)));
  Backend& b = *m->backend_;
  const int64_t hidden = c.hidden_size;
  const std::vector<float> inv_freq = c.RopeInvFreq();
  absl::StatusOr<Tensor> f =
      b.FromHost(inv_freq, {static_cast<int64_t>(inv_freq.size())}, DType::kF32);
  if (!f.ok()) return f.status();
  m->inv_freq_ = *std::move(f);
  for (auto [name, dst] : {std::pair<const char*, Weight*>{"enorm.weight", &m->enorm_},
                           {"hnorm.weight", &m->hnorm_},
                           {"shared_head.norm.weight", &m->shared_head_norm_}}) {
    if (absl::Status s = MoveInto(LoadF32Weight(store, b, {{prefix + name, {hidden}}}), dst);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s =
          MoveInto(LoadWeight(store, b, prefix + "eh_proj.weight", {hidden, 2 * hidden}, dtype),
                   &m->eh_proj_);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = LoadDecoderLayer(c, store, b, prefix, 0, dtype, &m->layer_); !s.ok()) {
    return s;
  }

  std::set<std::string> expected;
  for (const char* name :
       {"enorm.weight", "hnorm.weight", "eh_proj.weight", "input_layernorm.weight",
        "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
        "self_attn.o_proj.weight", "post_attention_layernorm.weight", "mlp.gate_proj.weight",
        "mlp.up_proj.weight", "mlp.down_proj.weight", "shared_head.norm.weight"}) {
    expected.insert(prefix + name);
  }
  if (c.attention_bias) {
    for (const char* name :
         {"self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias"}) {
      expected.insert(prefix + name);
    }
  }
  if (c.qk_norm) {
    expected.insert(prefix + "self_attn.q_norm.weight");
    expected.insert(prefix + "self_attn.k_norm.weight");
  }
  for (const std::string& name : store.Names()) {
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
  EnsureRows(*backend_, n, 2 * hidden, &cat_);
  EnsureRows(*backend_, n, hidden, &residual_);
  EnsureRows(*backend_, n, hidden, &h_);
  EnsureRows(*backend_, n, hidden, &delta_);
  EnsureRows(*backend_, n, hidden, &selected_);
  capacity_ = n;
}

void MtpModule::Forward(const InputBatch& batch, TensorView target_hidden, IndexView next_tokens,
                        TensorView embed, TensorView lm_head, KvLayerView kv,
                        const std::vector<int32_t>& logits_rows, TensorView logits,
                        TensorView out_hidden) {
  const int64_t n = static_cast<int64_t>(batch.positions.size());
  INFERD_CHECK_GT(n, 0);
  INFERD_CHECK_EQ(static_cast<int64_t>(batch.slot_mapping.size()), n);
  INFERD_CHECK(batch.tree_mask.empty() || static_cast<int64_t>(batch.tree_mask.size()) == n);
  INFERD_CHECK_EQ(next_tokens.size, n);
  INFERD_CHECK_EQ(target_hidden.rows(), n);
  EnsureScratch(n);
  last_rows_ = n;
  Backend& b = *backend_;
  const int64_t hidden = config_.hidden_size;
  const float eps = static_cast<float>(config_.rms_norm_eps);
  const StepInputs in = b.Upload(batch);
  const TensorView cat = cat_.view().Rows(0, n);
  const TensorView residual = residual_.view().Rows(0, n);
  const TensorView h = h_.view().Rows(0, n);
  const TensorView delta = delta_.view().Rows(0, n);

  // x = eh_proj(concat(enorm(embed(S[i+1])), hnorm(h_i))): [n, 2 * hidden] -> [n, hidden]
  b.Embedding(embed, next_tokens, delta);
  b.RmsNorm(delta, enorm_.view(), eps, h);
  b.RmsNorm(target_hidden, hnorm_.view(), eps, delta);
  b.CopyColumns(h, 0, cat, 0, hidden);
  b.CopyColumns(delta, 0, cat, hidden, hidden);
  b.Matmul(cat, eh_proj_.view(), TensorView(), residual);

  // The decoder layer; its closing norm is shared_head.norm, so afterwards
  // residual = y and h = z = shared_head.norm(y).
  b.RmsNorm(residual, layer_.input_norm.view(), eps, h);
  RunDecoderLayer(b, config_, layer_, 0, in, kv, inv_freq_.view(), shared_head_norm_.view(),
                  residual, h, &layer_scratch_, nullptr);
  if (!out_hidden.empty()) b.CopyColumns(h, 0, out_hidden, 0, hidden);

  // Only the rows that draft need the head: [R, hidden] -> [R, vocab].
  const int64_t r = static_cast<int64_t>(logits_rows.size());
  if (r == 0) return;
  INFERD_CHECK_LE(r, n);
  for (int64_t i = 0; i < r; ++i) {
    INFERD_CHECK(logits_rows[i] >= 0 && logits_rows[i] < n) << "logits row " << logits_rows[i];
  }
  const TensorView selected = selected_.view().Rows(0, r);
  b.GatherRows(h, b.UploadIndices(logits_rows, 0), selected);
  b.Matmul(selected, lm_head, TensorView(), logits.Rows(0, r));
}

}  // namespace inferd::engine
