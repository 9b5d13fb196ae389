// engine/kv_cache/kv_cache_manager.cc
#include "engine/kv_cache/kv_cache_manager.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace inferd::engine {

KvCacheManager::KvCacheManager(int64_t num_blocks, int32_t block_size, bool enable_prefix_caching)
    : block_size_(block_size), prefix_caching_(enable_prefix_caching), pool_(num_blocks) {
  INFERD_CHECK_GT(block_size, 0);
}

void KvCacheManager::HashFullBlocks(absl::Span<const int32_t> tokens,
                                    std::vector<BlockHash>* hashes) const {
  if (!prefix_caching_) return;
  const int64_t full = static_cast<int64_t>(tokens.size()) / block_size_;
  for (int64_t i = static_cast<int64_t>(hashes->size()); i < full; ++i) {
    std::optional<BlockHash> parent;
    if (i > 0) parent = (*hashes)[i - 1];
    hashes->push_back(HashBlock(parent, tokens.subspan(i * block_size_, block_size_)));
  }
}

PrefixHit KvCacheManager::FindCachedPrefix(absl::Span<const BlockHash> hashes,
                                           int64_t max_tokens) const {
  PrefixHit hit;
  if (!prefix_caching_) return hit;
  const int64_t max_blocks =
      std::min<int64_t>(max_tokens / block_size_, static_cast<int64_t>(hashes.size()));
  for (int64_t i = 0; i < max_blocks; ++i) {
    std::optional<int32_t> block = pool_.Lookup(hashes[i]);
    if (!block.has_value()) break;
    hit.blocks.push_back(*block);
    hit.hashes.push_back(hashes[i]);
  }
  return hit;
}

bool KvCacheManager::Allocate(SeqId seq, int64_t num_tokens, const PrefixHit* hit) {
  auto it = tables_.find(seq);
  const bool fresh = it == tables_.end();
  const int64_t have = fresh ? 0 : static_cast<int64_t>(it->second.blocks.size());
  const int64_t num_hit = hit == nullptr ? 0 : static_cast<int64_t>(hit->blocks.size());
  INFERD_CHECK(num_hit == 0 || fresh) << "prefix hit for sequence " << seq << " that has blocks";
  const int64_t need = BlocksFor(num_tokens) - have - num_hit;
  INFERD_CHECK(num_hit == 0 || need >= 0) << "prefix hit longer than the tokens to hold";
  if (need <= 0 && num_hit == 0) return true;
  // Hit blocks that sit on the free list leave it: they cannot also be
  // handed out as new blocks.
  int64_t hit_free = 0;
  for (int64_t i = 0; i < num_hit; ++i) hit_free += pool_.ref_count(hit->blocks[i]) == 0;
  if (std::max<int64_t>(need, 0) > pool_.num_free_blocks() - hit_free) return false;

  Table& table = tables_[seq];
  for (int64_t i = 0; i < num_hit; ++i) {
    pool_.Touch(hit->blocks[i]);
    table.blocks.push_back(hit->blocks[i]);
    table.hashes.push_back(hit->hashes[i]);
  }
  if (need > 0) {
    std::optional<std::vector<int32_t>> blocks = pool_.Allocate(need);
    INFERD_CHECK(blocks.has_value());
    table.blocks.insert(table.blocks.end(), blocks->begin(), blocks->end());
  }
  return true;
}

bool KvCacheManager::Fork(SeqId parent, SeqId child, int64_t num_tokens,
                          std::optional<KvBlockCopy>* copy) {
  copy->reset();
  auto pit = tables_.find(parent);
  INFERD_CHECK(pit != tables_.end()) << "fork from sequence " << parent << " that has no blocks";
  INFERD_CHECK(!tables_.contains(child)) << "fork into sequence " << child << " that has blocks";
  INFERD_CHECK_GT(num_tokens, 0);
  INFERD_CHECK_LE(BlocksFor(num_tokens), static_cast<int64_t>(pit->second.blocks.size()))
      << "fork of " << num_tokens << " tokens from sequence " << parent << " that holds fewer";
  const int64_t full = num_tokens / block_size_;
  const int32_t partial = static_cast<int32_t>(num_tokens % block_size_);
  std::optional<std::vector<int32_t>> fresh;
  if (partial > 0) {
    fresh = pool_.Allocate(1);
    if (!fresh.has_value()) return false;
  }
  // `parent` may be rehashed below (tables_ grows): copy what is needed first.
  const Table& from = pit->second;
  Table table;
  table.blocks.assign(from.blocks.begin(), from.blocks.begin() + full);
  table.hashes.assign(from.hashes.begin(),
                      from.hashes.begin() + std::min<int64_t>(full, from.hashes.size()));
  table.num_forked = full;
  for (int32_t b : table.blocks) pool_.Touch(b);
  if (partial > 0) {
    *copy = KvBlockCopy{
        .src_block = from.blocks[full], .dst_block = (*fresh)[0], .num_tokens = partial};
    table.blocks.push_back((*fresh)[0]);
  }
  tables_.emplace(child, std::move(table));
  return true;
}

