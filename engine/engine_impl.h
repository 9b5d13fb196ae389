// engine/engine_impl.h — the Engine implementation: the message inbox and the
// step loop on its own thread (DESIGN §2).
//
// Threads: Submit/Abort/AbortAll/GetStats run on any thread and touch only inbox_ (under
// inbox_mu_), the live-id set (under ids_mu_) and atomics. Everything else is
// owned by the engine thread.
#ifndef INFERD_ENGINE_ENGINE_IMPL_H_
#define INFERD_ENGINE_ENGINE_IMPL_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "engine/engine.h"
#include "engine/kv_cache/kv_cache_manager.h"
#include "engine/request_state.h"
#include "engine/runner/model_runner.h"
#include "engine/scheduler/scheduler.h"
#include "engine/spec_decode/proposer.h"
#include "engine/spec_decode/spec_step.h"
#include "engine/structured_output/constraint_compiler.h"
#include "engine/structured_output/token_vocabulary.h"

namespace inferd::engine {

class EngineImpl final : public Engine {
 public:
  // `proposer` is null when speculation is off.
  EngineImpl(const EngineConfig& config, ModelInfo info, std::unique_ptr<Tokenizer> tokenizer,
             std::unique_ptr<ModelRunner> runner, int64_t num_blocks,
             std::unique_ptr<Proposer> proposer);
  ~EngineImpl() override;

  const ModelInfo& model_info() const override { return info_; }
  const Tokenizer& tokenizer() const override { return *tokenizer_; }
  absl::Status Submit(Request request, std::shared_ptr<OutputChannel> channel) override;
  absl::Status SubmitGroup(std::vector<Request> requests,
                           std::vector<std::shared_ptr<OutputChannel>> channels) override;
  void Abort(const std::string& request_id) override;
  void AbortAll(absl::Status status) override;
  EngineStats GetStats() const override;

 private:
  // Submitted requests: one, or a group sharing one prompt (SubmitGroup;
  // the first is the parent).
  using Group = std::vector<std::unique_ptr<RequestState>>;
  struct Inbox {
    std::vector<Group> requests;
    int64_t num_requests = 0;  // across the groups
    std::vector<std::string> aborts;
    // AbortAll: every request admitted so far (these requests included)
    // ends with this status.
    std::optional<absl::Status> abort_all;
  };

  // The structured-output compiler, built on first use (any thread): the
  // token vocabulary costs a pass over every id.
  ConstraintCompiler& Compiler();

  // Validates `request` and builds its state (Submit's checks, any thread).
  absl::StatusOr<std::unique_ptr<RequestState>> Prepare(Request request,
                                                        std::shared_ptr<OutputChannel> channel,
                                                        EngineClock::time_point arrival);
  // Queues a group whose members passed Prepare: all or nothing.
  absl::Status Enqueue(Group group);

  void Loop();
  // config_.debug_stall_file is set and exists.
  bool StallRequested() const;
  // Finishes every live request with kAbort and `status`.
  void FinishAll(const absl::Status& status);
  // Moves inbox messages into the scheduler; returns false when stopping.
  bool DrainInbox(bool block);
  void Step();
  // Admits a group: its first request as a new sequence, the others as its
  // fork children (or new sequences when forking is off).
  void AdmitGroup(Group group);
  // `fork_parent`: the sequence it forks from (0: none). Returns its id.
  SeqId AdmitRequest(std::unique_ptr<RequestState> state, SeqId fork_parent);
  // Copies the forked children's last partial prompt blocks (after the
  // forward pass wrote the parents').
  void CopyForkedBlocks(const std::vector<KvBlockCopy>& copies);
  // Records a step's `n` new tokens' timing in `state` and the step's stats.
  void RecordSample(RequestState* state, EngineClock::time_point now, int64_t n);
  // Handles one step's tokens of a request (one, or a verified draft's
  // accepted tokens and one more) as one chunk; returns true when the
  // request finished.
  bool ProcessTokens(RequestState* state, absl::Span<const int32_t> tokens,
                     std::vector<TokenLogprob>* logprobs);
  // Fills t->result: samples the sequence's next token from its logits row,
  // or verifies its draft (spec_). `logits`: [sampled rows, vocab], used as
  // scratch. Touches only t's request; runs on the kernel pool's threads.
  void Sample(SampledSequence* t, float* logits, int64_t vocab) const;
  // Reports the request to the observer, forgets it and queues its final
  // chunk.
  void Finish(RequestState* state, FinishReason reason, RequestOutput out,
              absl::Status status = absl::OkStatus());
  // Publishes the stats, reports the step to the observer, then pushes the
  // queued chunks: a client that sees its final chunk finds its blocks freed
  // and its request counted.
  void EndStep();
  void PublishStats();

