// engine/model/weight.h — a weight tensor in host memory the server owns, in
// its own dtype (fp32, bf16 or fp16: kernels/dtype.h).
//
// Loaded once from the checkpoint (WeightStore::Load), never a view into
// the file. Fused matrices (q/k/v, gate/up) are allocated whole and filled
// row range by row range, so loading never holds a second copy.
#ifndef INFERD_ENGINE_MODEL_WEIGHT_H_
#define INFERD_ENGINE_MODEL_WEIGHT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/host_buffer.h"
#include "kernels/dtype.h"

namespace inferd::engine {

using kernels::DType;

// Elements of a tensor of `shape` (1 for a scalar).
inline int64_t ShapeNumel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

class Weight;

// A non-owning view of a weight: its elements and their dtype. Made from a
// Weight, or from fp32 data (tests, heads kept in fp32).
struct WeightView {
  WeightView(const Weight& w);  // NOLINT(google-explicit-constructor): a view
  WeightView(const float* fp32) : data(fp32), dtype(DType::kF32) {}  // NOLINT
  WeightView(const void* d, DType t) : data(d), dtype(t) {}
  const void* data;
  DType dtype;
};

class Weight {
 public:
  Weight() = default;
  // Uninitialised storage for `shape` elements of `dtype`.
  static absl::StatusOr<Weight> Allocate(DType dtype, std::vector<int64_t> shape);

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t numel() const { return numel_; }
  int64_t bytes() const { return numel_ * kernels::DTypeSize(dtype_); }
  bool empty() const { return numel_ == 0; }
  const void* data() const { return buffer_.data(); }
  void* data() { return buffer_.data(); }
  // Start of element `i` (a row of a fused matrix starts at row * cols).
  void* at(int64_t i) {
    return static_cast<uint8_t*>(buffer_.data()) + i * kernels::DTypeSize(dtype_);
  }
  const void* at(int64_t i) const {
    return static_cast<const uint8_t*>(buffer_.data()) + i * kernels::DTypeSize(dtype_);
  }

 private:
  HostBuffer buffer_;
  DType dtype_ = DType::kF32;
  std::vector<int64_t> shape_;
  int64_t numel_ = 0;
};

inline WeightView::WeightView(const Weight& w) : data(w.data()), dtype(w.dtype()) {}

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_WEIGHT_H_
