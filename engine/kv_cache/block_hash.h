// engine/kv_cache/block_hash.h — the identity of a full KV block for
// automatic prefix caching (DESIGN §3).
//
// A full block's KV depends on its own token ids, on every token before it
// (through attention) and on their positions. The hash therefore chains the
// parent block's hash (which covers all earlier tokens and fixes the
// position) with the block's token ids, plus an extra key for anything else
// that would change the KV (none today: one model, no adapters; a per-tenant
// cache salt would go there). 128 bits, from two differently keyed 64-bit
// Abseil hashes, so an accidental match of two different prefixes is
// negligible at any pool size. Values are stable within one process only.
#ifndef INFERD_ENGINE_KV_CACHE_BLOCK_HASH_H_
#define INFERD_ENGINE_KV_CACHE_BLOCK_HASH_H_

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/types/span.h"

namespace inferd::engine {

struct BlockHash {
  uint64_t hi = 0;
  uint64_t lo = 0;

  friend bool operator==(const BlockHash& a, const BlockHash& b) {
    return a.hi == b.hi && a.lo == b.lo;
  }
  friend bool operator!=(const BlockHash& a, const BlockHash& b) { return !(a == b); }
  template <typename H>
  friend H AbslHashValue(H h, const BlockHash& x) {
    return H::combine(std::move(h), x.hi, x.lo);
  }
};

// The hash of the full block `tokens` ([block_size] ids) that follows the
// block hashed `parent` (nullopt for a sequence's first block).
inline BlockHash HashBlock(const std::optional<BlockHash>& parent, absl::Span<const int32_t> tokens,
                           uint64_t extra_key = 0) {
  const BlockHash p = parent.value_or(BlockHash{});
  const bool first = !parent.has_value();
  return BlockHash{
      absl::HashOf(uint64_t{0x9e3779b97f4a7c15}, first, p.hi, p.lo, tokens, extra_key),
      absl::HashOf(uint64_t{0xc2b2ae3d27d4eb4f}, first, p.lo, p.hi, extra_key, tokens)};
}

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_KV_CACHE_BLOCK_HASH_H_
