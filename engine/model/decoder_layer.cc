// engine/model/decoder_layer.cc
#include "engine/model/decoder_layer.h"

#include <cmath>
#include <utility>

#include "common/check.h"

namespace inferd::engine {

namespace {

void EnsureScratch(Backend& backend, const ModelConfig& c, int64_t n, DecoderLayerScratch* s) {
  if (n <= s->capacity) return;
  const int64_t hidden = c.hidden_size;
  const int64_t q_dim = c.num_attention_heads * c.head_dim;
  const int64_t kv_dim = c.num_key_value_heads * c.head_dim;
  EnsureRows(backend, n, hidden, &s->delta);
  EnsureRows(backend, n, q_dim + 2 * kv_dim, &s->qkv);
  EnsureRows(backend, n, q_dim, &s->q);
  EnsureRows(backend, n, kv_dim, &s->k);
  EnsureRows(backend, n, kv_dim, &s->v);
  EnsureRows(backend, n, q_dim, &s->attn);
  s->capacity = n;
}

}  // namespace

absl::Status LoadDecoderLayer(const ModelConfig& c, const WeightStore& w, Backend& backend,
                              const std::string& p, int64_t layer, WeightDType dtype,
                              DecoderLayerWeights* out) {
  const int64_t hidden = c.hidden_size;
  const int64_t q_dim = c.num_attention_heads * c.head_dim;
  const int64_t kv_dim = c.num_key_value_heads * c.head_dim;
  if (absl::Status s = MoveInto(
          LoadF32Weight(w, backend, {{p + "input_layernorm.weight", {hidden}}}), &out->input_norm);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          MoveInto(LoadF32Weight(w, backend, {{p + "post_attention_layernorm.weight", {hidden}}}),
                   &out->post_attn_norm);
      !s.ok()) {
    return s;
  }
  const std::vector<WeightStore::Part> qkv = {{p + "self_attn.q_proj.weight", {q_dim, hidden}},
                                              {p + "self_attn.k_proj.weight", {kv_dim, hidden}},
                                              {p + "self_attn.v_proj.weight", {kv_dim, hidden}}};
  if (StoredInMixedTypes(w, qkv, dtype)) {  // e.g. Q4_K_M's Q4_K q/k and Q6_K v
    for (const WeightStore::Part& part : qkv) {
      out->attn.qkv_parts.emplace_back();
      if (absl::Status s = MoveInto(LoadWeight(w, backend, part.name, part.shape, dtype),
                                    &out->attn.qkv_parts.back());
          !s.ok()) {
        return s;
      }
    }
  } else if (absl::Status s = MoveInto(LoadStackedWeight(w, backend, qkv, dtype), &out->attn.qkv);
             !s.ok()) {
    return s;
  }
  if (c.attention_bias) {
    if (absl::Status s = MoveInto(LoadF32Weight(w, backend,
                                                {{p + "self_attn.q_proj.bias", {q_dim}},
                                                 {p + "self_attn.k_proj.bias", {kv_dim}},
                                                 {p + "self_attn.v_proj.bias", {kv_dim}}}),
                                  &out->attn.qkv_bias);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s =
          MoveInto(LoadWeight(w, backend, p + "self_attn.o_proj.weight", {hidden, q_dim}, dtype),
                   &out->attn.o);
      !s.ok()) {
    return s;
  }
  if (c.qk_norm) {
    if (absl::Status s =
            MoveInto(LoadF32Weight(w, backend, {{p + "self_attn.q_norm.weight", {c.head_dim}}}),
                     &out->attn.q_norm);
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            MoveInto(LoadF32Weight(w, backend, {{p + "self_attn.k_norm.weight", {c.head_dim}}}),
                     &out->attn.k_norm);
        !s.ok()) {
      return s;
    }
  }
  if (c.IsMoeLayer(layer)) {
    out->moe = std::make_unique<MoeMlpWeights>();
    return LoadMoeMlp(c, w, backend, layer, dtype, out->moe.get());
  }
  return LoadDenseMlp(w, backend, p + "mlp.", hidden, c.intermediate_size, dtype, &out->mlp);
}

void RunDecoderLayer(Backend& backend, const ModelConfig& c, const DecoderLayerWeights& w,
                     int64_t layer, const StepInputs& in, KvLayerView kv, TensorView inv_freq,
                     TensorView next_norm, TensorView residual, TensorView h,
                     DecoderLayerScratch* s, ExpertLoad* load) {
  const int64_t n = h.rows();
  INFERD_CHECK_EQ(n, in.num_tokens);
  EnsureScratch(backend, c, n, s);
  const int64_t head_dim = c.head_dim;
  const int64_t q_heads = c.num_attention_heads;
  const int64_t kv_heads = c.num_key_value_heads;
  const int64_t q_dim = q_heads * head_dim;
  const int64_t kv_dim = kv_heads * head_dim;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const TensorView delta = s->delta.view().Rows(0, n);
  const TensorView qkv = s->qkv.view().Rows(0, n);
  const TensorView q = s->q.view().Rows(0, n);
  const TensorView k = s->k.view().Rows(0, n);
  const TensorView v = s->v.view().Rows(0, n);
  const TensorView attn = s->attn.view().Rows(0, n);

  // Attention: [n, hidden] -> [n, q_dim + 2 * kv_dim] -> q, k, v -> [n, q_dim] -> [n, hidden]
  if (w.attn.qkv_parts.empty()) {
    backend.Matmul(h, w.attn.qkv.view(), w.attn.qkv_bias.view(), qkv);
    backend.CopyColumns(qkv, 0, q, 0, q_dim);
    backend.CopyColumns(qkv, q_dim, k, 0, kv_dim);
    backend.CopyColumns(qkv, q_dim + kv_dim, v, 0, kv_dim);
  } else {  // the same columns, one matmul each (the bias's matching rows)
    const TensorView bias = w.attn.qkv_bias.view();
    auto bias_rows = [&](int64_t begin, int64_t count) {
      return bias.empty() ? TensorView() : bias.Rows(begin, count);
    };
    backend.Matmul(h, w.attn.qkv_parts[0].view(), bias_rows(0, q_dim), q);
    backend.Matmul(h, w.attn.qkv_parts[1].view(), bias_rows(q_dim, kv_dim), k);
    backend.Matmul(h, w.attn.qkv_parts[2].view(), bias_rows(q_dim + kv_dim, kv_dim), v);
  }
  if (c.qk_norm) {  // per head: [n * heads, head_dim], in place
    backend.RmsNorm(q.Reshape({n * q_heads, head_dim}), w.attn.q_norm.view(), eps,
                    q.Reshape({n * q_heads, head_dim}));
    backend.RmsNorm(k.Reshape({n * kv_heads, head_dim}), w.attn.k_norm.view(), eps,
                    k.Reshape({n * kv_heads, head_dim}));
  }
  backend.Rope(q.Reshape({n, q_heads, head_dim}), in.positions, inv_freq);
  backend.Rope(k.Reshape({n, kv_heads, head_dim}), in.positions, inv_freq);
  backend.WriteKvCache(k, v, in.slot_mapping, kv);
  backend.PagedAttention(q.Reshape({n, q_heads, head_dim}), kv, in,
                         static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim))),
                         attn.Reshape({n, q_heads, head_dim}));
  backend.Matmul(attn, w.attn.o.view(), TensorView(), delta);
  backend.AddRmsNorm(residual, delta, w.post_attn_norm.view(), eps, h);

  // MLP: [n, hidden] -> [n, hidden]
  if (w.moe != nullptr) {
    RunMoeMlp(backend, c, *w.moe, layer, h, delta, &s->moe, load);
  } else {
    RunDenseMlp(backend, w.mlp, h, delta, &s->dense);
  }
  backend.AddRmsNorm(residual, delta, next_norm, eps, h);
}

}  // namespace inferd::engine