void KvCacheManager::CacheFullBlocks(SeqId seq, absl::Span<const BlockHash> hashes,
                                     int64_t num_computed) {
  if (!prefix_caching_) return;
  auto it = tables_.find(seq);
  if (it == tables_.end()) return;
  Table& table = it->second;
  const int64_t full =
      std::min({num_computed / block_size_, static_cast<int64_t>(table.blocks.size()),
                static_cast<int64_t>(hashes.size())});
  for (int64_t i = static_cast<int64_t>(table.hashes.size()); i < full; ++i) {
    // False when an identical block computed by another sequence is cached
    // already: this copy stays private and is simply freed later.
    pool_.Cache(table.blocks[i], hashes[i]);
    table.hashes.push_back(hashes[i]);
  }
}

void KvCacheManager::Free(SeqId seq) {
  auto it = tables_.find(seq);
  if (it == tables_.end()) return;
  std::vector<int32_t>& blocks = it->second.blocks;
  std::reverse(blocks.begin(), blocks.end());  // the tail is evicted first
  pool_.Release(blocks);
  tables_.erase(it);
}

void KvCacheManager::Truncate(SeqId seq, int64_t num_tokens) {
  auto it = tables_.find(seq);
  if (it == tables_.end()) return;
  Table& table = it->second;
  const int64_t keep = BlocksFor(num_tokens);
  if (keep >= static_cast<int64_t>(table.blocks.size())) return;
  INFERD_CHECK_LE(static_cast<int64_t>(table.hashes.size()), keep)
      << "truncating sequence " << seq << " below its cached blocks";
  INFERD_CHECK_LE(table.num_forked, keep)
      << "truncating sequence " << seq << " below its forked blocks";
  std::vector<int32_t> dropped(table.blocks.rbegin(),
                               table.blocks.rend() - keep);  // tail first
  pool_.Release(dropped);
  table.blocks.resize(keep);
}

const std::vector<int32_t>& KvCacheManager::BlockTable(SeqId seq) const {
  static const std::vector<int32_t> kEmpty;
  auto it = tables_.find(seq);
  return it == tables_.end() ? kEmpty : it->second.blocks;
}

absl::Status KvCacheManager::CheckIntegrity() const {
  if (absl::Status s = pool_.CheckIntegrity(); !s.ok()) return s;
  std::vector<int32_t> owners(pool_.num_blocks(), 0);
  std::vector<int32_t> forked_owners(pool_.num_blocks(), 0);
  for (const auto& [seq, table] : tables_) {
    if (table.num_forked > static_cast<int64_t>(table.blocks.size())) {
      return absl::InternalError(absl::StrCat("sequence ", seq, " forked more blocks than it has"));
    }
    if (table.hashes.size() > table.blocks.size()) {
      return absl::InternalError(absl::StrCat("sequence ", seq, " hashed more blocks than it has"));
    }
    for (size_t i = 0; i < table.blocks.size(); ++i) {
      const int32_t b = table.blocks[i];
      if (b < 0 || b >= pool_.num_blocks()) {
        return absl::InternalError(absl::StrCat("sequence ", seq, " holds bad block ", b));
      }
      ++owners[b];
      if (static_cast<int64_t>(i) < table.num_forked) ++forked_owners[b];
      std::optional<BlockHash> cached = pool_.CachedHash(b);
      // A forked block the table has not hashed yet may have been registered
      // by its parent since the fork.
      const bool forked_unhashed =
          static_cast<int64_t>(i) < table.num_forked && i >= table.hashes.size();
      if (cached.has_value() && !forked_unhashed &&
          (i >= table.hashes.size() || *cached != table.hashes[i])) {
        return absl::InternalError(absl::StrCat("sequence ", seq, " block ", i, " (physical ", b,
                                                ") is cached under another prefix"));
      }
    }
  }
  for (int64_t b = 0; b < pool_.num_blocks(); ++b) {
    const int32_t ref = pool_.ref_count(static_cast<int32_t>(b));
    if (owners[b] != ref) {
      return absl::InternalError(
          absl::StrCat("block ", b, " has ref count ", ref, " but ", owners[b], " owners"));
    }
    if (owners[b] > 1 && !pool_.CachedHash(static_cast<int32_t>(b)).has_value() &&
        forked_owners[b] < owners[b] - 1) {
      return absl::InternalError(
          absl::StrCat("block ", b, " is shared but neither cached nor forked"));
    }
  }
  return absl::OkStatus();
}

}  // namespace inferd::engine
