// engine/model/moe_mlp.cc
#include "engine/model/moe_mlp.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace inferd::engine {

absl::Status LoadMoeMlp(const ModelConfig& c, const WeightStore& w, Backend& backend, int64_t layer,
                        WeightDType dtype, MoeMlpWeights* out) {
  const int64_t hidden = c.hidden_size;
  const int64_t e_count = c.moe.num_experts;
  const int64_t inter = c.moe.expert_intermediate_size;
  const bool mixtral = c.architecture == "MixtralForCausalLM";
  const std::string p =
      absl::StrCat("model.layers.", layer, mixtral ? ".block_sparse_moe." : ".mlp.");
  // Mixtral names the SwiGLU projections w1 (gate), w3 (up), w2 (down).
  const char* gate = mixtral ? "w1" : "gate_proj";
  const char* up = mixtral ? "w3" : "up_proj";
  const char* down = mixtral ? "w2" : "down_proj";

  absl::StatusOr<Weight> router =
      LoadF32Weight(w, backend, {{p + "gate.weight", {e_count, hidden}}});
  if (!router.ok()) return router.status();
  out->router = *std::move(router);
  std::vector<WeightStore::Part> gate_up_parts, down_parts;
  for (int64_t e = 0; e < e_count; ++e) {
    const std::string ep = absl::StrCat(p, "experts.", e, ".");
    gate_up_parts.push_back({ep + gate + ".weight", {inter, hidden}});
    gate_up_parts.push_back({ep + up + ".weight", {inter, hidden}});
    down_parts.push_back({ep + down + ".weight", {hidden, inter}});
  }
  absl::StatusOr<Weight> gate_up_w = LoadStackedWeight(w, backend, gate_up_parts, dtype);
  if (!gate_up_w.ok()) return gate_up_w.status();
  out->gate_up = *std::move(gate_up_w);
  absl::StatusOr<Weight> down_w = LoadStackedWeight(w, backend, down_parts, dtype);
  if (!down_w.ok()) return down_w.status();
  out->down = *std::move(down_w);
  if (c.moe.shared_expert_intermediate_size > 0) {
    if (absl::Status s = LoadDenseMlp(w, backend, p + "shared_expert.", hidden,
                                      c.moe.shared_expert_intermediate_size, dtype, &out->shared);
        !s.ok()) {
      return s;
    }
    absl::StatusOr<Weight> shared_gate =
        LoadF32Weight(w, backend, {{p + "shared_expert_gate.weight", {1, hidden}}});
    if (!shared_gate.ok()) return shared_gate.status();
    out->shared_gate = *std::move(shared_gate);
  }
  return absl::OkStatus();
}

void RunMoeMlp(Backend& backend, const ModelConfig& c, const MoeMlpWeights& m, int64_t layer,
               TensorView h, TensorView out, MoeMlpScratch* s, ExpertLoad* load) {
  const int64_t n = h.rows();
  const int64_t hidden = c.hidden_size;
  const int64_t e_count = c.moe.num_experts;
  if (n > s->capacity) {
    EnsureRows(backend, n, e_count, &s->router_logits);
    if (!m.shared.empty()) {
      EnsureRows(backend, n, hidden, &s->shared_out);
      EnsureRows(backend, n, 1, &s->shared_gate);
    }
    s->capacity = n;
  }
  // [n, hidden] -> router logits [n, E] -> top-k experts -> [n, hidden]
  const TensorView router_logits = s->router_logits.view().Rows(0, n);
  backend.Matmul(h, m.router.view().Reshape({e_count, hidden}), TensorView(), router_logits);
  backend.Moe(h, router_logits, c.moe.num_experts_per_tok, c.moe.norm_topk_prob, m.gate_up.view(),
              m.down.view().Reshape({e_count * hidden, c.moe.expert_intermediate_size}), out,
              load != nullptr ? &s->topk_ids : nullptr);
  if (load != nullptr) {
    load->Record(layer, s->topk_ids.data(), static_cast<int64_t>(s->topk_ids.size()));
  }

  if (!m.shared.empty()) {
    const TensorView shared_out = s->shared_out.view().Rows(0, n);
    const TensorView shared_gate = s->shared_gate.view().Rows(0, n);
    RunDenseMlp(backend, m.shared, h, shared_out, &s->shared);
    // [n, hidden] x [1, hidden]^T -> [n, 1]
    backend.Matmul(h, m.shared_gate.view().Reshape({1, hidden}), TensorView(), shared_gate);
    backend.SigmoidGatedAdd(shared_gate, shared_out, out);
  }
}

}  // namespace inferd::engine
