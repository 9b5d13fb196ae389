// engine/kv_cache/kv_cache_manager.h — per-sequence block tables over the
// block pool.
//
// The scheduler asks for room (`Allocate`) before a sequence computes new
// tokens and calls `Free` when it finishes or is preempted. Block tables are
// handed out read-only; the pool and its free list stay private. Owned by the
// engine thread; not thread-safe.
#ifndef INFERD_ENGINE_KV_CACHE_KV_CACHE_MANAGER_H_
#define INFERD_ENGINE_KV_CACHE_KV_CACHE_MANAGER_H_

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "engine/kv_cache/block_pool.h"

namespace inferd::engine {

using SeqId = int64_t;

class KvCacheManager {
 public:
  KvCacheManager(int64_t num_blocks, int32_t block_size);

  int32_t block_size() const { return block_size_; }
  int64_t num_blocks() const { return pool_.num_blocks(); }
  int64_t num_free_blocks() const { return pool_.num_free_blocks(); }

  // Blocks needed to hold `num_tokens` tokens.
  int64_t BlocksFor(int64_t num_tokens) const {
    return (num_tokens + block_size_ - 1) / block_size_;
  }
  // Grows `seq`'s block table so it holds `num_tokens` tokens. All or nothing:
  // returns false (and changes nothing) when the pool lacks blocks.
  bool Allocate(SeqId seq, int64_t num_tokens);
  // Returns every block of `seq` to the pool and forgets its table.
  void Free(SeqId seq);

  // The physical block of each logical block; empty for unknown sequences.
  const std::vector<int32_t>& BlockTable(SeqId seq) const;
  int64_t num_sequences() const { return static_cast<int64_t>(tables_.size()); }

  // Every block is free xor owned; ref counts equal the number of tables
  // holding a block; no table holds a block twice.
  absl::Status CheckIntegrity() const;

 private:
  int32_t block_size_;
  BlockPool pool_;
  std::unordered_map<SeqId, std::vector<int32_t>> tables_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_KV_CACHE_KV_CACHE_MANAGER_H_
