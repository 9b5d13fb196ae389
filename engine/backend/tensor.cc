// engine/backend/tensor.cc
#include "engine/backend/tensor.h"

#include <utility>

#include "common/host_buffer.h"

namespace inferd::engine {

namespace {

class HostStorage final : public Storage {
 public:
  explicit HostStorage(HostBuffer buffer) : buffer_(std::move(buffer)) {}
  void* data() override { return buffer_.data(); }
  Device device() const override { return Device::kCpu; }

 private:
  HostBuffer buffer_;
};

}  // namespace

Tensor::Tensor(std::unique_ptr<Storage> storage, DType dtype, std::vector<int64_t> shape)
    : storage_(std::move(storage)),
      dtype_(dtype),
      shape_(std::move(shape)),
      numel_(ShapeNumel(shape_)) {
  INFERD_CHECK_LE(static_cast<int>(shape_.size()), kMaxRank);
}

absl::StatusOr<Tensor> Tensor::AllocateHost(DType dtype, std::vector<int64_t> shape) {
  const int64_t numel = ShapeNumel(shape);
  absl::StatusOr<HostBuffer> buffer = HostBuffer::Allocate(kernels::DTypeBytes(dtype, numel));
  if (!buffer.ok()) return buffer.status();
  return Tensor(std::make_unique<HostStorage>(*std::move(buffer)), dtype, std::move(shape));
}

TensorView Tensor::view() const {
  if (storage_ == nullptr) return TensorView();
  TensorView v;
  v.data = const_cast<void*>(data());
  v.dtype = dtype_;
  v.device = device();
  for (int64_t d : shape_) v.dims[v.rank++] = d;
  return v;
}

}  // namespace inferd::engine
