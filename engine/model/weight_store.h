// engine/model/weight_store.h — every tensor of a model directory, from
// model.safetensors, the shards of model.safetensors.index.json, or all
// *.safetensors files; loaded tensor by tensor into memory the caller owns.
#ifndef INFERD_ENGINE_MODEL_WEIGHT_STORE_H_
#define INFERD_ENGINE_MODEL_WEIGHT_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/safetensors.h"
#include "engine/model/weight.h"

namespace inferd::engine {

class WeightStore {
 public:
  static absl::StatusOr<std::unique_ptr<WeightStore>> Open(const std::string& dir);
  bool Has(const std::string& name) const;
  // Shape of a tensor; error naming the tensor when it is missing.
  absl::StatusOr<std::vector<int64_t>> Shape(const std::string& name) const;
  // Reads `name` into `dst` as `dtype` (SafetensorsFile::ReadInto), checking
  // its shape equals `expected_shape`; the error names the file, the tensor,
  // and both shapes.
  absl::Status ReadInto(const std::string& name, const std::vector<int64_t>& expected_shape,
                        DType dtype, void* dst) const;
  // ReadInto a new Weight of `dtype`.
  absl::StatusOr<Weight> Load(const std::string& name, const std::vector<int64_t>& expected_shape,
                              DType dtype) const;
  // Several tensors stacked along their first dimension into one new Weight
  // of `dtype` (fused q/k/v, gate/up, all experts of a layer): allocated
  // whole, each part read into place. Parts must agree on the other dims.
  struct Part {
    std::string name;
    std::vector<int64_t> shape;
  };
  absl::StatusOr<Weight> LoadStacked(const std::vector<Part>& parts, DType dtype) const;
  // ReadInto a vector of fp32 (norms, biases, small heads).
  absl::StatusOr<std::vector<float>> LoadF32(const std::string& name,
                                             const std::vector<int64_t>& expected_shape) const;
  std::vector<std::string> Names() const;
  // Elements of all tensors held (a double: only compared, never allocated).
  double NumElements() const;
  // The dtype the checkpoint stores its weights in: that of the embedding
  // when there is one, else the dtype holding the most elements. What
  // --dtype auto serves in.
  DType StorageDType() const;
  // The tensors loaded so far whose sampled values (up to 257, evenly spaced:
  // negligible next to the read) were all NaN or infinite: a broken
  // checkpoint that would otherwise load without a word. Sorted by name.
  std::vector<std::string> NonFiniteTensors() const;

 private:
  // Adds every tensor of `file`; a name already held by another file is an error.
  absl::Status Add(std::unique_ptr<SafetensorsFile> file);

  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> by_name_;
  // ReadInto may run on several threads at once (pread is positional).
  mutable std::mutex non_finite_mutex_;
  mutable std::vector<std::string> non_finite_;  // appended by ReadInto
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_WEIGHT_STORE_H_
