// engine/kv_cache/kv_cache_manager.cc
#include "engine/kv_cache/kv_cache_manager.h"

#include "absl/strings/str_cat.h"
#include "kernels/check.h"

namespace inferd::engine {

KvCacheManager::KvCacheManager(int64_t num_blocks, int32_t block_size)
    : block_size_(block_size), pool_(num_blocks) {
  INFERD_CHECK_GT(block_size, 0);
}

bool KvCacheManager::Allocate(SeqId seq, int64_t num_tokens) {
  std::vector<int32_t>& table = tables_[seq];
  const int64_t need = BlocksFor(num_tokens) - static_cast<int64_t>(table.size());
  if (need <= 0) return true;
  std::optional<std::vector<int32_t>> blocks = pool_.Allocate(need);
  if (!blocks.has_value()) {
    if (table.empty()) tables_.erase(seq);
    return false;
  }
  table.insert(table.end(), blocks->begin(), blocks->end());
  return true;
}

void KvCacheManager::Free(SeqId seq) {
  auto it = tables_.find(seq);
  if (it == tables_.end()) return;
  pool_.Release(it->second);
  tables_.erase(it);
}

const std::vector<int32_t>& KvCacheManager::BlockTable(SeqId seq) const {
  static const std::vector<int32_t> kEmpty;
  auto it = tables_.find(seq);
  return it == tables_.end() ? kEmpty : it->second;
}

absl::Status KvCacheManager::CheckIntegrity() const {
  if (absl::Status s = pool_.CheckIntegrity(); !s.ok()) return s;
  std::vector<int32_t> owners(pool_.num_blocks(), 0);
  for (const auto& [seq, table] : tables_) {
    for (int32_t b : table) {
      if (b < 0 || b >= pool_.num_blocks()) {
        return absl::InternalError(absl::StrCat("sequence ", seq, " holds bad block ", b));
      }
      ++owners[b];
    }
  }
  for (int64_t b = 0; b < pool_.num_blocks(); ++b) {
    if (owners[b] != pool_.ref_count(static_cast<int32_t>(b))) {
      return absl::InternalError(absl::StrCat("block ", b, " has ref count ",
                                              pool_.ref_count(static_cast<int32_t>(b)), " but ",
                                              owners[b], " owners"));
    }
  }
  return absl::OkStatus();
}

}  // namespace inferd::engine
