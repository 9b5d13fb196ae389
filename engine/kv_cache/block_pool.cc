// engine/kv_cache/block_pool.cc
#include "engine/kv_cache/block_pool.h"

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace inferd::engine {

BlockPool::BlockPool(int64_t num_blocks)
    : ref_counts_(num_blocks, 0),
      prev_(num_blocks, kNone),
      next_(num_blocks, kNone),
      hash_of_(num_blocks) {
  INFERD_CHECK_GE(num_blocks, 0);
  INFERD_CHECK_LE(num_blocks, int64_t{1} << 30);
  for (int64_t i = 0; i < num_blocks; ++i) PushBack(static_cast<int32_t>(i));
}

void BlockPool::PushBack(int32_t block) {
  prev_[block] = tail_;
  next_[block] = kNone;
  if (tail_ == kNone) {
    head_ = block;
  } else {
    next_[tail_] = block;
  }
  tail_ = block;
  ++num_free_;
  if (hash_of_[block].has_value()) ++num_cached_free_;
}

void BlockPool::Unlink(int32_t block) {
  if (prev_[block] == kNone) {
    head_ = next_[block];
  } else {
    next_[prev_[block]] = next_[block];
  }
  if (next_[block] == kNone) {
    tail_ = prev_[block];
  } else {
    prev_[next_[block]] = prev_[block];
  }
  prev_[block] = next_[block] = kNone;
  --num_free_;
  if (hash_of_[block].has_value()) --num_cached_free_;
}

void BlockPool::Evict(int32_t block) {
  if (!hash_of_[block].has_value()) return;
  cached_.erase(*hash_of_[block]);
  hash_of_[block].reset();
}

std::optional<std::vector<int32_t>> BlockPool::Allocate(int64_t n) {
  INFERD_CHECK_GE(n, 0);
  if (n > num_free_) return std::nullopt;
  std::vector<int32_t> blocks;
  blocks.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t b = head_;
    INFERD_CHECK_EQ(ref_counts_[b], 0) << "block " << b << " on the free list is owned";
    Unlink(b);
    Evict(b);
    ref_counts_[b] = 1;
    blocks.push_back(b);
  }
  return blocks;
}

void BlockPool::Touch(int32_t block) {
  if (ref_counts_[block] == 0) {
    INFERD_CHECK(hash_of_[block].has_value()) << "Touch of free uncached block " << block;
    Unlink(block);
  }
  ++ref_counts_[block];
}

void BlockPool::Release(const std::vector<int32_t>& blocks) {
  for (int32_t b : blocks) {
    INFERD_CHECK_GT(ref_counts_[b], 0) << "double free of block " << b;
    if (--ref_counts_[b] == 0) PushBack(b);
  }
}

std::optional<int32_t> BlockPool::Lookup(BlockHash hash) const {
  auto it = cached_.find(hash);
  if (it == cached_.end()) return std::nullopt;
  return it->second;
}

bool BlockPool::Cache(int32_t block, BlockHash hash) {
  INFERD_CHECK_GT(ref_counts_[block], 0) << "caching free block " << block;
  if (hash_of_[block].has_value()) return false;
  if (!cached_.emplace(hash, block).second) return false;
  hash_of_[block] = hash;
  return true;
}

std::optional<BlockHash> BlockPool::CachedHash(int32_t block) const { return hash_of_[block]; }

absl::Status BlockPool::CheckIntegrity() const {
  std::vector<uint8_t> on_free_list(ref_counts_.size(), 0);
  int64_t free_count = 0;
  int64_t cached_free_count = 0;
  int32_t prev = kNone;
  for (int32_t b = head_; b != kNone; prev = b, b = next_[b]) {
    if (b < 0 || b >= num_blocks()) return absl::InternalError(absl::StrCat("bad free block ", b));
    if (on_free_list[b]) return absl::InternalError(absl::StrCat("block ", b, " freed twice"));
    if (prev_[b] != prev) {
      return absl::InternalError(absl::StrCat("free list links broken at block ", b));
    }
    on_free_list[b] = 1;
    ++free_count;
    if (hash_of_[b].has_value()) ++cached_free_count;
    if (ref_counts_[b] != 0) {
      return absl::InternalError(absl::StrCat("free block ", b, " has ref count ", ref_counts_[b]));
    }
  }
  if (prev != tail_) return absl::InternalError("free list tail is not its last block");
  if (free_count != num_free_ || cached_free_count != num_cached_free_) {
    return absl::InternalError(absl::StrCat("free counts ", num_free_, "/", num_cached_free_,
                                            " but the free list has ", free_count, "/",
                                            cached_free_count));
  }
  int64_t hashed = 0;
  for (int64_t b = 0; b < num_blocks(); ++b) {
    if (ref_counts_[b] < 0) {
      return absl::InternalError(absl::StrCat("negative ref count, block ", b));
    }
    if (ref_counts_[b] == 0 && !on_free_list[b]) {
      return absl::InternalError(absl::StrCat("block ", b, " leaked: no owner, not free"));
    }
    if (hash_of_[b].has_value()) {
      ++hashed;
      auto it = cached_.find(*hash_of_[b]);
      if (it == cached_.end() || it->second != b) {
        return absl::InternalError(absl::StrCat("cached block ", b, " is not indexed"));
      }
    }
  }
  if (hashed != static_cast<int64_t>(cached_.size())) {
    return absl::InternalError(absl::StrCat("cache index has ", cached_.size(), " entries for ",
                                            hashed, " cached blocks"));
  }
  return absl::OkStatus();
}

}  // namespace inferd::engine
