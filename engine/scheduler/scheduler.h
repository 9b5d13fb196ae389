// engine/scheduler/scheduler.h — the continuous-batching planner.
//
// A pure planner (STYLE rule 2): it owns the waiting and running queues and
// asks the KV cache manager for room; it does no I/O, no math and reads no
// clock (the caller passes `now`). Each Schedule() fills one step under a
// token budget:
//   1. sequences whose deadline passed leave both queues (reported, freed);
//   2. running sequences, in serving order (priority, then arrival): a decode
//      token each, or the next prefill chunk;
//   3. waiting sequences, in the same order, while the budget, the sequence
//      cap and the KV pool allow. A new sequence first takes every leading
//      full block the prefix cache holds (never its last prompt token, whose
//      logits must be computed) and computes only the rest.
// Prefill chunks and decodes share the step (chunked prefill). Running
// decodes are budgeted first wherever they sit in the order, so a long
// prompt never stalls them. Prefills share what is left in up to
// `max_num_partial_prefills` equal slices (vLLM's rule), and at most that many
// prompts are computed across steps at once; a waiting prompt that would
// exceed the cap may still start if it fits whole in its slice, so short
// prompts are not stuck behind a long one. With chunked prefill off, a prompt
// only starts when it fits whole. When the pool runs dry, the lowest-priority, most recently
// arrived running sequence is preempted by recompute: it frees its blocks
// (which stay cached) and goes back to the waiting queue ahead of every later
// arrival of its priority, its tokens kept.
// Forks (the n choices of one prompt): a child sequence added with AddFork
// waits beside its parent and computes nothing. In the step whose plan
// completes the parent's prompt, each child, while the sequence cap and the
// pool allow, forks: it shares the parent's full prompt blocks, gets a copy
// of the last partial one (SchedulerOutput::kv_copies), joins the running
// queue with the whole prompt computed, and samples its first token from the
// parent's logits row (SchedulerOutput::forks). A child that cannot fork, or
// whose parent leaves before its prompt is computed, becomes an ordinary
// waiting sequence and computes its own prompt (prefix cache hits
// included). A forked child is an ordinary running sequence: preempted, it
// recomputes its own prompt and output.
// Owned by the engine thread; not thread-safe. Sequences are owned by the
// caller and must outlive their membership here.
#ifndef INFERD_ENGINE_SCHEDULER_SCHEDULER_H_
#define INFERD_ENGINE_SCHEDULER_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "engine/kv_cache/kv_cache_manager.h"
#include "engine/scheduler/scheduler_output.h"
#include "engine/scheduler/sequence.h"

namespace inferd::engine {

struct SchedulerConfig {
  int32_t max_num_seqs = 64;
  int64_t max_num_batched_tokens = 2048;
  // Sequences whose prefill may be split across steps at the same time.
  int32_t max_num_partial_prefills = 1;
  // Off: a prompt is computed in one step (needs max_num_batched_tokens >=
  // the longest sequence, which the engine checks).
  bool enable_chunked_prefill = true;
};

class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, KvCacheManager* kv_cache);

  const SchedulerConfig& config() const { return config_; }

  // Queues a new sequence (status kWaiting, nothing computed).
  void Add(Sequence* seq);
  // Queues `child` to fork from `parent` (added before and still computing
  // its prompt, which `child`'s tokens must equal; not itself a fork child).
  void AddFork(Sequence* child, SeqId parent);
  // Removes a sequence from whichever queue holds it and frees its blocks
  // (finished or aborted). Unknown ids are ignored.
  void Remove(SeqId id);

  // Plans the next step at time `now`. Marks admitted sequences kRunning and
  // expired ones kFinished.
  SchedulerOutput Schedule(absl::Time now);
  // Records that the planned tokens were computed (num_computed_tokens
  // catches up) and registers the newly full blocks in the prefix cache.
  // Sampled tokens are appended by the caller afterwards.
  void Update(const SchedulerOutput& output);
  // After a draft was verified: only the first `num_computed` tokens' KV is
  // valid (rejected draft positions are dropped) and the blocks past them
  // go back to the pool.
  void RollBack(Sequence* seq, int64_t num_computed);

  bool HasWork() const { return !waiting_.empty() || !running_.empty(); }
  // Waiting sequences, fork children waiting for their parent included.
  int64_t num_waiting() const { return static_cast<int64_t>(waiting_.size()) + num_fork_children_; }
  // Fork children waiting for their parent's prompt.
  int64_t num_fork_children() const { return num_fork_children_; }
  int64_t num_running() const { return static_cast<int64_t>(running_.size()); }
  const std::deque<Sequence*>& waiting() const { return waiting_; }
  const std::vector<Sequence*>& running() const { return running_; }

 private:
  // Orders the waiting queue: priority, then arrival.
  void InsertWaiting(Sequence* seq);
  // Moves sequences whose deadline is before `now` out of both queues.
  void ExpireDeadlines(absl::Time now, SchedulerOutput* out);
  // Preempts the lowest-priority, latest-arrived running sequence.
  Sequence* PreemptOne(SchedulerOutput* out);
  // Forks the children of every parent whose prompt `out` completes.
  void PlanForks(SchedulerOutput* out);
  // The children of `parent` become ordinary waiting sequences (those whose
  // deadline is before `now` expire instead).
  void ReleaseForks(SeqId parent, absl::Time now, SchedulerOutput* out);

  SchedulerConfig config_;
  KvCacheManager* kv_cache_;
  std::deque<Sequence*> waiting_;
  std::vector<Sequence*> running_;  // serving order (re-sorted by each Schedule)
  // Fork children by parent, in the order added.
  absl::flat_hash_map<SeqId, std::vector<Sequence*>> forks_;
  int64_t num_fork_children_ = 0;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SCHEDULER_SCHEDULER_H_
