// engine/model/transformer.cc
#include "engine/model/transformer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/check.h"
#include "common/memory_limit.h"
#include "kernels/ops.h"

namespace inferd::engine {

namespace {

#define INFERD_RETURN_IF_ERROR(expr)          \
  do {                                        \
    if (absl::Status s_ = (expr); !s_.ok()) { \
      return s_;                              \
    }                                         \
  } while (0)

// Most threads a load uses.
constexpr int64_t kLoadThreads = 8;

}  // namespace

Transformer::Transformer(const ModelConfig& config) : config_(config) {}

absl::StatusOr<std::unique_ptr<Transformer>> Transformer::Load(const ModelConfig& config,
                                                               const WeightStore& w, DType dtype) {
  // Sizes from config.json are checked against the checkpoint and the
  // machine before anything is sized from them.
  const double implied = config.MinParameterCount();
  const double stored = w.NumElements();
  if (implied > stored) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "config.json implies at least %.4g parameters (vocab_size %d, hidden_size %d, "
        "num_hidden_layers %d, num_attention_heads %d, num_key_value_heads %d, head_dim %d) but "
        "the checkpoint's tensors hold %.4g: config.json does not describe these weights",
        implied, config.vocab_size, config.hidden_size, config.num_hidden_layers,
        config.num_attention_heads, config.num_key_value_heads, config.head_dim, stored));
  }
  const double bytes = stored * static_cast<double>(kernels::DTypeSize(dtype));
  if (bytes > static_cast<double>(MemoryLimitBytes())) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the checkpoint's ", absl::StrFormat("%.4g", stored), " parameters need ",
                     FormatBytes(bytes), " as ", kernels::DTypeName(dtype), ", more than the ",
                     FormatBytes(static_cast<double>(MemoryLimitBytes())),
                     " of memory this machine (or container) has",
                     dtype == DType::kF32 ? " (--dtype bf16 halves it)" : ""));
  }
  std::unique_ptr<Transformer> t(new Transformer(config));
  t->dtype_ = dtype;
  const int64_t bytes_before = w.BytesLoaded();
  const int64_t hidden = config.hidden_size;
  const int64_t vocab = config.vocab_size;
  const int64_t q_dim = config.num_attention_heads * config.head_dim;
  const int64_t kv_dim = config.num_key_value_heads * config.head_dim;
  const int64_t inter = config.intermediate_size;
  t->inv_freq_ = config.RopeInvFreq();

  auto load = [&](const std::string& name, std::vector<int64_t> shape, Weight* out) {
    absl::StatusOr<Weight> loaded = w.Load(name, shape, dtype);
    if (!loaded.ok()) return loaded.status();
    *out = *std::move(loaded);
    return absl::OkStatus();
  };
  INFERD_RETURN_IF_ERROR(load("model.embed_tokens.weight", {vocab, hidden}, &t->embed_tokens_));
  INFERD_RETURN_IF_ERROR(AppendTensor(w, "model.norm.weight", {hidden}, &t->final_norm_));
  if (!config.tie_word_embeddings) {
    INFERD_RETURN_IF_ERROR(load("lm_head.weight", {vocab, hidden}, &t->lm_head_));
  }
  t->layers_.resize(config.num_hidden_layers);
  auto load_layer = [&](int64_t i) -> absl::Status {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    LayerWeights& l = t->layers_[i];
    INFERD_RETURN_IF_ERROR(AppendTensor(w, p + "input_layernorm.weight", {hidden}, &l.input_norm));
    INFERD_RETURN_IF_ERROR(
        AppendTensor(w, p + "post_attention_layernorm.weight", {hidden}, &l.post_attn_norm));
    {
      absl::StatusOr<Weight> qkv =
          w.LoadStacked({{p + "self_attn.q_proj.weight", {q_dim, hidden}},
                         {p + "self_attn.k_proj.weight", {kv_dim, hidden}},
                         {p + "self_attn.v_proj.weight", {kv_dim, hidden}}},
                        dtype);
      if (!qkv.ok()) return qkv.status();
      l.attn.qkv = *std::move(qkv);
    }
    if (config.attention_bias) {
      INFERD_RETURN_IF_ERROR(
          AppendTensor(w, p + "self_attn.q_proj.bias", {q_dim}, &l.attn.qkv_bias));
      INFERD_RETURN_IF_ERROR(
          AppendTensor(w, p + "self_attn.k_proj.bias", {kv_dim}, &l.attn.qkv_bias));
      INFERD_RETURN_IF_ERROR(
          AppendTensor(w, p + "self_attn.v_proj.bias", {kv_dim}, &l.attn.qkv_bias));
    }
    INFERD_RETURN_IF_ERROR(load(p + "self_attn.o_proj.weight", {hidden, q_dim}, &l.attn.o));
    if (config.qk_norm) {
      INFERD_RETURN_IF_ERROR(
          AppendTensor(w, p + "self_attn.q_norm.weight", {config.head_dim}, &l.q_norm));
      INFERD_RETURN_IF_ERROR(
          AppendTensor(w, p + "self_attn.k_norm.weight", {config.head_dim}, &l.k_norm));
    }
    if (config.IsMoeLayer(i)) {
      l.moe = std::make_unique<MoeMlpWeights>();
      INFERD_RETURN_IF_ERROR(LoadMoeMlp(config, w, i, dtype, l.moe.get()));
    } else {
      INFERD_RETURN_IF_ERROR(LoadDenseMlp(w, p + "mlp.", hidden, inter, dtype, &l.mlp));
    }
    return absl::OkStatus();
  };
  // Layers load in parallel: most of a load is the kernel zeroing fresh
  // pages and copying from the page cache, both of which scale with threads.
  // Errors are reported in layer order, whichever thread met them.
  std::vector<absl::Status> layer_status(config.num_hidden_layers);
  std::atomic<int64_t> next_layer{0};
  auto worker = [&] {
    for (int64_t i; (i = next_layer.fetch_add(1)) < config.num_hidden_layers;) {
      layer_status[i] = load_layer(i);
    }
  };
  std::vector<std::thread> threads;
  const int64_t workers = std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, kLoadThreads);
  for (int64_t k = 1; k < workers; ++k) {
    try {
      threads.emplace_back(worker);
    } catch (const std::system_error&) {
      break;  // fewer threads: the ones running (and this one) take the rest
    }
  }
  worker();
  for (std::thread& th : threads) th.join();
  for (const absl::Status& s : layer_status) INFERD_RETURN_IF_ERROR(s);
  // What the model holds: every tensor it loaded, the matrices in `dtype`,
  // the rest in fp32.
  t->weight_bytes_ = w.BytesLoaded() - bytes_before;
  return t;
}

