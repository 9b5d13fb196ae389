// engine/spec_decode/spec_step.cc — speculative decoding's part of an engine
// step. Runs inside the step loop: no logging, no string formatting.
#include "engine/spec_decode/spec_step.h"

#include <algorithm>
#include <chrono>

#include "engine/runner/model_runner.h"

namespace inferd::engine {

namespace {
double Seconds(EngineClock::duration d) { return std::chrono::duration<double>(d).count(); }

std::optional<TypicalAcceptance> TypicalFrom(const SpeculativeConfig& config) {
  if (!config.typical_acceptance.has_value()) return std::nullopt;
  return TypicalAcceptance{config.typical_acceptance->first, config.typical_acceptance->second};
}
}  // namespace

SpecStep::SpecStep(const SpeculativeConfig& config, int64_t max_context,
                   std::unique_ptr<Proposer> proposer, ModelRunner* runner,
                   KvCacheManager* kv_cache, Scheduler* scheduler)
    : num_speculative_tokens_(config.num_speculative_tokens),
      max_context_(max_context),
      typical_(TypicalFrom(config)),
      proposer_(std::move(proposer)),
      policy_(config.policy, config.num_speculative_tokens),
      runner_(runner),
      kv_cache_(kv_cache),
      scheduler_(scheduler) {
  accepted_per_position_.assign(kMaxSpeculativeTokens, 0);
}

void SpecStep::BeginStep(EngineClock::time_point start) {
  cycle_start_ = start;
  step_prefill_tokens_ = 0;
  step_decodes_ = 0;
}

void SpecStep::CountScheduled(const ScheduledSequence& s, const Sequence& seq) {
  const bool decode = s.samples && s.num_new_tokens == 1 + s.num_draft_tokens &&
                      s.num_computed_before + 1 == seq.num_tokens();
  if (decode) {
    ++step_decodes_;
  } else {
    step_prefill_tokens_ += s.num_new_tokens;
  }
}

SpecVerifyResult SpecStep::Verify(const ScheduledSequence& s, RequestState* state, float* rows,
                                  int64_t vocab) const {
  const SamplingParams& sp = state->request.sampling;
  const int64_t num_draft = s.num_draft_tokens;
  const SpecDraft& draft = state->seq.draft;
  std::vector<int32_t> chain_parents;  // [num_draft]: a chain's node j-1 is node j's parent
  absl::Span<const int32_t> parents;
  if (draft.is_tree()) {
    parents = absl::MakeConstSpan(draft.parents.data(), num_draft);
  } else {
    chain_parents.resize(num_draft);
    for (int64_t j = 0; j < num_draft; ++j) chain_parents[j] = static_cast<int32_t>(j);
    parents = chain_parents;
  }
  SpecVerifyInput in;
  in.logits = rows;
  in.vocab = vocab;
  in.tokens = absl::MakeConstSpan(draft.tokens.data(), num_draft);
  in.parents = parents;
  in.draft_probs = draft.probs.empty() ? nullptr : draft.probs.data();
  in.params = &sp;
  in.state = &state->sampling;
  in.typical = typical_.has_value() ? &*typical_ : nullptr;
  in.want_logprobs = sp.logprobs >= 0;
  in.constraint = state->constraint.get();  // masks each node's row, advances on each emitted token
  return VerifySpeculative(in);
}

void SpecStep::CommitDrafts(absl::Span<const SampledSequence> sampled, StepStats* stats) {
  move_src_.clear();
  move_dst_.clear();
  for (const SampledSequence& t : sampled) {
    if (t.scheduled->num_draft_tokens > 0) {
      CommitDraft(*t.scheduled, t.state, t.result.path, stats);
    }
  }
  runner_->MoveKv(move_src_, move_dst_);
  for (const auto& [seq, num_computed] : rollbacks_) scheduler_->RollBack(seq, num_computed);
  rollbacks_.clear();
}

void SpecStep::CommitDraft(const ScheduledSequence& s, RequestState* state,
                           const std::vector<int32_t>& path, StepStats* stats) {
  Sequence& seq = state->seq;
  const int64_t root = s.num_computed_before;  // the root's position
  const int64_t accepted = static_cast<int64_t>(path.size());
  if (seq.draft.is_tree()) {
    // Node j sits at cache position root + j; the accepted path's nodes move
    // to root + 1, root + 2, ... (in order, so no move overwrites a node
    // still to be moved: path[i] >= i + 1).
    const std::vector<int32_t>& table = kv_cache_->BlockTable(seq.id);
    const int32_t bs = kv_cache_->block_size();
    auto slot = [&](int64_t pos) { return table[pos / bs] * bs + static_cast<int32_t>(pos % bs); };
    for (int64_t i = 0; i < accepted; ++i) {
      if (path[i] == i + 1) continue;
      move_src_.push_back(slot(root + path[i]));
      move_dst_.push_back(slot(root + 1 + i));
    }
  }
  // Rolled back after the moves (a move may read a block the rollback frees).
  rollbacks_.push_back({&seq, root + 1 + accepted});
  state->draft_tokens += s.num_draft_tokens;
  state->accepted_draft_tokens += accepted;
  // Acceptance per level of the draft: a tree's depth, a chain's length.
  int64_t depth = s.num_draft_tokens;
  if (seq.draft.is_tree()) {
    depth_scratch_.assign(s.num_draft_tokens + 1, 0);
    depth = 0;
    for (int64_t j = 1; j <= s.num_draft_tokens; ++j) {
      depth_scratch_[j] = depth_scratch_[seq.draft.parents[j - 1]] + 1;
      depth = std::max<int64_t>(depth, depth_scratch_[j]);
    }
  }
  state->acceptance.Record(depth, accepted);
  seq.draft.Clear();
  ++stats->spec_num_drafts;
  stats->spec_num_draft_tokens += s.num_draft_tokens;
  stats->spec_num_accepted_tokens += accepted;
  for (int64_t i = 0; i < accepted && i < kMaxSpeculativeTokens; ++i) {
    ++accepted_per_position_[i];
  }
}

void SpecStep::Propose(const SchedulerOutput& plan, absl::Span<const SampledSequence> sampled,
                       absl::FunctionRef<RequestState*(SeqId)> lookup, const StepStats& stats) {
  if (proposer_ == nullptr) return;
  // What the step computed, for proposers that keep KV beside the target.
  computed_.clear();
  proposals_.clear();
  proposal_acceptance_.clear();
  const InputBatch& batch = runner_->last_batch();
  int64_t next_decodes = 0;  // the sequences that decode in the next step
  size_t next_sampled = 0;   // sampled is a subsequence of plan.scheduled
  for (size_t i = 0; i < plan.scheduled.size(); ++i) {
    const ScheduledSequence& s = plan.scheduled[i];
    const SampledSequence* sample = nullptr;
    if (next_sampled < sampled.size() && sampled[next_sampled].scheduled == &s) {
      sample = &sampled[next_sampled++];
    }
    RequestState* state = lookup(s.id);
    if (state == nullptr) continue;  // finished this step (the proposer forgot it)
    Sequence& seq = state->seq;
    ComputedSequence c;
    c.seq = &seq;
    c.row_begin = batch.query_start[i];
    c.first_position = s.num_computed_before;
    // Valid rows: the real tokens' and the accepted draft nodes' (a tree
    // path's nodes sit at their node index); a rejected draft's are not.
    const int64_t real = s.num_new_tokens - s.num_draft_tokens;
    for (int64_t r = 0; r < real; ++r) c.valid_rows.push_back(static_cast<int32_t>(r));
    if (sample != nullptr && s.num_draft_tokens > 0) {
      for (int32_t node : sample->result.path) {
        c.valid_rows.push_back(static_cast<int32_t>(real - 1 + node));
      }
    }
    computed_.push_back(std::move(c));
    if (seq.status != SequenceStatus::kRunning || !seq.decoding()) continue;
    ++next_decodes;
    const SpeculativeChoice& choice = state->request.speculative;
    if (choice.mode == SpeculativeChoice::Mode::kOff || proposer_->Lapsed(seq.id)) continue;
    int64_t k = num_speculative_tokens_;
    if (choice.max_tokens >= 0) k = std::min<int64_t>(k, choice.max_tokens);
    // Never draft past max_tokens (the step adds one token beyond the
    // draft) or the context.
    k = std::min<int64_t>(k, state->request.sampling.max_tokens - seq.num_output_tokens() - 1);
    k = std::min<int64_t>(k, max_context_ - seq.num_tokens() - 1);
    if (k <= 0) continue;
    proposals_.push_back({&seq, &state->request.sampling, static_cast<int32_t>(k)});
    if (choice.mode != SpeculativeChoice::Mode::kOn) {
      proposal_acceptance_.push_back(state->acceptance.rate);
    }
  }
  // The policy sets one draft length for the step's sequences that left the
  // choice to the server; those that asked for speculation keep theirs.
  const int32_t k = policy_.DraftLength(next_decodes, proposal_acceptance_);
  size_t kept = 0;
  for (ProposalRequest r : proposals_) {
    if (lookup(r.seq->id)->request.speculative.mode != SpeculativeChoice::Mode::kOn) {
      r.max_tokens = std::min(r.max_tokens, k);
    }
    if (r.max_tokens > 0) proposals_[kept++] = r;
  }
  proposals_.resize(kept);
  TargetStep step;
  step.batch = &batch;
  step.hidden = runner_->hidden_states();
  step.computed = computed_;
  if (proposals_.empty() && !proposal_acceptance_.empty()) {
    proposer_->Skip(step, kv_cache_);  // the policy chose not to draft
  } else {
    proposer_->Propose(step, absl::MakeSpan(proposals_), kv_cache_);
  }
  // Structured output: a draft keeps only what the grammar allows, so the
  // step verifies no token the constrained target could never emit.
  for (const ProposalRequest& r : proposals_) {
    RequestState* state = lookup(r.seq->id);
    if (state->constraint != nullptr) state->constraint->PruneDraft(&r.seq->draft);
  }
  int64_t drafted = 0;
  for (const ProposalRequest& r : proposals_) drafted += r.seq->draft.size();
  // The policy's decision for the cycle: k, or no arm's when the policy had
  // no one to decide for (the last step of a batch of requests, say) or
  // sequences that asked for speculation drafted while it said no.
  const bool forced = (k == 0 && drafted > 0);
  const int32_t verified_k =
      (decided_k_ == 0 && stats.spec_num_drafts > 0) ? SpeculationPolicy::kNotAnArm : decided_k_;
  decided_k_ = (proposal_acceptance_.empty() || forced) ? SpeculationPolicy::kNotAnArm : k;
  // Timed to the end of the step (the engine pushes the chunks first).
  pending_cycle_ = PendingCycle{stats.num_generation_tokens, step_decodes_,
                                step_prefill_tokens_ > 0, verified_k, decided_k_};
}

void SpecStep::EndCycle() {
  std::fill(accepted_per_position_.begin(), accepted_per_position_.end(), 0);
  if (!pending_cycle_.has_value()) return;
  const PendingCycle& c = *pending_cycle_;
  policy_.RecordCycle(Seconds(EngineClock::now() - cycle_start_), c.generated, c.batch,
                      c.had_prefill, c.verified_k, c.drafted_k);
  pending_cycle_.reset();
}

void SpecStep::Forget(SeqId id) {
  if (proposer_ != nullptr) proposer_->Forget(id);
}

}  // namespace inferd::engine
