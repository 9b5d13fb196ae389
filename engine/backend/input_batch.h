// engine/backend/input_batch.h — one step's flat "varlen" batch: every
// scheduled sequence's new tokens back to back, with what attention needs to
// find their context in the paged cache (DESIGN §2).
#ifndef INFERD_ENGINE_BACKEND_INPUT_BATCH_H_
#define INFERD_ENGINE_BACKEND_INPUT_BATCH_H_

#include <algorithm>
#include <cstdint>
#include <vector>

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
  // Per row, the tree-mask word (kernels::PagedAttentionParams::tree_mask); empty unless a sequence
  // in the batch verifies a draft tree (then every row has its word).
  std::vector<uint64_t> tree_mask;  // [num_tokens] or empty

  int32_t num_tokens() const { return static_cast<int32_t>(token_ids.size()); }
  int32_t num_seqs() const { return static_cast<int32_t>(seq_lens.size()); }
  // The longest query (new tokens of one sequence) and context of the step.
  int32_t max_query_len() const {
    int32_t m = 0;
    for (int32_t s = 0; s < num_seqs(); ++s) m = std::max(m, query_start[s + 1] - query_start[s]);
    return m;
  }
  int32_t max_seq_len() const {
    int32_t m = 0;
    for (int32_t len : seq_lens) m = std::max(m, len);
    return m;
  }
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

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_BACKEND_INPUT_BATCH_H_
