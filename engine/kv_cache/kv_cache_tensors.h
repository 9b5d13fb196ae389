// engine/kv_cache/kv_cache_tensors.h — the KV cache memory itself: per layer,
// K and V pools of [num_blocks, block_size, num_kv_heads * head_dim] floats.
//
// Allocated once at start from the memory budget and never resized. The
// block ids handed out by KvCacheManager index into these pools.
#ifndef INFERD_ENGINE_KV_CACHE_KV_CACHE_TENSORS_H_
#define INFERD_ENGINE_KV_CACHE_KV_CACHE_TENSORS_H_

#include <cstdint>
#include <memory>

namespace inferd::engine {

class KvCacheTensors {
 public:
  KvCacheTensors(int64_t num_layers, int64_t num_blocks, int64_t block_size, int64_t kv_dim)
      : layer_stride_(num_blocks * block_size * kv_dim),
        // Deliberately uninitialised: pages are touched only when used.
        data_(new float[static_cast<size_t>(2 * num_layers * layer_stride_)]) {}

  // Bytes one block takes across all layers, K and V.
  static int64_t BytesPerBlock(int64_t num_layers, int64_t block_size, int64_t kv_dim) {
    return 2 * num_layers * block_size * kv_dim * static_cast<int64_t>(sizeof(float));
  }

  float* k(int64_t layer) { return data_.get() + (2 * layer) * layer_stride_; }
  float* v(int64_t layer) { return data_.get() + (2 * layer + 1) * layer_stride_; }

 private:
  int64_t layer_stride_;
  std::unique_ptr<float[]> data_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_KV_CACHE_KV_CACHE_TENSORS_H_
