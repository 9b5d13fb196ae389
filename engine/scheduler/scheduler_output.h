// engine/scheduler/scheduler_output.h — one step's plan: ids and integers only
// (STYLE rule 3). The model runner turns it into tensors.
#ifndef INFERD_ENGINE_SCHEDULER_SCHEDULER_OUTPUT_H_
#define INFERD_ENGINE_SCHEDULER_SCHEDULER_OUTPUT_H_

#include <cstdint>
#include <vector>

#include "engine/kv_cache/kv_cache_manager.h"

namespace inferd::engine {

struct ScheduledSequence {
  SeqId id = 0;
  int64_t num_computed_before = 0;  // tokens already in the KV cache
  int64_t num_new_tokens = 0;       // tokens computed this step
  bool samples = false;             // this step reaches num_tokens: sample a token
  // Of num_new_tokens, the draft tokens verified after the last real token
  // (Sequence::draft, cut to this many); the step samples at each of them.
  int64_t num_draft_tokens = 0;
};

// A sequence forked this step from a parent whose prompt the step completes
// (Scheduler::AddFork): it computes nothing; its first token is sampled from
// the parent's logits row, and it holds the parent's prompt KV from then on.
struct ForkedSequence {
  SeqId parent = 0;
  SeqId child = 0;
};

struct SchedulerOutput {
  std::vector<ScheduledSequence> scheduled;  // in batch order
  std::vector<SeqId> preempted;              // gave their blocks back this step
  // Deadline passed (waiting or running): removed from the queues, blocks
  // freed. The caller ends them with DEADLINE_EXCEEDED.
  std::vector<SeqId> expired;
  // In order of `scheduled`'s parents; their KV copies (the last partial
  // prompt block of each child), to make after the forward pass.
  std::vector<ForkedSequence> forks;
  std::vector<KvBlockCopy> kv_copies;
  int64_t num_batched_tokens = 0;
  // Prefix cache lookups of sequences scheduled for the first time this
  // step: prompt tokens looked up and tokens found cached.
  int64_t prefix_cache_queries = 0;
  int64_t prefix_cache_hits = 0;

  bool empty() const { return scheduled.empty(); }
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SCHEDULER_SCHEDULER_OUTPUT_H_
