// engine/model/dense_mlp.h — the SwiGLU MLP block: down(silu(gate(x)) * up(x)).
// Used by dense layers and as the shared expert of Qwen2-MoE.
#ifndef INFERD_ENGINE_MODEL_DENSE_MLP_H_
#define INFERD_ENGINE_MODEL_DENSE_MLP_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "engine/backend/backend.h"
#include "engine/model/weight.h"
#include "engine/model/weight_store.h"

namespace inferd::engine {

struct DenseMlpWeights {
  int64_t inter = 0;
  Weight gate_up;  // [2 * inter, hidden]: gate rows, then up rows
  Weight down;     // [hidden, inter]
  bool empty() const { return inter == 0; }
};

// Loads <prefix>gate_proj/up_proj/down_proj.weight (HF names) as `dtype`.
absl::Status LoadDenseMlp(const WeightStore& w, Backend& backend, const std::string& prefix,
                          int64_t hidden, int64_t inter, WeightDType dtype, DenseMlpWeights* out);

// Activations of RunDenseMlp, grown to the largest batch so far.
struct DenseMlpScratch {
  int64_t capacity = 0;
  Tensor gate_up;  // [n, 2 * inter]
  Tensor act;      // [n, inter]
};

// out = block(h):  h [n, hidden] -> out [n, hidden]
void RunDenseMlp(Backend& backend, const DenseMlpWeights& m, TensorView h, TensorView out,
                 DenseMlpScratch* scratch);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_DENSE_MLP_H_
