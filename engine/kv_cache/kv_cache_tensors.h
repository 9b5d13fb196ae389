// engine/kv_cache/kv_cache_tensors.h — the KV cache memory itself: per layer,
// K and V pools of [num_blocks * block_size, num_kv_heads * head_dim]
// elements of the cache dtype (fp32, bf16 or fp16: --kv-cache-dtype), on the
// backend's device.
//
// Allocated once at start from the memory budget and never resized. The
// block ids handed out by KvCacheManager index into these pools.
#ifndef INFERD_ENGINE_KV_CACHE_KV_CACHE_TENSORS_H_
#define INFERD_ENGINE_KV_CACHE_KV_CACHE_TENSORS_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "common/check.h"
#include "engine/backend/backend.h"
#include "engine/backend/tensor.h"

namespace inferd::engine {

class KvCacheTensors {
 public:
  // Deliberately uninitialised: pages are touched only when used. The
  // engine checked the budget against the device's memory before this.
  KvCacheTensors(Backend& backend, int64_t num_layers, int64_t num_blocks, int32_t block_size,
                 int64_t kv_dim, DType dtype = DType::kF32)
      : dtype_(dtype), block_size_(block_size) {
    const int64_t slots = num_blocks * block_size;
    for (int64_t i = 0; i < 2 * num_layers; ++i) {
      absl::StatusOr<Tensor> pool = backend.Allocate(dtype, {slots, kv_dim});
      INFERD_CHECK(pool.ok()) << pool.status();
      pools_.push_back(*std::move(pool));
    }
  }

  // Bytes one block takes across all layers, K and V.
  static int64_t BytesPerBlock(int64_t num_layers, int64_t block_size, int64_t kv_dim,
                               DType dtype = DType::kF32) {
    return 2 * num_layers * block_size * kv_dim * kernels::DTypeSize(dtype);
  }

  DType dtype() const { return dtype_; }
  int32_t block_size() const { return block_size_; }
  int64_t num_layers() const { return static_cast<int64_t>(pools_.size()) / 2; }
  // Layer `layer`'s K and V pools: [num_blocks * block_size, kv_dim] each.
  KvLayerView layer(int64_t layer) const {
    return {pools_[2 * layer].view(), pools_[2 * layer + 1].view(), block_size_};
  }

 private:
  DType dtype_;
  int32_t block_size_;
  std::vector<Tensor> pools_;  // K0, V0, K1, V1, ...
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_KV_CACHE_KV_CACHE_TENSORS_H_
