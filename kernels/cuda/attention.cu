// kernels/cuda/attention.cu — PagedAttention: validates the call once, then
// runs the split-KV kernel (short query lengths) or the FlashAttention-2
// prefill kernel (long chunks); see cuda_ops.h and the two kernel files.
#include <cstdint>

#include "common/check.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace inferd::kernels::cuda {
namespace {

void Validate(const PagedAttentionArgs& a) {
  INFERD_CHECK(a.num_seqs >= 0 && a.num_tokens >= 0);
  INFERD_CHECK_LE(a.num_seqs, 65535) << "sequences per call (grid z)";
  INFERD_CHECK(a.num_q_heads > 0 && a.num_kv_heads > 0 && a.num_q_heads % a.num_kv_heads == 0)
      << "heads " << a.num_q_heads << " / " << a.num_kv_heads;
  INFERD_CHECK_LE(a.num_q_heads, 65535);
  INFERD_CHECK(a.head_dim > 0 && a.head_dim <= 256) << "head_dim " << a.head_dim;
  INFERD_CHECK(a.block_size > 0 && a.max_blocks_per_seq > 0);
  INFERD_CHECK(a.max_query_len >= 1 && a.max_query_len <= a.max_seq_len)
      << "max_query_len " << a.max_query_len << " max_seq_len " << a.max_seq_len;
  INFERD_CHECK_LE(static_cast<int64_t>(a.max_seq_len),
                  static_cast<int64_t>(a.max_blocks_per_seq) * a.block_size)
      << "max_seq_len beyond the block table";
  INFERD_CHECK(a.q != nullptr && a.k_cache != nullptr && a.v_cache != nullptr && a.out != nullptr &&
               a.query_start != nullptr && a.seq_lens != nullptr && a.block_tables != nullptr);
}

}  // namespace

AttentionKernel SelectAttentionKernel(const PagedAttentionArgs& a) {
  if (a.kernel != AttentionKernel::kAuto) return a.kernel;
  if (a.max_query_len > kSplitKvMaxQueryLen && FlashPrefillSupports(a)) {
    return AttentionKernel::kFlashPrefill;
  }
  return AttentionKernel::kSplitKv;
}

int64_t PagedAttentionWorkspaceBytes(const PagedAttentionArgs& a) {
  return SelectAttentionKernel(a) == AttentionKernel::kSplitKv ? SplitKvWorkspaceBytes(a) : 0;
}

void PagedAttention(const PagedAttentionArgs& a, cudaStream_t stream) {
  if (a.num_seqs == 0 || a.num_tokens == 0) return;
  Validate(a);
  if (SelectAttentionKernel(a) == AttentionKernel::kFlashPrefill) {
    LaunchFlashPrefill(a, stream);
  } else {
    LaunchSplitKv(a, stream);
  }
}

}  // namespace inferd::kernels::cuda
