// engine/runner/model_runner.h — turns a SchedulerOutput into one flat varlen
// batch and runs the model once (prefill chunks and decodes together).
//
// Owns the KV cache memory and the batch/logits buffers, reused every step.
// Engine thread only.
#ifndef INFERD_ENGINE_RUNNER_MODEL_RUNNER_H_
#define INFERD_ENGINE_RUNNER_MODEL_RUNNER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "engine/kv_cache/kv_cache_manager.h"
#include "engine/kv_cache/kv_cache_tensors.h"
#include "engine/model/transformer.h"
#include "engine/runner/input_batch.h"
#include "engine/scheduler/scheduler_output.h"
#include "engine/scheduler/sequence.h"

namespace inferd::engine {

class ModelRunner {
 public:
  ModelRunner(std::unique_ptr<Transformer> model, int64_t num_blocks, int32_t block_size);

  const Transformer& model() const { return *model_; }
  int64_t vocab_size() const { return model_->config().vocab_size; }

  // Runs the planned step. Returns logits [num sampling sequences, vocab]:
  // one row per ScheduledSequence with samples == true, in scheduled order.
  // The buffer stays valid until the next call; the caller may overwrite it
  // (the sampler uses it as scratch).
  float* Execute(const SchedulerOutput& plan, absl::FunctionRef<const Sequence&(SeqId)> lookup,
                 const KvCacheManager& kv_cache);

  // The batch built by the last Execute (for tests).
  const InputBatch& last_batch() const { return batch_; }

 private:
  void BuildBatch(const SchedulerOutput& plan, absl::FunctionRef<const Sequence&(SeqId)> lookup,
                  const KvCacheManager& kv_cache);

  std::unique_ptr<Transformer> model_;
  int32_t block_size_;
  KvCacheTensors kv_;
  InputBatch batch_;
  std::vector<float> logits_;  // [R, vocab]
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_RUNNER_MODEL_RUNNER_H_