void Transformer::EnsureWorkspace(int64_t n) {
  if (n <= capacity_) return;
  const int64_t hidden = config_.hidden_size;
  const int64_t q_dim = config_.num_attention_heads * config_.head_dim;
  residual_.resize(n * hidden);
  h_.resize(n * hidden);
  delta_.resize(n * hidden);
  qkv_.resize(n * (q_dim + 2 * kv_dim()));
  q_.resize(n * q_dim);
  k_.resize(n * kv_dim());
  v_.resize(n * kv_dim());
  attn_.resize(n * q_dim);
  selected_.resize(n * hidden);
  capacity_ = n;
}

void Transformer::Attention(const InputBatch& batch, int64_t layer, int32_t block_size,
                            KvCacheTensors* kv, const float* h, float* out) {
  const LayerWeights& l = layers_[layer];
  const int64_t n = batch.num_tokens();
  const int64_t hidden = config_.hidden_size;
  const int64_t head_dim = config_.head_dim;
  const int64_t q_dim = config_.num_attention_heads * head_dim;
  const int64_t kvd = kv_dim();
  const int64_t qkv_dim = q_dim + 2 * kvd;

  // [n, q_dim + 2 * kv_dim]
  kernels::Matmul(h, l.attn.qkv.data(), l.attn.qkv_bias.empty() ? nullptr : l.attn.qkv_bias.data(),
                  n, qkv_dim, hidden, qkv_.data(), l.attn.qkv.dtype());
  for (int64_t i = 0; i < n; ++i) {
    const float* row = qkv_.data() + i * qkv_dim;
    std::memcpy(q_.data() + i * q_dim, row, q_dim * sizeof(float));
    std::memcpy(k_.data() + i * kvd, row + q_dim, kvd * sizeof(float));
    std::memcpy(v_.data() + i * kvd, row + q_dim + kvd, kvd * sizeof(float));
  }
  if (config_.qk_norm) {  // per head: [n * heads, head_dim], in place
    const float eps = static_cast<float>(config_.rms_norm_eps);
    kernels::RmsNorm(q_.data(), l.q_norm.data(), n * config_.num_attention_heads, head_dim, eps,
                     q_.data());
    kernels::RmsNorm(k_.data(), l.k_norm.data(), n * config_.num_key_value_heads, head_dim, eps,
                     k_.data());
  }
  kernels::Rope(q_.data(), batch.positions.data(), n, config_.num_attention_heads, head_dim,
                inv_freq_.data());
  kernels::Rope(k_.data(), batch.positions.data(), n, config_.num_key_value_heads, head_dim,
                inv_freq_.data());
  kernels::WriteKvCache(k_.data(), v_.data(), batch.slot_mapping.data(), n, kvd, kv->k(layer),
                        kv->v(layer), kv->dtype());

  kernels::PagedAttentionParams p = BatchAttentionParams(
      batch, config_.num_attention_heads, config_.num_key_value_heads, head_dim, block_size);
  p.q = q_.data();
  p.k_cache = kv->k(layer);
  p.v_cache = kv->v(layer);
  p.kv_dtype = kv->dtype();
  p.out = attn_.data();
  kernels::PagedAttention(p);

  // [n, hidden]
  kernels::Matmul(attn_.data(), l.attn.o.data(), nullptr, n, hidden, q_dim, out, l.attn.o.dtype());
}

