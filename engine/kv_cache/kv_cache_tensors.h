// engine/kv_cache/kv_cache_tensors.h — the KV cache memory itself: per layer,
// K and V pools of [num_blocks, block_size, num_kv_heads * head_dim] elements
// of the cache dtype (fp32, bf16 or fp16: --kv-cache-dtype).
//
// Allocated once at start from the memory budget and never resized. The
// block ids handed out by KvCacheManager index into these pools.
#ifndef INFERD_ENGINE_KV_CACHE_KV_CACHE_TENSORS_H_
#define INFERD_ENGINE_KV_CACHE_KV_CACHE_TENSORS_H_

#include <cstdint>
#include <utility>

#include "common/check.h"
#include "common/host_buffer.h"
#include "kernels/dtype.h"

namespace inferd::engine {

class KvCacheTensors {
 public:
  KvCacheTensors(int64_t num_layers, int64_t num_blocks, int64_t block_size, int64_t kv_dim,
                 kernels::DType dtype = kernels::DType::kF32)
      : dtype_(dtype), layer_bytes_(num_blocks * block_size * kv_dim * kernels::DTypeSize(dtype)) {
    // Deliberately uninitialised: pages are touched only when used. The
    // engine checked the budget against the machine's memory before this.
    auto buffer = HostBuffer::Allocate(2 * num_layers * layer_bytes_);
    INFERD_CHECK(buffer.ok()) << buffer.status();
    data_ = *std::move(buffer);
  }

  // Bytes one block takes across all layers, K and V.
  static int64_t BytesPerBlock(int64_t num_layers, int64_t block_size, int64_t kv_dim,
                               kernels::DType dtype = kernels::DType::kF32) {
    return 2 * num_layers * block_size * kv_dim * kernels::DTypeSize(dtype);
  }

  kernels::DType dtype() const { return dtype_; }
  void* k(int64_t layer) { return Bytes() + (2 * layer) * layer_bytes_; }
  void* v(int64_t layer) { return Bytes() + (2 * layer + 1) * layer_bytes_; }

 private:
  uint8_t* Bytes() { return static_cast<uint8_t*>(data_.data()); }
  kernels::DType dtype_;
  int64_t layer_bytes_;
  HostBuffer data_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_KV_CACHE_KV_CACHE_TENSORS_H_