  const EngineConfig config_;
  const ModelInfo info_;
  std::unique_ptr<Tokenizer> tokenizer_;

  // Engine-thread state.
  std::unique_ptr<ModelRunner> runner_;
  KvCacheManager kv_cache_;
  Scheduler scheduler_;
  std::unordered_map<SeqId, std::unique_ptr<RequestState>> states_;
  std::unordered_map<std::string, SeqId> ids_;
  // Groups by their parent's request_id: the members' request_ids still live.
  std::unordered_map<std::string, std::vector<std::string>> groups_;
  SeqId next_seq_id_ = 1;
  std::vector<SeqId> finished_;           // scratch, per step
  std::vector<SampledSequence> sampled_;  // scratch, per step
  // Scratch per step, for the children forked this step: their entries in
  // sampled_ and their copies of the parent's logits row [forks, vocab].
  std::vector<ScheduledSequence> fork_scheduled_;
  std::vector<float> fork_logits_;
  // Chunks produced since the last EndStep, pushed by it in order.
  struct PendingOutput {
    std::shared_ptr<OutputChannel> channel;
    RequestOutput output;
  };
  std::vector<PendingOutput> pending_;
  EngineObserver* const observer_;  // config_.observer; may be null
  StepStats step_;                  // accumulated since the last EndStep
  std::vector<double> ttft_s_;      // step_.time_to_first_token_s
  std::vector<double> itl_s_;       // step_.inter_token_latency_s
  // Groups fork (SubmitGroup): off when the proposer keeps KV of its own in
  // the blocks (a draft model's, MTP's), which a fork would not copy.
  const bool fork_enabled_;
  SpecStep spec_;  // speculative decoding (no proposer: off)

  // Cross-thread.
  absl::once_flag compiler_once_;
  std::shared_ptr<const TokenVocabulary> vocab_;  // set with compiler_
  std::unique_ptr<ConstraintCompiler> compiler_;  // thread-safe
  mutable absl::Mutex inbox_mu_;
  Inbox inbox_ ABSL_GUARDED_BY(inbox_mu_);
  bool stopping_ ABSL_GUARDED_BY(inbox_mu_) = false;
  mutable absl::Mutex ids_mu_;
  std::unordered_set<std::string> live_ids_ ABSL_GUARDED_BY(ids_mu_);
  std::atomic<int64_t> stat_running_{0};
  std::atomic<int64_t> stat_waiting_{0};
  std::atomic<int64_t> stat_free_blocks_{0};
  std::atomic<int64_t> stat_steps_{0};
  std::atomic<int64_t> stat_finished_{0};
  std::atomic<int64_t> stat_preemptions_{0};
  std::atomic<int64_t> stat_cached_free_blocks_{0};
  std::atomic<int64_t> stat_prefix_queries_{0};
  std::atomic<int64_t> stat_prefix_hits_{0};
  std::atomic<int64_t> stat_prompt_computed_{0};

  std::thread thread_;  // last: started after everything above exists
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_ENGINE_IMPL_H_
