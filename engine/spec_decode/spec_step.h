// engine/spec_decode/spec_step.h — speculative decoding's part of an engine
// step (DESIGN §6): verifying the drafts the step computed, committing what
// was accepted (an accepted tree path's KV moved to consecutive positions,
// the rejected positions rolled back, acceptance counted), drafting for the
// next step, and the policy's measurement of each cycle.
//
// The engine calls it at fixed points of its step:
//   BeginStep -> CountScheduled (each scheduled sequence) -> Verify (each
//   sampled sequence with a draft) -> CommitDrafts -> [tokens emitted] ->
//   Propose -> [chunks pushed] -> EndCycle.
// With a null proposer speculation is off: no sequence carries a draft, and
// Forget, Propose and EndCycle do nothing. Engine thread only, except Verify
// (any thread, one call per sequence at a time).
#ifndef INFERD_ENGINE_SPEC_DECODE_SPEC_STEP_H_
#define INFERD_ENGINE_SPEC_DECODE_SPEC_STEP_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/types/span.h"
#include "engine/engine_observer.h"
#include "engine/kv_cache/kv_cache_manager.h"
#include "engine/request_state.h"
#include "engine/scheduler/scheduler.h"
#include "engine/scheduler/scheduler_output.h"
#include "engine/spec_decode/proposer.h"
#include "engine/spec_decode/spec_config.h"
#include "engine/spec_decode/spec_policy.h"
#include "engine/spec_decode/spec_verifier.h"

namespace inferd::engine {

class ModelRunner;

// One sequence that sampled in a step; the engine's list of them is a
// subsequence of the plan's scheduled sequences, in plan order.
struct SampledSequence {
  RequestState* state;
  const ScheduledSequence* scheduled;
  int64_t logits_row;       // first of its 1 + num_draft_tokens logits rows
  SpecVerifyResult result;  // tokens to emit (+ the accepted path, logprobs)
};

class SpecStep {
 public:
  // `proposer` is null when speculation is off. `runner`, `kv_cache` and
  // `scheduler` are the engine's and outlive this; CommitDrafts moves KV
  // rows through the runner and rolls sequences back through the scheduler,
  // Propose reads the runner's last batch and lets the proposer grow block
  // tables through `kv_cache`.
  SpecStep(const SpeculativeConfig& config, int64_t max_context, std::unique_ptr<Proposer> proposer,
           ModelRunner* runner, KvCacheManager* kv_cache, Scheduler* scheduler);

  // A step starts at `start` (the policy times the cycle from here).
  void BeginStep(EngineClock::time_point start);
  // Counts a scheduled sequence for the policy (a decode or prompt tokens);
  // `seq` as scheduled, before this step's tokens are appended.
  void CountScheduled(const ScheduledSequence& s, const Sequence& seq);

  // Verifies `state`'s draft of `s.num_draft_tokens` (> 0) tokens against
  // the target's logits `rows` ([1 + s.num_draft_tokens, vocab], used as
  // scratch); advances state->sampling and, under structured output,
  // state->constraint (by the emitted tokens; each row is masked first).
  // Touches nothing else. Propose prunes a constrained sequence's draft to
  // the tokens its grammar allows before it is verified.
  SpecVerifyResult Verify(const ScheduledSequence& s, RequestState* state, float* rows,
                          int64_t vocab) const;

  // After Verify: for every sampled sequence that verified a draft, moves an
  // accepted tree path's KV to consecutive positions, then rolls back the
  // rejected positions, clears the draft and counts it in the sequence's
  // usage and acceptance and in `stats` (and accepted_per_position()).
  void CommitDrafts(absl::Span<const SampledSequence> sampled, StepStats* stats);

  // After the step's tokens were emitted: the proposer catches up on what
  // the step computed and drafts for the sequences that decode next (the
  // policy decides who and how far). `sampled` as given to CommitDrafts;
  // `lookup`: a request's state, null once it finished; `stats`: the step's
  // so far. Does nothing when speculation is off.
  void Propose(const SchedulerOutput& plan, absl::Span<const SampledSequence> sampled,
               absl::FunctionRef<RequestState*(SeqId)> lookup, const StepStats& stats);

  // After the step's chunks were pushed: resets accepted_per_position() and
  // records the cycle (step + drafting) for the policy when Propose ran.
  void EndCycle();

  // The sequence left the engine (finished, aborted) or was preempted.
  void Forget(SeqId id);

  // Accepted draft tokens since the last EndCycle by position in the
  // accepted path: [kMaxSpeculativeTokens].
  const std::vector<int64_t>& accepted_per_position() const { return accepted_per_position_; }

 private:
  void CommitDraft(const ScheduledSequence& s, RequestState* state,
                   const std::vector<int32_t>& path, StepStats* stats);

  const int32_t num_speculative_tokens_;
  const int64_t max_context_;
  const std::optional<TypicalAcceptance> typical_;  // nullopt: not used
  std::unique_ptr<Proposer> proposer_;              // null: off
  SpeculationPolicy policy_;
  ModelRunner* const runner_;
  KvCacheManager* const kv_cache_;
  Scheduler* const scheduler_;

  std::vector<int64_t> accepted_per_position_;  // [kMaxSpeculativeTokens]
  std::vector<int32_t> move_src_;  // scratch: KV moves of accepted tree paths (flat slots)
  std::vector<int32_t> move_dst_;
  std::vector<int32_t> depth_scratch_;                    // scratch: [draft nodes + 1] depths
  std::vector<std::pair<Sequence*, int64_t>> rollbacks_;  // scratch: (seq, valid tokens)
  std::vector<ComputedSequence> computed_;                // scratch, per step
  std::vector<ProposalRequest> proposals_;                // scratch, per step
  std::vector<double> proposal_acceptance_;               // scratch, per step
  int64_t step_prefill_tokens_ = 0;                       // this step's non-decode tokens
  int64_t step_decodes_ = 0;                              // this step's decoding sequences
  EngineClock::time_point cycle_start_;                   // this step's start
  struct PendingCycle {  // for the policy, recorded at the end of the step
    int64_t generated, batch;
    bool had_prefill;
    int32_t verified_k, drafted_k;  // draft lengths (SpeculationPolicy::RecordCycle)
  };
  std::optional<PendingCycle> pending_cycle_;
  // The policy's decision in the last Propose (a draft length, 0, or
  // SpeculationPolicy::kNotAnArm): the next cycle's verified_k.
  int32_t decided_k_ = 0;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SPEC_DECODE_SPEC_STEP_H_
