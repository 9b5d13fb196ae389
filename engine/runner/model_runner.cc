// engine/runner/model_runner.cc
#include "engine/runner/model_runner.h"

#include <algorithm>

#include "kernels/check.h"

namespace inferd::engine {

ModelRunner::ModelRunner(std::unique_ptr<Transformer> model, int64_t num_blocks, int32_t block_size)
    : model_(std::move(model)),
      block_size_(block_size),
      kv_(model_->config().num_hidden_layers, num_blocks, block_size, model_->kv_dim()) {}

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
  batch_.block_tables.assign(plan.scheduled.size() * max_blocks, 0);

  for (size_t i = 0; i < plan.scheduled.size(); ++i) {
    const ScheduledSequence& s = plan.scheduled[i];
    const Sequence& seq = lookup(s.id);
    const std::vector<int32_t>& table = kv_cache.BlockTable(s.id);
    const int64_t end = s.num_computed_before + s.num_new_tokens;
    INFERD_CHECK_LE(end, seq.num_tokens());
    INFERD_CHECK_GE(static_cast<int64_t>(table.size()) * block_size_, end);
    for (int64_t pos = s.num_computed_before; pos < end; ++pos) {
      batch_.token_ids.push_back(seq.token_ids[pos]);
      batch_.positions.push_back(static_cast<int32_t>(pos));
      batch_.slot_mapping.push_back(table[pos / block_size_] * block_size_ +
                                    static_cast<int32_t>(pos % block_size_));
    }
    batch_.query_start.push_back(static_cast<int32_t>(batch_.token_ids.size()));
    batch_.seq_lens.push_back(static_cast<int32_t>(end));
    std::copy(table.begin(), table.end(), batch_.block_tables.begin() + i * max_blocks);
    if (s.samples) batch_.logits_rows.push_back(batch_.query_start.back() - 1);
  }
}

float* ModelRunner::Execute(const SchedulerOutput& plan,
                            absl::FunctionRef<const Sequence&(SeqId)> lookup,
                            const KvCacheManager& kv_cache) {
  BuildBatch(plan, lookup, kv_cache);
  logits_.resize(batch_.logits_rows.size() * vocab_size());
  model_->Forward(batch_, block_size_, &kv_, logits_.data());
  return logits_.data();
}

}  // namespace inferd::engine
