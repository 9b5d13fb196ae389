// engine/model/weight.cc
#include "engine/model/weight.h"

#include <utility>

namespace inferd::engine {

absl::StatusOr<Weight> LoadWeight(const WeightStore& w, Backend& backend, const std::string& name,
                                  const std::vector<int64_t>& shape, DType dtype) {
  absl::StatusOr<Tensor> host = w.Load(name, shape, dtype);
  if (!host.ok()) return host.status();
  return backend.Adopt(*std::move(host));
}

absl::StatusOr<Weight> LoadStackedWeight(const WeightStore& w, Backend& backend,
                                         const std::vector<WeightStore::Part>& parts, DType dtype) {
  absl::StatusOr<Tensor> host = w.LoadStacked(parts, dtype);
  if (!host.ok()) return host.status();
  return backend.Adopt(*std::move(host));
}

absl::Status MoveInto(absl::StatusOr<Weight> loaded, Weight* out) {
  if (!loaded.ok()) return loaded.status();
  *out = *std::move(loaded);
  return absl::OkStatus();
}

absl::StatusOr<Weight> LoadF32Weight(const WeightStore& w, Backend& backend,
                                     const std::vector<WeightStore::Part>& parts) {
  std::vector<float> values;
  for (const WeightStore::Part& part : parts) {
    absl::StatusOr<std::vector<float>> t = w.LoadF32(part.name, part.shape);
    if (!t.ok()) return t.status();
    values.insert(values.end(), t->begin(), t->end());
  }
  const int64_t n = static_cast<int64_t>(values.size());
  return backend.FromHost(values, {n});
}

}  // namespace inferd::engine
