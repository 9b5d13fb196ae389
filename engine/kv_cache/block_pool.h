// engine/kv_cache/block_pool.h — the physical KV blocks and their reference
// counts.
//
// A block is free (ref count 0, on the free list) or owned (ref count >= 1,
// one count per block table that holds it). Allocation is all-or-nothing.
// Owned by the engine thread; not thread-safe.
#ifndef INFERD_ENGINE_KV_CACHE_BLOCK_POOL_H_
#define INFERD_ENGINE_KV_CACHE_BLOCK_POOL_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "absl/status/status.h"

namespace inferd::engine {

class BlockPool {
 public:
  explicit BlockPool(int64_t num_blocks);

  int64_t num_blocks() const { return static_cast<int64_t>(ref_counts_.size()); }
  int64_t num_free_blocks() const { return static_cast<int64_t>(free_.size()); }

  // Takes `n` free blocks (ref count 1 each), or nothing when fewer are free.
  std::optional<std::vector<int32_t>> Allocate(int64_t n);
  // Adds one owner to an owned block (sharing).
  void IncRef(int32_t block);
  // Drops one owner of each block; blocks that reach 0 return to the free list
  // (in the given order, so the block freed first is reused first).
  void Release(const std::vector<int32_t>& blocks);
  int32_t ref_count(int32_t block) const { return ref_counts_[block]; }

  // Free list and ref counts agree: every block is free xor owned, no
  // duplicates on the free list.
  absl::Status CheckIntegrity() const;

 private:
  std::vector<int32_t> ref_counts_;  // [num_blocks]
  std::deque<int32_t> free_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_KV_CACHE_BLOCK_POOL_H_
