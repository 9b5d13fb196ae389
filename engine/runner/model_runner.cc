// engine/runner/model_runner.cc
#include "engine/runner/model_runner.h"

#include <algorithm>

#include "common/check.h"

namespace inferd::engine {

ModelRunner::ModelRunner(std::unique_ptr<Transformer> model, int64_t num_blocks, int32_t block_size,
                         DType kv_dtype)
    : model_(std::move(model)),
      block_size_(block_size),
      kv_(model_->backend(), model_->config().num_hidden_layers, num_blocks, block_size,
          model_->kv_dim(), kv_dtype) {}

void ModelRunner::BuildBatch(const SchedulerOutput& plan,
                             absl::FunctionRef<const Sequence&(SeqId)> lookup,
                             const KvCacheManager& kv_cache) {
  batch_.Clear();
  int32_t max_blocks = 0;
  for (const ScheduledSequence& s : plan.scheduled) {
    max_blocks =
        std::max<int32_t>(max_blocks, static_cast<int32_t>(kv_cache.BlockTable(s.id).size()));
  }
  batch_.max_blocks_per_seq = max_blocks;
  bool has_tree = false;
  for (const ScheduledSequence& s : plan.scheduled) {
    if (s.num_draft_tokens > 0 && lookup(s.id).draft.is_tree()) has_tree = true;
  }
  batch_.block_tables.assign(plan.scheduled.size() * max_blocks, 0);

  for (size_t i = 0; i < plan.scheduled.size(); ++i) {
    const ScheduledSequence& s = plan.scheduled[i];
    const Sequence& seq = lookup(s.id);
    const std::vector<int32_t>& table = kv_cache.BlockTable(s.id);
    if (s.num_draft_tokens > 0 && seq.draft.is_tree()) ComputeDepths(seq.draft, s.num_draft_tokens);
    const int64_t end = s.num_computed_before + s.num_new_tokens;
    INFERD_CHECK_GE(static_cast<int64_t>(table.size()) * block_size_, end);
    // Real tokens, then the draft's nodes (whose cache positions follow the
    // last real token's; a tree node's RoPE position is its depth's).
    const int64_t real_end = end - s.num_draft_tokens;
    INFERD_CHECK_LE(real_end, seq.num_tokens());
    INFERD_CHECK_LE(s.num_draft_tokens, seq.draft.size());
    const int32_t row_begin = static_cast<int32_t>(batch_.token_ids.size());
    for (int64_t pos = s.num_computed_before; pos < end; ++pos) {
      const int64_t node = pos - (real_end - 1);  // draft node index (>= 1 for drafts)
      int64_t rope_pos = pos;
      if (node >= 1) {
        batch_.token_ids.push_back(seq.draft.tokens[node - 1]);
        if (seq.draft.is_tree()) rope_pos = real_end - 1 + draft_depth_[node];
      } else {
        batch_.token_ids.push_back(seq.token_ids[pos]);
      }
      batch_.positions.push_back(static_cast<int32_t>(rope_pos));
      batch_.slot_mapping.push_back(table[pos / block_size_] * block_size_ +
                                    static_cast<int32_t>(pos % block_size_));
    }
    batch_.query_start.push_back(static_cast<int32_t>(batch_.token_ids.size()));
    batch_.seq_lens.push_back(static_cast<int32_t>(end));
    std::copy(table.begin(), table.end(), batch_.block_tables.begin() + i * max_blocks);
    if (s.samples) {
      for (int64_t r = batch_.query_start.back() - 1 - s.num_draft_tokens;
           r < batch_.query_start.back(); ++r) {
        batch_.logits_rows.push_back(static_cast<int32_t>(r));
      }
    }
    if (has_tree) AppendMaskWords(s, seq, row_begin);
  }
}

void ModelRunner::ComputeDepths(const SpecDraft& draft, int64_t n) {
  draft_depth_.assign(n + 1, 0);
  draft_word_.assign(n + 1, 1);  // the root sees itself
  for (int64_t j = 1; j <= n; ++j) {
    const int32_t parent = draft.is_tree() ? draft.parents[j - 1] : static_cast<int32_t>(j - 1);
    INFERD_CHECK(parent >= 0 && parent < j) << "draft node " << j << " has parent " << parent;
    draft_depth_[j] = draft_depth_[parent] + 1;
    draft_word_[j] = draft_word_[parent] | (uint64_t{1} << j);
  }
}

void ModelRunner::AppendMaskWords(const ScheduledSequence& s, const Sequence& seq,
                                  int32_t row_begin) {
  const int64_t q_len = batch_.num_tokens() - row_begin;
  if (s.num_draft_tokens > 0 && seq.draft.is_tree()) {
    // Rows before the root (none for a decode) are causal; the root is row q_len - 1 - n.
    ComputeDepths(seq.draft, s.num_draft_tokens);
    for (int64_t j = 0; j <= s.num_draft_tokens; ++j) batch_.tree_mask.push_back(draft_word_[j]);
    return;
  }
  for (int64_t r = 0; r < q_len; ++r) {
    batch_.tree_mask.push_back(q_len <= 64 ? (uint64_t{2} << r) - 1 : 0);
  }
}

float* ModelRunner::Execute(const SchedulerOutput& plan,
                            absl::FunctionRef<const Sequence&(SeqId)> lookup,
                            const KvCacheManager& kv_cache) {
  BuildBatch(plan, lookup, kv_cache);
  const int64_t rows = static_cast<int64_t>(batch_.logits_rows.size());
  Backend& backend = model_->backend();
  EnsureRows(backend, std::max<int64_t>(rows, 1), vocab_size(), &logits_, DType::kF32);
  const TensorView logits = logits_.view().Rows(0, rows);
  model_->Forward(batch_, &kv_, logits);
  return backend.ReadToHost(logits, &host_logits_);
}

void ModelRunner::MoveKv(absl::Span<const int32_t> src_slots, absl::Span<const int32_t> dst_slots) {
  INFERD_CHECK_EQ(src_slots.size(), dst_slots.size());
  if (src_slots.empty()) return;
  Backend& backend = model_->backend();
  src_slots_.assign(src_slots.begin(), src_slots.end());
  dst_slots_.assign(dst_slots.begin(), dst_slots.end());
  const IndexView src = backend.UploadIndices(src_slots_, 0);
  const IndexView dst = backend.UploadIndices(dst_slots_, 1);
  for (int64_t layer = 0; layer < model_->config().num_hidden_layers; ++layer) {
    backend.CopyKvSlots(src, dst, kv_.layer(layer));
  }
}

}  // namespace inferd::engine
