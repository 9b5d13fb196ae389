// engine/kv_cache/block_pool.cc
#include "engine/kv_cache/block_pool.h"

#include "absl/strings/str_cat.h"
#include "kernels/check.h"

namespace inferd::engine {

BlockPool::BlockPool(int64_t num_blocks) : ref_counts_(num_blocks, 0) {
  INFERD_CHECK_GE(num_blocks, 0);
  INFERD_CHECK_LE(num_blocks, int64_t{1} << 30);
  for (int64_t i = 0; i < num_blocks; ++i) free_.push_back(static_cast<int32_t>(i));
}

std::optional<std::vector<int32_t>> BlockPool::Allocate(int64_t n) {
  INFERD_CHECK_GE(n, 0);
  if (n > num_free_blocks()) return std::nullopt;
  std::vector<int32_t> blocks;
  blocks.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    int32_t b = free_.front();
    free_.pop_front();
    INFERD_CHECK_EQ(ref_counts_[b], 0) << "block " << b << " on the free list is owned";
    ref_counts_[b] = 1;
    blocks.push_back(b);
  }
  return blocks;
}

void BlockPool::IncRef(int32_t block) {
  INFERD_CHECK_GT(ref_counts_[block], 0) << "IncRef of free block " << block;
  ++ref_counts_[block];
}

void BlockPool::Release(const std::vector<int32_t>& blocks) {
  for (int32_t b : blocks) {
    INFERD_CHECK_GT(ref_counts_[b], 0) << "double free of block " << b;
    if (--ref_counts_[b] == 0) free_.push_back(b);
  }
}

absl::Status BlockPool::CheckIntegrity() const {
  std::vector<uint8_t> on_free_list(ref_counts_.size(), 0);
  for (int32_t b : free_) {
    if (b < 0 || b >= num_blocks()) return absl::InternalError(absl::StrCat("bad free block ", b));
    if (on_free_list[b]) return absl::InternalError(absl::StrCat("block ", b, " freed twice"));
    on_free_list[b] = 1;
    if (ref_counts_[b] != 0) {
      return absl::InternalError(absl::StrCat("free block ", b, " has ref count ", ref_counts_[b]));
    }
  }
  for (int64_t b = 0; b < num_blocks(); ++b) {
    if (ref_counts_[b] < 0)
      return absl::InternalError(absl::StrCat("negative ref count, block ", b));
    if (ref_counts_[b] == 0 && !on_free_list[b]) {
      return absl::InternalError(absl::StrCat("block ", b, " leaked: no owner, not free"));
    }
  }
  return absl::OkStatus();
}

}  // namespace inferd::engine
