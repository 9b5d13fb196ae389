// engine/model/dense_mlp.cc
#include "engine/model/dense_mlp.h"

#include <utility>

#include "kernels/ops.h"

namespace inferd::engine {

absl::Status AppendTensor(const WeightStore& w, const std::string& name,
                          const std::vector<int64_t>& shape, std::vector<float>* out) {
  absl::StatusOr<std::vector<float>> t = w.LoadF32(name, shape);
  if (!t.ok()) return t.status();
  out->insert(out->end(), t->begin(), t->end());
  return absl::OkStatus();
}

absl::Status LoadDenseMlp(const WeightStore& w, const std::string& prefix, int64_t hidden,
                          int64_t inter, DType dtype, DenseMlpWeights* out) {
  out->inter = inter;
  absl::StatusOr<Weight> gate_up = w.LoadStacked({{prefix + "gate_proj.weight", {inter, hidden}},
                                                  {prefix + "up_proj.weight", {inter, hidden}}},
                                                 dtype);
  if (!gate_up.ok()) return gate_up.status();
  out->gate_up = *std::move(gate_up);
  absl::StatusOr<Weight> down = w.Load(prefix + "down_proj.weight", {hidden, inter}, dtype);
  if (!down.ok()) return down.status();
  out->down = *std::move(down);
  return absl::OkStatus();
}

void RunDenseMlp(const DenseMlpWeights& m, int64_t n, int64_t hidden, const float* h, float* out,
                 DenseMlpScratch* scratch) {
  if (static_cast<int64_t>(scratch->act.size()) < n * m.inter) {
    scratch->gate_up.resize(n * 2 * m.inter);
    scratch->act.resize(n * m.inter);
  }
  // [n, 2 * inter] -> [n, inter] -> [n, hidden]
  kernels::Matmul(h, m.gate_up.data(), nullptr, n, 2 * m.inter, hidden, scratch->gate_up.data(),
                  m.gate_up.dtype());
  kernels::SiluMul(scratch->gate_up.data(), n, m.inter, scratch->act.data());
  kernels::Matmul(scratch->act.data(), m.down.data(), nullptr, n, hidden, m.inter, out,
                  m.down.dtype());
}

}  // namespace inferd::engine
