// engine/backend/backend.cc
#include "engine/backend/backend.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "kernels/ops.h"

namespace inferd::engine {

absl::StatusOr<Tensor> Backend::FromHost(const std::vector<float>& values,
                                         std::vector<int64_t> shape) {
  return FromHost(values, std::move(shape), param_dtype());
}

absl::StatusOr<Tensor> Backend::FromHost(const std::vector<float>& values,
                                         std::vector<int64_t> shape, DType dtype) {
  INFERD_CHECK_EQ(ShapeNumel(shape), static_cast<int64_t>(values.size()));
  absl::StatusOr<Tensor> t = Allocate(dtype, std::move(shape));
  if (!t.ok()) return t.status();
  if (values.empty()) return t;
  if (dtype == DType::kF32) {
    CopyFromHost(values.data(), t->view());
  } else {
    std::vector<uint16_t> narrow(values.size());
    kernels::ConvertFromF32(values.data(), static_cast<int64_t>(values.size()), narrow.data(),
                            dtype);
    CopyFromHost(narrow.data(), t->view());
  }
  return t;
}

void EnsureRows(Backend& backend, int64_t rows, int64_t cols, Tensor* t,
                std::optional<DType> dtype) {
  const DType want = dtype.value_or(backend.activation_dtype());
  if (!t->empty() && t->dtype() == want && t->shape()[0] >= rows && t->shape()[1] == cols) {
    return;
  }
  absl::StatusOr<Tensor> fresh = backend.Allocate(want, {rows, cols});
  INFERD_CHECK(fresh.ok()) << fresh.status();
  *t = *std::move(fresh);
}

}  // namespace inferd::engine
