// engine/model/dense_mlp.cc
#include "engine/model/dense_mlp.h"

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
                          int64_t inter, DenseMlpWeights* out) {
  out->inter = inter;
  for (const char* name : {"gate_proj", "up_proj"}) {
    if (absl::Status s = AppendTensor(w, prefix + name + ".weight", {inter, hidden}, &out->gate_up);
        !s.ok()) {
      return s;
    }
  }
  return AppendTensor(w, prefix + "down_proj.weight", {hidden, inter}, &out->down);
}

void RunDenseMlp(const DenseMlpWeights& m, int64_t n, int64_t hidden, const float* h, float* out,
                 DenseMlpScratch* scratch) {
  if (static_cast<int64_t>(scratch->act.size()) < n * m.inter) {
    scratch->gate_up.resize(n * 2 * m.inter);
    scratch->act.resize(n * m.inter);
  }
  // [n, 2 * inter] -> [n, inter] -> [n, hidden]
  kernels::Matmul(h, m.gate_up.data(), nullptr, n, 2 * m.inter, hidden, scratch->gate_up.data());
  kernels::SiluMul(scratch->gate_up.data(), n, m.inter, scratch->act.data());
  kernels::Matmul(scratch->act.data(), m.down.data(), nullptr, n, hidden, m.inter, out);
}

}  // namespace inferd::engine
