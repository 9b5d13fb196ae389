// engine/backend/backend.cc
#include "engine/backend/backend.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace inferd::engine {

absl::StatusOr<Tensor> Backend::FromHost(const std::vector<float>& values,
                                         std::vector<int64_t> shape) {
  INFERD_CHECK_EQ(ShapeNumel(shape), static_cast<int64_t>(values.size()));
  absl::StatusOr<Tensor> t = Allocate(DType::kF32, std::move(shape));
  if (!t.ok()) return t.status();
  if (!values.empty()) CopyFromHost(values.data(), t->view());
  return t;
}

void EnsureRows(Backend& backend, int64_t rows, int64_t cols, Tensor* t) {
  if (!t->empty() && t->shape()[0] >= rows && t->shape()[1] == cols) return;
  absl::StatusOr<Tensor> fresh = backend.Allocate(backend.activation_dtype(), {rows, cols});
  INFERD_CHECK(fresh.ok()) << fresh.status();
  *t = *std::move(fresh);
}

}  // namespace inferd::engine
