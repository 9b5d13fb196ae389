// engine/kv_cache/kv_cache_manager.h — per-sequence block tables over the
// block pool, with automatic prefix caching (DESIGN §3).
//
// The scheduler asks for room (`Allocate`) before a sequence computes new
// tokens and calls `Free` when it finishes or is preempted. With prefix
// caching on, every full block a sequence has computed is registered under
// its chained hash (`CacheFullBlocks`); a sequence that starts (or restarts
// after preemption) first looks up the longest run of its leading full
// blocks already in the pool (`FindCachedPrefix`) and shares them instead of
// recomputing. A freed block keeps its cached content until the pool needs
// it again, least recently freed first; a sequence frees its tail first, so
// the shared heads of prefixes live longest. A sequence may also fork from
// another (`Fork`, the n choices of one prompt): it shares the parent's full
// blocks and gets its own copy of the last partial one. Block tables are
// handed out read-only. Owned by the engine thread; not thread-safe.
#ifndef INFERD_ENGINE_KV_CACHE_KV_CACHE_MANAGER_H_
#define INFERD_ENGINE_KV_CACHE_KV_CACHE_MANAGER_H_

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/kv_cache/block_hash.h"
#include "engine/kv_cache/block_pool.h"

namespace inferd::engine {

using SeqId = int64_t;

// Leading full blocks of a token sequence found in the cache.
struct PrefixHit {
  std::vector<int32_t> blocks;    // physical blocks, in order
  std::vector<BlockHash> hashes;  // their chained hashes
};

// Copy-on-write of a forked sequence's last partial block: the first
// `num_tokens` KV rows of `src_block` go to the same rows of `dst_block`
// (every layer, K and V), once the step that computes them has run.
struct KvBlockCopy {
  int32_t src_block = 0;
  int32_t dst_block = 0;
  int32_t num_tokens = 0;
};

class KvCacheManager {
 public:
  KvCacheManager(int64_t num_blocks, int32_t block_size, bool enable_prefix_caching = true);

  int32_t block_size() const { return block_size_; }
  bool prefix_caching() const { return prefix_caching_; }
  int64_t num_blocks() const { return pool_.num_blocks(); }
  // Blocks owned by no sequence (cached ones included: they can be evicted).
  int64_t num_free_blocks() const { return pool_.num_free_blocks(); }
  // Of those, the ones still holding a reusable cached block.
  int64_t num_cached_free_blocks() const { return pool_.num_cached_free_blocks(); }

  // Blocks needed to hold `num_tokens` tokens.
  int64_t BlocksFor(int64_t num_tokens) const {
    return (num_tokens + block_size_ - 1) / block_size_;
  }

  // Extends `hashes` (the chained hashes of the leading full blocks of
  // `tokens`, as far as computed before) to every full block of `tokens`.
  // Sequences keep theirs, so each token is hashed once. A no-op when prefix
  // caching is off.
  void HashFullBlocks(absl::Span<const int32_t> tokens, std::vector<BlockHash>* hashes) const;
  // The longest run of leading blocks among `hashes` (from HashFullBlocks),
  // covering at most `max_tokens` tokens, whose KV the pool holds. Changes
  // nothing; empty when prefix caching is off.
  PrefixHit FindCachedPrefix(absl::Span<const BlockHash> hashes, int64_t max_tokens) const;

  // Grows `seq`'s block table so it holds `num_tokens` tokens. A sequence
  // with no blocks yet may start from `hit` (found by FindCachedPrefix since
  // the last change to the pool): its blocks are shared, not recomputed. All
  // or nothing: returns false (and changes nothing) when the pool lacks
  // blocks.
  bool Allocate(SeqId seq, int64_t num_tokens, const PrefixHit* hit = nullptr);
  // Gives `child` (which holds no blocks) a table for the first `num_tokens`
  // tokens of `parent` (whose table holds at least those): every full block
  // among them is shared (one more owner each, whether cached or not), and
  // the partial block after them, if any, is a fresh block of the child's
  // into which the caller must copy the parent's rows (`*copy`, set only
  // then). The child then writes only past `num_tokens`, into blocks of its
  // own. All or nothing: false (nothing changed) when no block is free for
  // the copy.
  bool Fork(SeqId parent, SeqId child, int64_t num_tokens, std::optional<KvBlockCopy>* copy);
  // Registers in the prefix cache every full block of `seq` among its first
  // `num_computed` tokens not registered yet; `hashes` are the sequence's
  // block hashes (from HashFullBlocks). A no-op when prefix caching is off.
  void CacheFullBlocks(SeqId seq, absl::Span<const BlockHash> hashes, int64_t num_computed);
  // Returns every block of `seq` to the pool (tail first) and forgets its
  // table. Cached blocks stay reusable until evicted.
  void Free(SeqId seq);
  // Shrinks `seq`'s table to the blocks holding its first `num_tokens`
  // tokens, returning the rest (tail first): rejected speculative positions.
  // The dropped blocks are never cached ones (those hold computed tokens).
  void Truncate(SeqId seq, int64_t num_tokens);

  // The physical block of each logical block; empty for unknown sequences.
  const std::vector<int32_t>& BlockTable(SeqId seq) const;
  int64_t num_sequences() const { return static_cast<int64_t>(tables_.size()); }

  // Every block is free (possibly cached) xor owned; ref counts equal the
  // number of tables holding a block; no table holds a block twice; the cache
  // index and the blocks agree; a table's cached blocks carry the hash the
  // table computed for them; a block held by several tables is cached or was
  // shared by Fork (it is among the forked leading blocks of all its owners
  // but one).
  absl::Status CheckIntegrity() const;

 private:
  struct Table {
    std::vector<int32_t> blocks;
    std::vector<BlockHash> hashes;  // of blocks[0, hashes.size()), all full
    int64_t num_forked = 0;         // leading full blocks shared by Fork
  };

  int32_t block_size_;
  bool prefix_caching_;
  BlockPool pool_;
  std::unordered_map<SeqId, Table> tables_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_KV_CACHE_KV_CACHE_MANAGER_H_
