// engine/model/moe_mlp.cc
#include "engine/model/moe_mlp.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "kernels/ops.h"

namespace inferd::engine {

absl::Status LoadMoeMlp(const ModelConfig& c, const WeightStore& w, int64_t layer, DType dtype,
                        MoeMlpWeights* out) {
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

  if (absl::Status s = AppendTensor(w, p + "gate.weight", {e_count, hidden}, &out->router);
      !s.ok()) {
    return s;
  }
  std::vector<WeightStore::Part> gate_up_parts, down_parts;
  for (int64_t e = 0; e < e_count; ++e) {
    const std::string ep = absl::StrCat(p, "experts.", e, ".");
    gate_up_parts.push_back({ep + gate + ".weight", {inter, hidden}});
    gate_up_parts.push_back({ep + up + ".weight", {inter, hidden}});
    down_parts.push_back({ep + down + ".weight", {hidden, inter}});
  }
  absl::StatusOr<Weight> gate_up_w = w.LoadStacked(gate_up_parts, dtype);
  if (!gate_up_w.ok()) return gate_up_w.status();
  out->gate_up = *std::move(gate_up_w);
  absl::StatusOr<Weight> down_w = w.LoadStacked(down_parts, dtype);
  if (!down_w.ok()) return down_w.status();
  out->down = *std::move(down_w);
  if (c.moe.shared_expert_intermediate_size > 0) {
    if (absl::Status s = LoadDenseMlp(w, p + "shared_expert.", hidden,
                                      c.moe.shared_expert_intermediate_size, dtype, &out->shared);
        !s.ok()) {
      return s;
    }
    return AppendTensor(w, p + "shared_expert_gate.weight", {1, hidden}, &out->shared_gate);
  }
  return absl::OkStatus();
}

void RunMoeMlp(const ModelConfig& c, const MoeMlpWeights& m, int64_t layer, int64_t n,
               const float* h, float* out, MoeMlpScratch* s, ExpertLoad* load) {
  const int64_t hidden = c.hidden_size;
  const int64_t e_count = c.moe.num_experts;
  const int64_t k = c.moe.num_experts_per_tok;
  const int64_t inter = c.moe.expert_intermediate_size;
  s->router_logits.resize(n * e_count);
  s->topk_ids.resize(n * k);
  s->topk_weights.resize(n * k);
  s->floats.resize(kernels::MoeScratchFloats(n, k, hidden, inter));
  s->ints.resize(kernels::MoeScratchInts(n, k, e_count));

  // [n, hidden] -> router logits [n, E] -> top-k ids and weights [n, k]
  kernels::Matmul(h, m.router.data(), nullptr, n, e_count, hidden, s->router_logits.data());
  kernels::MoeRoute(s->router_logits.data(), n, e_count, k, c.moe.norm_topk_prob,
                    s->topk_ids.data(), s->topk_weights.data());
  if (load != nullptr) load->Record(layer, s->topk_ids.data(), n * k);
  kernels::MoeExpertsParams p;
  p.x = h;
  p.topk_ids = s->topk_ids.data();
  p.topk_weights = s->topk_weights.data();
  p.gate_up = m.gate_up.data();
  p.down = m.down.data();
  p.weight_dtype = m.gate_up.dtype();
  p.out = out;
  p.scratch = s->floats.data();
  p.int_scratch = s->ints.data();
  p.n = n;
  p.k = k;
  p.hidden = hidden;
  p.inter = inter;
  p.num_experts = e_count;
  kernels::MoeExperts(p);

  if (!m.shared.empty()) {
    s->shared_out.resize(n * hidden);
    s->shared_gate.resize(n);
    RunDenseMlp(m.shared, n, hidden, h, s->shared_out.data(), &s->shared);
    // [n, hidden] x [1, hidden]^T -> [n]
    kernels::Matmul(h, m.shared_gate.data(), nullptr, n, 1, hidden, s->shared_gate.data());
    kernels::SigmoidGatedAdd(s->shared_gate.data(), s->shared_out.data(), n, hidden, out);
  }
}

}  // namespace inferd::engine
