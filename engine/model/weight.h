// engine/model/weight.h — a model weight: a Tensor (engine/backend/tensor.h)
// in its own dtype (fp32, bf16 or fp16, or Q8_0/Q4_0 blocks quantized at
// load), resident on the engine's device.
//
// Loaded once from the checkpoint into host memory the server owns
// (WeightStore::Load; with --load-format mmap, a tensor needing no fusing or
// conversion is a read-only view of the file's mapping), then made resident on the
// device (Backend::Adopt: the CPU keeps it in place, a GPU uploads it and
// frees the host copy). Fused matrices (q/k/v, gate/up) are allocated whole
// and filled row range by row range, so loading never holds a second copy.
// Norm weights and biases are small and stay fp32.
#ifndef INFERD_ENGINE_MODEL_WEIGHT_H_
#define INFERD_ENGINE_MODEL_WEIGHT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/backend.h"
#include "engine/backend/tensor.h"
#include "engine/model/weight_store.h"

namespace inferd::engine {

using Weight = Tensor;

// The dtype a matrix is asked for in: `dtype`; or, with as_stored
// (--quantization auto), the checkpoint's own quantized type when it stores
// the matrix quantized (GGUF Q8_0, Q4_0, Q4_K, Q5_K, Q6_K; `dtype` otherwise).
// Stacked parts stored in different quantized types (a Q4_K_M file's q/k in
// Q4_K and v in Q6_K) cannot be one tensor: a caller that can use them apart
// (q/k/v: three matmuls) asks StoredInMixedTypes and loads them one by one;
// otherwise (gate/up, experts) they are held as q8_0, requantized from their
// values (WeightStore::Requantized, a load warning). So is a matrix stored
// in a load-only type (kernels::IsLoadOnly: Q5_0, Q5_1, which llama-quantize
// writes where rows are not whole k-quant super-blocks).
struct WeightDType {
  WeightDType(DType d) : dtype(d) {}  // NOLINT(google-explicit-constructor): a plain dtype
  WeightDType(DType d, bool stored) : dtype(d), as_stored(stored) {}
  DType dtype;
  bool as_stored = false;
};

// Tensor `name` (checked against `shape`) as `dtype` on `backend`'s device.
// A quantized dtype (kQ8_0, kQ4_0: --quantization) is read as fp32 and
// quantized row by row at load (kernels/quant_blocks.h, llama.cpp's bytes)
// unless the checkpoint stores it so (then it is used as stored); a matrix
// whose rows are not whole blocks is kept in fp32 instead and named in
// WeightStore::KeptUnquantized (a load warning). Stacked parts share their
// row length.
absl::StatusOr<Weight> LoadWeight(const WeightStore& w, Backend& backend, const std::string& name,
                                  const std::vector<int64_t>& shape, WeightDType dtype);
// Whether `parts` asked as `dtype` are stored quantized in more than one
// type and `dtype` asks for them as stored (WeightDType above).
bool StoredInMixedTypes(const WeightStore& w, const std::vector<WeightStore::Part>& parts,
                        WeightDType dtype);
// Several tensors stacked along their first dimension (WeightStore::LoadStacked).
absl::StatusOr<Weight> LoadStackedWeight(const WeightStore& w, Backend& backend,
                                         const std::vector<WeightStore::Part>& parts,
                                         WeightDType dtype);
// *out = the loaded weight, or the load's error (a load written as one
// status check: `if (Status s = MoveInto(LoadWeight(...), &w); !s.ok())`).
absl::Status MoveInto(absl::StatusOr<Weight> loaded, Weight* out);
// fp32 tensors concatenated into one vector on the device (norm weights;
// q/k/v biases): [sum of the parts' elements].
absl::StatusOr<Weight> LoadF32Weight(const WeightStore& w, Backend& backend,
                                     const std::vector<WeightStore::Part>& parts);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_WEIGHT_H_
