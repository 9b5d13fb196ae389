// engine/runner/model_runner.h — turns a SchedulerOutput into one flat varlen
// batch and runs the model once (prefill chunks and decodes together).
//
// Owns the KV cache memory and the batch/logits buffers, reused every step,
// on the model's backend (the device seam: engine/backend/backend.h); hands
// the sampler host logits (no copy on the CPU). Engine thread only.
#ifndef INFERD_ENGINE_RUNNER_MODEL_RUNNER_H_
#define INFERD_ENGINE_RUNNER_MODEL_RUNNER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/types/span.h"
#include "engine/backend/input_batch.h"
#include "engine/kv_cache/kv_cache_manager.h"
#include "engine/kv_cache/kv_cache_tensors.h"
#include "engine/model/transformer.h"
#include "engine/scheduler/scheduler_output.h"
#include "engine/scheduler/sequence.h"

namespace inferd::engine {

class ModelRunner {
 public:
  ModelRunner(std::unique_ptr<Transformer> model, int64_t num_blocks, int32_t block_size,
              DType kv_dtype = DType::kF32);

  const Transformer& model() const { return *model_; }
  int64_t vocab_size() const { return model_->config().vocab_size; }

  // Runs the planned step. Returns logits [sampled rows, vocab]: for each
  // ScheduledSequence with samples == true, in scheduled order, 1 +
  // num_draft_tokens rows (its last real token's, then each draft node's).
  // The buffer stays valid until the next call; the caller may overwrite it
  // (the sampler uses it as scratch).
  float* Execute(const SchedulerOutput& plan, absl::FunctionRef<const Sequence&(SeqId)> lookup,
                 const KvCacheManager& kv_cache);

  // The batch built by the last Execute.
  const InputBatch& last_batch() const { return batch_; }
  // Final-norm hidden states of every row of the last Execute, on the device:
  // [last_batch().num_tokens(), hidden].
  TensorView hidden_states() const { return model_->hidden_states(); }

  // Moves KV rows between flat slots in every layer, in order (the accepted
  // path of a verified draft tree to consecutive positions).
  void MoveKv(absl::Span<const int32_t> src_slots, absl::Span<const int32_t> dst_slots);

 private:
  void BuildBatch(const SchedulerOutput& plan, absl::FunctionRef<const Sequence&(SeqId)> lookup,
                  const KvCacheManager& kv_cache);
  // Depth and tree-mask word of the root and the first n nodes of `draft`.
  void ComputeDepths(const SpecDraft& draft, int64_t n);
  // tree_mask words for the rows of `s` appended since `row_begin`.
  void AppendMaskWords(const ScheduledSequence& s, const Sequence& seq, int32_t row_begin);

  std::unique_ptr<Transformer> model_;
  int32_t block_size_;
  KvCacheTensors kv_;
  InputBatch batch_;
  Tensor logits_;                     // [R, vocab] on the device, grown on demand
  std::vector<float> host_logits_;    // staging when the device is not the host
  std::vector<int32_t> draft_depth_;  // scratch: [nodes + 1] depth per draft node
  std::vector<uint64_t> draft_word_;  // scratch: [nodes + 1] tree-mask word per node
  std::vector<int32_t> src_slots_;    // MoveKv's slots, uploaded from here
  std::vector<int32_t> dst_slots_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_RUNNER_MODEL_RUNNER_H_
