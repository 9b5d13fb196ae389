// engine/backend/tensor.h — tensors as the engine sees them: elements of one
// DType (kernels/dtype.h) with a shape, living on one device.
//
// TensorView is the non-owning (data, dtype, shape, device) view that every
// backend op takes; Tensor owns its memory (host memory from HostBuffer, or a
// backend's device memory through Storage). A view does not carry constness:
// each op says which of its arguments it writes. Shapes are row-major and
// contiguous; rank <= 4.
#ifndef INFERD_ENGINE_BACKEND_TENSOR_H_
#define INFERD_ENGINE_BACKEND_TENSOR_H_

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/check.h"
#include "kernels/dtype.h"

namespace inferd::engine {

using kernels::DType;

enum class Device : int32_t {
  kCpu = 0,   // host memory; the CPU backend computes on it directly
  kCuda = 1,  // device memory of the engine's GPU
};

// "cpu", "cuda": the spelling of --device.
constexpr const char* DeviceName(Device d) { return d == Device::kCpu ? "cpu" : "cuda"; }

// Elements of a tensor of `shape` (1 for a scalar).
inline int64_t ShapeNumel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

inline constexpr int kMaxRank = 4;

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::kF32;
  Device device = Device::kCpu;
  int32_t rank = 0;
  std::array<int64_t, kMaxRank> dims{};

  TensorView() = default;
  TensorView(void* d, DType t, std::initializer_list<int64_t> shape, Device dev = Device::kCpu)
      : data(d), dtype(t), device(dev) {
    INFERD_CHECK_LE(static_cast<int>(shape.size()), kMaxRank);
    for (int64_t s : shape) dims[rank++] = s;
  }
  // An fp32 host array (what tests and host-side callers hold).
  static TensorView HostF32(const float* d, std::initializer_list<int64_t> shape) {
    return TensorView(const_cast<float*>(d), DType::kF32, shape, Device::kCpu);
  }

  bool empty() const { return data == nullptr; }
  // Dimension i; negative i counts from the end.
  int64_t dim(int i) const {
    if (i < 0) i += rank;
    INFERD_CHECK(i >= 0 && i < rank) << "dim " << i << " of a rank-" << rank << " tensor";
    return dims[i];
  }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[i];
    return n;
  }
  int64_t bytes() const { return kernels::DTypeBytes(dtype, numel()); }
  // The leading dimension (rows) and the elements of one row.
  int64_t rows() const { return rank == 0 ? 1 : dims[0]; }
  int64_t row_numel() const { return rank <= 1 ? 1 : numel() / dims[0]; }

  // Rows [begin, begin + count) of the leading dimension.
  TensorView Rows(int64_t begin, int64_t count) const {
    INFERD_CHECK(rank >= 1 && begin >= 0 && count >= 0 && begin + count <= dims[0])
        << "rows [" << begin << ", " << begin + count << ") of " << rows();
    TensorView v = *this;
    v.data = static_cast<uint8_t*>(data) + kernels::DTypeBytes(dtype, begin * row_numel());
    v.dims[0] = count;
    return v;
  }
  // The same elements under another shape (numel must match).
  TensorView Reshape(std::initializer_list<int64_t> shape) const {
    TensorView v(data, dtype, shape, device);
    INFERD_CHECK_EQ(v.numel(), numel());
    return v;
  }
  // The elements as fp32 host memory (host-side code: tests, sampling).
  float* f32() const {
    INFERD_CHECK(dtype == DType::kF32 && device == Device::kCpu)
        << kernels::DTypeName(dtype) << " tensor on " << DeviceName(device) << " read as host fp32";
    return static_cast<float*>(data);
  }
};

// Int32 indices (token ids, positions, slots, block tables) on a device.
template <typename T>
struct DeviceSpan {
  T* data = nullptr;
  int64_t size = 0;
  Device device = Device::kCpu;
};
using IndexView = DeviceSpan<const int32_t>;

inline IndexView HostIndices(const std::vector<int32_t>& v) {
  return {v.data(), static_cast<int64_t>(v.size()), Device::kCpu};
}

// Memory a Tensor owns: host memory or a backend's device allocation.
class Storage {
 public:
  virtual ~Storage() = default;
  virtual void* data() = 0;
  virtual Device device() const = 0;
};

class Tensor {
 public:
  Tensor() = default;
  Tensor(std::unique_ptr<Storage> storage, DType dtype, std::vector<int64_t> shape);
  // Uninitialised host memory for `shape` elements of `dtype` (2 MiB-aligned
  // huge pages when large: common/host_buffer.h). What loading reads into.
  static absl::StatusOr<Tensor> AllocateHost(DType dtype, std::vector<int64_t> shape);

  DType dtype() const { return dtype_; }
  Device device() const { return storage_ == nullptr ? Device::kCpu : storage_->device(); }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t numel() const { return numel_; }
  int64_t bytes() const { return kernels::DTypeBytes(dtype_, numel_); }
  bool empty() const { return numel_ == 0; }
  void* data() { return storage_ == nullptr ? nullptr : storage_->data(); }
  const void* data() const { return storage_ == nullptr ? nullptr : storage_->data(); }
  // Start of element `i` (a row of a fused matrix starts at row * cols).
  void* at(int64_t i) { return static_cast<uint8_t*>(data()) + kernels::DTypeBytes(dtype_, i); }
  const void* at(int64_t i) const {
    return static_cast<const uint8_t*>(data()) + kernels::DTypeBytes(dtype_, i);
  }
  // The whole tensor; an empty Tensor gives an empty view.
  TensorView view() const;

 private:
  std::unique_ptr<Storage> storage_;
  DType dtype_ = DType::kF32;
  std::vector<int64_t> shape_;
  int64_t numel_ = 0;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_BACKEND_TENSOR_H_
