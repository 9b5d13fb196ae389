// engine/kv_cache/block_pool.h — the physical KV blocks, their reference
// counts, and the prefix cache's hash -> block index.
//
// A block is owned (ref count >= 1, one count per block table that holds it)
// or free (ref count 0, on the free list). A free block may still be cached:
// it keeps the hash of the full block of tokens whose KV it holds, so a later
// sequence with the same prefix can take it back instead of recomputing it.
// The free list is the eviction order (least recently freed first):
// Allocate takes blocks from its head and drops their hashes, Touch takes a
// cached free block out of the middle. All allocation is all-or-nothing.
// Owned by the engine thread; not thread-safe.
#ifndef INFERD_ENGINE_KV_CACHE_BLOCK_POOL_H_
#define INFERD_ENGINE_KV_CACHE_BLOCK_POOL_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "engine/kv_cache/block_hash.h"

namespace inferd::engine {

class BlockPool {
 public:
  explicit BlockPool(int64_t num_blocks);

  int64_t num_blocks() const { return static_cast<int64_t>(ref_counts_.size()); }
  // Blocks no table holds (cached or not).
  int64_t num_free_blocks() const { return num_free_; }
  // Free blocks that still hold a cached full block.
  int64_t num_cached_free_blocks() const { return num_cached_free_; }
  // Blocks that hold a cached full block (owned or free).
  int64_t num_cached_blocks() const { return static_cast<int64_t>(cached_.size()); }

  // Takes `n` free blocks (ref count 1 each) from the head of the free list,
  // evicting any cached content, or nothing when fewer are free.
  std::optional<std::vector<int32_t>> Allocate(int64_t n);
  // Adds one owner to a block: an owned block (sharing) or a cached free block
  // (a prefix hit; it leaves the free list).
  void Touch(int32_t block);
  // Drops one owner of each block; blocks that reach 0 join the tail of the
  // free list in the given order (so the first of them is evicted first).
  void Release(const std::vector<int32_t>& blocks);
  int32_t ref_count(int32_t block) const { return ref_counts_[block]; }

  // The block caching `hash`, if any.
  std::optional<int32_t> Lookup(BlockHash hash) const;
  // Records that owned `block` holds the full block `hash`. Returns false (and
  // changes nothing) when another block already caches `hash`, or when
  // `block` already caches something.
  bool Cache(int32_t block, BlockHash hash);
  // The hash `block` caches, if any.
  std::optional<BlockHash> CachedHash(int32_t block) const;

  // Free list, ref counts and the cache index agree: every block is free xor
  // owned, the free list has no duplicates, every index entry names a block
  // caching that hash and every cached block is indexed.
  absl::Status CheckIntegrity() const;

 private:
  static constexpr int32_t kNone = -1;
  void Unlink(int32_t block);
  void PushBack(int32_t block);
  void Evict(int32_t block);

  std::vector<int32_t> ref_counts_;  // [num_blocks]
  // The free list, intrusive and doubly linked so Touch is O(1).
  std::vector<int32_t> prev_;  // [num_blocks]
  std::vector<int32_t> next_;  // [num_blocks]
  int32_t head_ = kNone;
  int32_t tail_ = kNone;
  int64_t num_free_ = 0;
  int64_t num_cached_free_ = 0;
  std::vector<std::optional<BlockHash>> hash_of_;  // [num_blocks]
  absl::flat_hash_map<BlockHash, int32_t> cached_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_KV_CACHE_BLOCK_POOL_H_
