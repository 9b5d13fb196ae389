// kernels/cuda/attention_common.cuh — what both attention kernels share: the
// paged-cache address of a position, the visibility rule (causal, optional
// tree mask) and the launchers behind PagedAttention (attention.cu).
#ifndef INFERD_KERNELS_CUDA_ATTENTION_COMMON_CUH_
#define INFERD_KERNELS_CUDA_ATTENTION_COMMON_CUH_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/cuda_ops.h"

namespace inferd::kernels::cuda {

// Scores are kept in the log2 domain: s = q·k * scale * log2(e), so the
// softmax uses exp2f.
constexpr float kLog2e = 1.4426950408889634f;

// Flat cache slot of position `pos` of sequence `seq`, or -1 when the block
// table has no valid block there (never an out-of-bounds read).
__device__ __forceinline__ int64_t SlotOf(const PagedAttentionArgs& a, int seq, int pos) {
  const int blk = pos / a.block_size;
  if (pos < 0 || blk >= a.max_blocks_per_seq) return -1;
  const int32_t block = a.block_tables[static_cast<int64_t>(seq) * a.max_blocks_per_seq + blk];
  if (block < 0) return -1;
  return static_cast<int64_t>(block) * a.block_size + pos % a.block_size;
}

// Whether a query row at position `qpos` sees key position `key`. `base` is
// the first new position of its sequence; with a tree (q_len <= 64 and a
// mask), new positions are visible only through the row's mask word.
__device__ __forceinline__ bool KeyVisible(int key, int qpos, int base, bool tree, uint64_t word) {
  if (key > qpos) return false;
  if (!tree || key < base) return true;
  return ((word >> (key - base)) & 1ull) != 0;
}

// Launchers (one per kernel file); PagedAttention validates `a` first.
bool FlashPrefillSupports(const PagedAttentionArgs& a);
void LaunchFlashPrefill(const PagedAttentionArgs& a, cudaStream_t stream);
int SplitKvMaxSplits(const PagedAttentionArgs& a);
int64_t SplitKvWorkspaceBytes(const PagedAttentionArgs& a);
void LaunchSplitKv(const PagedAttentionArgs& a, cudaStream_t stream);

}  // namespace inferd::kernels::cuda

#endif  // INFERD_KERNELS_CUDA_ATTENTION_COMMON_CUH_
