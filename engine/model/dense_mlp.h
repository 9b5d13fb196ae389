// engine/model/dense_mlp.h — the SwiGLU MLP block: down(silu(gate(x)) * up(x)).
// Used by dense layers and as the shared expert of Qwen2-MoE.
#ifndef INFERD_ENGINE_MODEL_DENSE_MLP_H_
#define INFERD_ENGINE_MODEL_DENSE_MLP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
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
absl::Status LoadDenseMlp(const WeightStore& w, const std::string& prefix, int64_t hidden,
                          int64_t inter, DType dtype, DenseMlpWeights* out);

// Scratch for RunDenseMlp, grown on demand.
struct DenseMlpScratch {
  std::vector<float> gate_up;  // [n, 2 * inter]
  std::vector<float> act;      // [n, inter]
};

// out = block(h):  h [n, hidden] -> out [n, hidden]
void RunDenseMlp(const DenseMlpWeights& m, int64_t n, int64_t hidden, const float* h, float* out,
                 DenseMlpScratch* scratch);

// Appends tensor `name` (checked against `shape`) to `out` as fp32 (norms,
// biases: small tensors kept in fp32 whatever the weights' dtype).
absl::Status AppendTensor(const WeightStore& w, const std::string& name,
                          const std::vector<int64_t>& shape, std::vector<float>* out);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_DENSE_MLP_H_
