// engine/model/dense_mlp.cc
#include "engine/model/dense_mlp.h"

#include <utility>

#include "common/check.h"

namespace inferd::engine {

absl::Status LoadDenseMlp(const WeightStore& w, Backend& backend, const std::string& prefix,
                          int64_t hidden, int64_t inter, WeightDType dtype, DenseMlpWeights* out) {
  out->inter = inter;
  absl::StatusOr<Weight> gate_up =
      LoadStackedWeight(w, backend,
                        {{prefix + "gate_proj.weight", {inter, hidden}},
                         {prefix + "up_proj.weight", {inter, hidden}}},
                        dtype);
  if (!gate_up.ok()) return gate_up.status();
  out->gate_up = *std::move(gate_up);
  absl::StatusOr<Weight> down =
      LoadWeight(w, backend, prefix + "down_proj.weight", {hidden, inter}, dtype);
  if (!down.ok()) return down.status();
  out->down = *std::move(down);
  return absl::OkStatus();
}

void RunDenseMlp(Backend& backend, const DenseMlpWeights& m, TensorView h, TensorView out,
                 DenseMlpScratch* s) {
  const int64_t n = h.rows();
  if (n > s->capacity) {
    EnsureRows(backend, n, 2 * m.inter, &s->gate_up);
    EnsureRows(backend, n, m.inter, &s->act);
    s->capacity = n;
  }
  TensorView gate_up = s->gate_up.view().Rows(0, n);
  TensorView act = s->act.view().Rows(0, n);
  // [n, hidden] -> [n, 2 * inter] -> [n, inter] -> [n, hidden]
  backend.Matmul(h, m.gate_up.view(), TensorView(), gate_up);
  backend.SiluMul(gate_up, act);
  backend.Matmul(act, m.down.view(), TensorView(), out);
}

}  // namespace inferd::engine