void Transformer::EnableExpertLoad() {
  if (config_.moe.num_experts == 0 || expert_load_ != nullptr) return;
  expert_load_ = std::make_unique<ExpertLoad>(config_.num_hidden_layers, config_.moe.num_experts);
}

void Transformer::Mlp(int64_t layer, int64_t n, const float* h, float* out) {
  const LayerWeights& l = layers_[layer];
  if (l.moe != nullptr) {
    RunMoeMlp(config_, *l.moe, layer, n, h, out, &moe_scratch_, expert_load_.get());
  } else {
    RunDenseMlp(l.mlp, n, config_.hidden_size, h, out, &dense_scratch_);
  }
}

void Transformer::Forward(const InputBatch& batch, int32_t block_size, KvCacheTensors* kv,
                          float* logits) {
  const int64_t n = batch.num_tokens();
  INFERD_CHECK_GT(n, 0);
  EnsureWorkspace(n);
  const int64_t hidden = config_.hidden_size;
  const float eps = static_cast<float>(config_.rms_norm_eps);

  // [n, hidden]
  kernels::Embedding(embed_tokens_.data(), config_.vocab_size, hidden, batch.token_ids.data(), n,
                     residual_.data(), embed_tokens_.dtype());
  kernels::RmsNorm(residual_.data(), layers_[0].input_norm.data(), n, hidden, eps, h_.data());
  for (int64_t layer = 0; layer < config_.num_hidden_layers; ++layer) {
    Attention(batch, layer, block_size, kv, h_.data(), delta_.data());
    kernels::AddRmsNorm(residual_.data(), delta_.data(), layers_[layer].post_attn_norm.data(), n,
                        hidden, eps, h_.data());
    Mlp(layer, n, h_.data(), delta_.data());
    const float* next_norm = layer + 1 < config_.num_hidden_layers
                                 ? layers_[layer + 1].input_norm.data()
                                 : final_norm_.data();
    kernels::AddRmsNorm(residual_.data(), delta_.data(), next_norm, n, hidden, eps, h_.data());
  }

  // Only the rows that sample need the LM head: [R, hidden] -> [R, vocab].
  const int64_t r = static_cast<int64_t>(batch.logits_rows.size());
  if (r == 0) return;
  for (int64_t i = 0; i < r; ++i) {
    std::memcpy(selected_.data() + i * hidden, h_.data() + batch.logits_rows[i] * hidden,
                hidden * sizeof(float));
  }
  const Weight& head = lm_head();
  kernels::Matmul(selected_.data(), head.data(), nullptr, r, config_.vocab_size, hidden, logits,
                  head.dtype());
}

}  // namespace inferd::engine
