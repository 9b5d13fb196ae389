// engine/scheduler/scheduler.h — the continuous-batching planner.
//
// A pure planner (STYLE rule 2): it owns the waiting and running queues and
// asks the KV cache manager for room; it does no I/O, no math and reads no
// clock. Each Schedule() fills one step under a token budget: running
// sequences first (a decode token each, or the next prefill chunk), then new
// sequences from the waiting queue while the budget, the sequence cap and the
// KV pool allow. Prefill chunks and decodes share the step. When the pool runs
// dry, the lowest-priority, most recently arrived running sequence is
// preempted by recompute: it frees its blocks and goes back to the front of
// its priority class in the waiting queue with its tokens kept.
// Owned by the engine thread; not thread-safe. Sequences are owned by the
// caller and must outlive their membership here.
#ifndef INFERD_ENGINE_SCHEDULER_SCHEDULER_H_
#define INFERD_ENGINE_SCHEDULER_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <vector>

#include "engine/kv_cache/kv_cache_manager.h"
#include "engine/scheduler/scheduler_output.h"
#include "engine/scheduler/sequence.h"

namespace inferd::engine {

struct SchedulerConfig {
  int32_t max_num_seqs = 64;
  int64_t max_num_batched_tokens = 2048;
};

class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, KvCacheManager* kv_cache);

  // Queues a new sequence (status kWaiting, nothing computed).
  void Add(Sequence* seq);
  // Removes a sequence from whichever queue holds it and frees its blocks
  // (finished or aborted). Unknown ids are ignored.
  void Remove(SeqId id);

  // Plans the next step. Marks admitted sequences kRunning.
  SchedulerOutput Schedule();
  // Records that the planned tokens were computed (num_computed_tokens
  // catches up). Sampled tokens are appended by the caller afterwards.
  void Update(const SchedulerOutput& output);

  bool HasWork() const { return !waiting_.empty() || !running_.empty(); }
  int64_t num_waiting() const { return static_cast<int64_t>(waiting_.size()); }
  int64_t num_running() const { return static_cast<int64_t>(running_.size()); }
  const std::deque<Sequence*>& waiting() const { return waiting_; }
  const std::vector<Sequence*>& running() const { return running_; }

 private:
  // Orders the waiting queue: priority, then arrival.
  void InsertWaiting(Sequence* seq);
  // Preempts the lowest-priority, latest-arrived running sequence.
  Sequence* PreemptOne(SchedulerOutput* out);

  SchedulerConfig config_;
  KvCacheManager* kv_cache_;
  std::deque<Sequence*> waiting_;
  std::vector<Sequence*> running_;  // serving order (re-sorted by each Schedule)
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SCHEDULER_SCHEDULER_H_
