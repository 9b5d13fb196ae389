// engine/model/input_batch.h — one step's flat "varlen" batch: every
// scheduled sequence's new tokens back to back, with what attention needs to
// find their context in the paged cache (DESIGN §2).
#ifndef INFERD_ENGINE_MODEL_INPUT_BATCH_H_
#define INFERD_ENGINE_MODEL_INPUT_BATCH_H_

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/ops.h"

namespace inferd::engine {

struct InputBatch {
  std::vector<int32_t> token_ids;     // [num_tokens]
  std::vector<int32_t> positions;     // [num_tokens]
  std::vector<int32_t> slot_mapping;  // [num_tokens] block * block_size + offset
  std::vector<int32_t> query_start;   // [num_seqs + 1]
  std::vector<int32_t> seq_lens;      // [num_seqs] context length after this step
  std::vector<int32_t> block_tables;  // [num_seqs, max_blocks_per_seq]
  int32_t max_blocks_per_seq = 0;
  std::vector<int32_t> logits_rows;  // rows (token indices) whose logits are wanted
  // Per row, PagedAttentionParams::tree_mask; empty unless a sequence in the
  // batch verifies a draft tree (then every row has its word).
  std::vector<uint64_t> tree_mask;  // [num_tokens] or empty

  int32_t num_tokens() const { return static_cast<int32_t>(token_ids.size()); }
  int32_t num_seqs() const { return static_cast<int32_t>(seq_lens.size()); }
  void Clear() {
    token_ids.clear();
    positions.clear();
    slot_mapping.clear();
    query_start.assign(1, 0);
    seq_lens.clear();
    block_tables.clear();
    max_blocks_per_seq = 0;
    logits_rows.clear();
    tree_mask.clear();
  }
};

// The attention op's parameters for `batch`'s layout (query ranges, context
// lengths, block tables, tree mask) and a model's head shape; the caller
// sets q, k_cache, v_cache and out.
inline kernels::PagedAttentionParams BatchAttentionParams(const InputBatch& batch,
                                                          int64_t num_q_heads, int64_t num_kv_heads,
                                                          int64_t head_dim, int32_t block_size) {
  kernels::PagedAttentionParams p;
  p.query_start = batch.query_start.data();
  p.seq_lens = batch.seq_lens.data();
  p.block_tables = batch.block_tables.data();
  p.num_seqs = batch.num_seqs();
  p.max_blocks_per_seq = batch.max_blocks_per_seq;
  p.num_q_heads = static_cast<int32_t>(num_q_heads);
  p.num_kv_heads = static_cast<int32_t>(num_kv_heads);
  p.head_dim = static_cast<int32_t>(head_dim);
  p.block_size = block_size;
  p.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  p.tree_mask = batch.tree_mask.empty() ? nullptr : batch.tree_mask.data();
  return p;
}

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_INPUT_BATCH_H_
