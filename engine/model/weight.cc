// engine/model/weight.cc
#include "engine/model/weight.h"

#include <utility>

namespace inferd::engine {

absl::StatusOr<Weight> Weight::Allocate(DType dtype, std::vector<int64_t> shape) {
  const int64_t numel = ShapeNumel(shape);
  absl::StatusOr<HostBuffer> buffer = HostBuffer::Allocate(numel * kernels::DTypeSize(dtype));
  if (!buffer.ok()) return buffer.status();
  Weight w;
  w.buffer_ = *std::move(buffer);
  w.dtype_ = dtype;
  w.shape_ = std::move(shape);
  w.numel_ = numel;
  return w;
}

}  // namespace inferd::engine
