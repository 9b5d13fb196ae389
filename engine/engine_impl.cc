// engine/engine_impl.cc — the step loop: schedule -> run -> sample (or
// verify drafts) -> commit drafts -> update -> draft for the next step ->
// report to the observer -> emit; speculative decoding's part is SpecStep
// (engine/spec_decode/spec_step.h). No logging and no string formatting in
// here (STYLE rule 11). Chunks are queued while a step runs and pushed at its
// end, after the observer has seen the step and its finished requests.
#include "engine/engine_impl.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/check.h"
#include "common/thread_pool.h"

namespace inferd::engine {

namespace {
uint64_t RandomSeed() {
  static std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

double Seconds(EngineClock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

EngineImpl::EngineImpl(const EngineConfig& config, ModelInfo info,
                       std::unique_ptr<Tokenizer> tokenizer, std::unique_ptr<ModelRunner> runner,
                       int64_t num_blocks, std::unique_ptr<Proposer> proposer)
    : config_(config),
      info_(std::move(info)),
      tokenizer_(std::move(tokenizer)),
      runner_(std::move(runner)),
      kv_cache_(num_blocks, config.block_size, config.enable_prefix_caching),
      scheduler_(SchedulerConfig{.max_num_seqs = config.max_num_seqs,
                                 .max_num_batched_tokens = config.max_num_batched_tokens,
                                 .max_num_partial_prefills = config.max_num_partial_prefills,
                                 .enable_chunked_prefill = config.enable_chunked_prefill},
                 &kv_cache_),
      observer_(config.observer.get()),
      fork_enabled_(proposer == nullptr || proposer->KvBytesPerBlock(config.block_size) == 0),
      spec_(config.speculative, info_.max_context, std::move(proposer), runner_.get(), &kv_cache_,
            &scheduler_) {
  stat_free_blocks_ = kv_cache_.num_free_blocks();
  if (observer_ != nullptr) observer_->OnEngineStart(info_);
  thread_ = std::thread([this] { Loop(); });
}

EngineImpl::~EngineImpl() {
  {
    absl::MutexLock lock(&inbox_mu_);
    stopping_ = true;
  }
  thread_.join();
}

absl::Status EngineImpl::Submit(Request request, std::shared_ptr<OutputChannel> channel) {
  absl::StatusOr<std::unique_ptr<RequestState>> state =
      Prepare(std::move(request), std::move(channel), EngineClock::now());
  if (!state.ok()) return state.status();
  Group group;
  group.push_back(*std::move(state));
  return Enqueue(std::move(group));
}

absl::Status EngineImpl::SubmitGroup(std::vector<Request> requests,
                                     std::vector<std::shared_ptr<OutputChannel>> channels) {
  const EngineClock::time_point arrival = EngineClock::now();
  if (requests.empty()) return absl::InvalidArgumentError("the request group is empty");
  if (channels.size() != requests.size()) {
    return absl::InvalidArgumentError(absl::StrCat("a group of ", requests.size(), " requests has ",
                                                   channels.size(), " channels"));
  }
  for (size_t i = 1; i < requests.size(); ++i) {
    if (requests[i].prompt_ids != requests[0].prompt_ids) {
      return absl::InvalidArgumentError(absl::StrCat("request ", i, " of the group (\"",
                                                     requests[i].request_id,
                                                     "\") has another prompt than the first"));
    }
  }
  Group group;
  for (size_t i = 0; i < requests.size(); ++i) {
    absl::StatusOr<std::unique_ptr<RequestState>> state =
        Prepare(std::move(requests[i]), std::move(channels[i]), arrival);
    if (!state.ok()) return state.status();
    group.push_back(*std::move(state));
  }
  return Enqueue(std::move(group));
}

absl::StatusOr<std::unique_ptr<RequestState>> EngineImpl::Prepare(
    Request request, std::shared_ptr<OutputChannel> channel, EngineClock::time_point arrival) {
  INFERD_CHECK(channel != nullptr);
  const int64_t n = static_cast<int64_t>(request.prompt_ids.size());
  if (n == 0) return absl::InvalidArgumentError("the prompt has no tokens");
  for (int32_t id : request.prompt_ids) {
    if (id < 0 || id >= info_.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt token id ", id, " is outside the vocabulary [0, ", info_.vocab_size, ")"));
    }
  }
  info_.sampling_defaults.ApplyTo(request.unset_sampling, &request.sampling);
  if (absl::Status s = request.sampling.Validate(info_.vocab_size); !s.ok()) return s;
  if (n + request.sampling.max_tokens > info_.max_context) {
    return absl::InvalidArgumentError(absl::StrCat("prompt (", n, " tokens) + max_tokens (",
                                                   request.sampling.max_tokens, ") exceeds ",
                                                   DescribeContextLimit(info_)));
  }
  if (request.request_id.empty()) return absl::InvalidArgumentError("request_id is empty");
  // Structured output: compiled here, on the caller's thread (cached), so
  // the step loop never compiles and a bad constraint queues nothing.
  std::unique_ptr<SequenceConstraint> constraint;
  if (request.constraint.active()) {
    absl::StatusOr<std::shared_ptr<const CompiledGrammar>> grammar =
        Compiler().Compile(request.constraint);
    if (!grammar.ok()) {
      // Named by its field ("regex: ..."), unless the message already is.
      const std::string kind = absl::StrCat(ConstraintKindName(request.constraint.kind), ": ");
      const absl::string_view message = grammar.status().message();
      return absl::InvalidArgumentError(
          absl::StartsWith(message, kind) ? std::string(message) : absl::StrCat(kind, message));
    }
    constraint = std::make_unique<SequenceConstraint>(std::move(*grammar), vocab_->bitmask_words(),
                                                      request.sampling, info_.eos_ids);
  }

  const uint64_t seed = request.sampling.seed.value_or(RandomSeed());
  auto state =
      std::make_unique<RequestState>(std::move(request), std::move(channel), seed, tokenizer_.get(),
                                     info_.vocab_size, std::move(constraint));
  state->arrival = arrival;
  return state;
}

absl::Status EngineImpl::Enqueue(Group group) {
  const int64_t n = static_cast<int64_t>(group.size());
  absl::MutexLock lock(&inbox_mu_);
  if (stopping_) return absl::UnavailableError("the engine is shutting down");
  if (inbox_.num_requests + stat_waiting_.load() + n > config_.max_queue_len) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the waiting queue is full (", config_.max_queue_len, " requests)"));
  }
  {
    absl::MutexLock ids_lock(&ids_mu_);
    for (int64_t i = 0; i < n; ++i) {
      const std::string& id = group[i]->request.request_id;
      bool duplicate = live_ids_.contains(id);
      for (int64_t j = 0; j < i; ++j) duplicate |= group[j]->request.request_id == id;
      if (duplicate) {
        return absl::AlreadyExistsError(
            absl::StrCat("request_id \"", id, "\" is already in flight"));
      }
    }
    for (const std::unique_ptr<RequestState>& state : group) {
      live_ids_.insert(state->request.request_id);
    }
  }
  inbox_.num_requests += n;
  inbox_.requests.push_back(std::move(group));
  return absl::OkStatus();
}

ConstraintCompiler& EngineImpl::Compiler() {
  absl::call_once(compiler_once_, [this] {
    vocab_ = TokenVocabulary::FromTokenizer(*tokenizer_, info_.eos_ids);
    compiler_ = std::make_unique<ConstraintCompiler>(vocab_, GrammarLimits{});
  });
  return *compiler_;
}

void EngineImpl::Abort(const std::string& request_id) {
  absl::MutexLock lock(&inbox_mu_);
  inbox_.aborts.push_back(request_id);
}

void EngineImpl::AbortAll(absl::Status status) {
  absl::MutexLock lock(&inbox_mu_);
  inbox_.abort_all = std::move(status);
}

EngineStats EngineImpl::GetStats() const {
  EngineStats s;
  s.num_running = stat_running_.load();
  s.num_waiting = stat_waiting_.load();
  s.num_kv_blocks_total = kv_cache_.num_blocks();
  s.num_kv_blocks_free = stat_free_blocks_.load();
  s.num_steps = stat_steps_.load();
  s.num_requests_finished = stat_finished_.load();
  s.num_preemptions = stat_preemptions_.load();
  s.cached_free_blocks = stat_cached_free_blocks_.load();
  s.prefix_cache_queries = stat_prefix_queries_.load();
  s.prefix_cache_hits = stat_prefix_hits_.load();
  s.prompt_tokens_computed = stat_prompt_computed_.load();
  {
    absl::MutexLock lock(&ids_mu_);
    s.num_live_requests = static_cast<int64_t>(live_ids_.size());
  }
  if (const ExpertLoad* load = runner_->model().expert_load(); load != nullptr) {
    std::vector<std::vector<int64_t>> counts = load->Snapshot();
    for (int64_t layer = 0; layer < static_cast<int64_t>(counts.size()); ++layer) {
      if (runner_->model().config().IsMoeLayer(layer)) {
        s.expert_load.emplace_back(layer, std::move(counts[layer]));
      }
    }
  }
  return s;
}

bool EngineImpl::DrainInbox(bool block) {
  Inbox inbox;
  bool stopping;
  {
    absl::MutexLock lock(&inbox_mu_);
    if (block) {
      inbox_mu_.Await(absl::Condition(
          +[](EngineImpl* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->inbox_mu_) {
            return e->stopping_ || !e->inbox_.requests.empty() || !e->inbox_.aborts.empty() ||
                   e->inbox_.abort_all.has_value();
          },
          this));
    }
    std::swap(inbox, inbox_);
    stopping = stopping_;
  }
  for (Group& group : inbox.requests) AdmitGroup(std::move(group));
  for (const std::string& id : inbox.aborts) {
    // A group's parent takes every member with it.
    std::vector<std::string> targets;
    if (auto git = groups_.find(id); git != groups_.end()) {
      targets = git->second;
    } else {
      targets.push_back(id);
    }
    for (const std::string& target : targets) {
      auto it = ids_.find(target);
      if (it == ids_.end()) continue;
      Finish(states_.at(it->second).get(), FinishReason::kAbort, RequestOutput{});
    }
  }
  if (inbox.abort_all.has_value()) FinishAll(*inbox.abort_all);
  return !stopping;
}

void EngineImpl::FinishAll(const absl::Status& status) {
  finished_.clear();
  for (const auto& [id, state] : states_) finished_.push_back(id);
  for (SeqId id : finished_) {
    Finish(states_.at(id).get(), FinishReason::kAbort, RequestOutput{}, status);
  }
}

void EngineImpl::AdmitGroup(Group group) {
  if (group.size() > 1) {
    const std::string parent_id = group[0]->request.request_id;
    std::vector<std::string>& members = groups_[parent_id];
    for (std::unique_ptr<RequestState>& state : group) {
      state->group = parent_id;
      members.push_back(state->request.request_id);
    }
  }
  const SeqId parent = AdmitRequest(std::move(group[0]), 0);
  for (size_t i = 1; i < group.size(); ++i) {
    AdmitRequest(std::move(group[i]), fork_enabled_ ? parent : 0);
  }
}

SeqId EngineImpl::AdmitRequest(std::unique_ptr<RequestState> state, SeqId fork_parent) {
  const SeqId id = next_seq_id_++;
  Sequence& seq = state->seq;
  seq.id = id;
  seq.priority = state->request.priority;
  seq.arrival = id;
  seq.deadline = state->request.deadline;
  seq.token_ids = state->request.prompt_ids;
  seq.num_prompt_tokens = seq.num_tokens();
  ids_[state->request.request_id] = id;
  if (fork_parent != 0) {
    scheduler_.AddFork(&seq, fork_parent);
  } else {
    scheduler_.Add(&seq);
  }
  states_[id] = std::move(state);
  return id;
}

void EngineImpl::CopyForkedBlocks(const std::vector<KvBlockCopy>& copies) {
  std::vector<int32_t> src;
  std::vector<int32_t> dst;
  const int32_t bs = kv_cache_.block_size();
  for (const KvBlockCopy& c : copies) {
    for (int32_t r = 0; r < c.num_tokens; ++r) {
      src.push_back(c.src_block * bs + r);
      dst.push_back(c.dst_block * bs + r);
    }
  }
  runner_->MoveKv(src, dst);  // cache[dst] = cache[src], every layer
}

void EngineImpl::Finish(RequestState* state, FinishReason reason, RequestOutput out,
                        absl::Status status) {
  if (observer_ != nullptr) {
    const Sequence& seq = state->seq;
    observer_->OnRequestFinished(RequestStats{
        .finish_reason = reason,
        .status_code = status.code(),
        .num_prompt_tokens = seq.num_prompt_tokens,
        .num_generation_tokens = seq.num_output_tokens(),
        .num_cached_tokens = seq.num_cached_tokens,
        .num_sampled_tokens = state->num_sampled_tokens,
        .num_preemptions = seq.num_preemptions,
        .arrival = state->arrival,
        .first_scheduled = state->first_scheduled,
        .first_token = state->first_token,
        .last_token = state->last_token,
        .finished = EngineClock::now(),
    });
  }
  out.finished = true;
  out.finish_reason = reason;
  out.status = std::move(status);
  out.usage.prompt_tokens = static_cast<int32_t>(state->seq.num_prompt_tokens);
  out.usage.completion_tokens = static_cast<int32_t>(state->seq.num_output_tokens());
  out.usage.cached_tokens = static_cast<int32_t>(state->seq.num_cached_tokens);
  out.usage.num_steps = static_cast<int32_t>(state->num_steps);
  out.usage.draft_tokens = static_cast<int32_t>(state->draft_tokens);
  out.usage.accepted_draft_tokens = static_cast<int32_t>(state->accepted_draft_tokens);
  const SeqId id = state->seq.id;
  spec_.Forget(id);
  const std::string request_id = state->request.request_id;
  if (!state->group.empty()) {
    auto git = groups_.find(state->group);
    if (git != groups_.end()) {
      std::vector<std::string>& members = git->second;
      members.erase(std::remove(members.begin(), members.end(), request_id), members.end());
      if (members.empty()) groups_.erase(git);
    }
  }
  std::shared_ptr<OutputChannel> channel = state->channel;
  scheduler_.Remove(id);  // frees its KV blocks now
  ids_.erase(request_id);
  states_.erase(id);  // `state` is gone from here on
  {
    absl::MutexLock lock(&ids_mu_);
    live_ids_.erase(request_id);
  }
  ++stat_finished_;
  pending_.push_back({std::move(channel), std::move(out)});  // pushed by EndStep
}

void EngineImpl::RecordSample(RequestState* state, EngineClock::time_point now, int64_t n) {
  if (state->num_sampled_tokens == 0) {
    state->first_token = now;
    step_.num_prompt_tokens += state->seq.num_prompt_tokens;
    ttft_s_.push_back(Seconds(now - state->arrival));
  } else {
    itl_s_.push_back(Seconds(now - state->last_token));
  }
  state->last_token = now;
  state->num_sampled_tokens += n;
  ++state->num_steps;
}

bool EngineImpl::ProcessTokens(RequestState* state, absl::Span<const int32_t> tokens,
                               std::vector<TokenLogprob>* logprobs) {
  const SamplingParams& sp = state->request.sampling;
  RequestOutput out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int32_t token = tokens[i];
    bool is_stop_token = false;
    for (int32_t s : sp.stop_token_ids) is_stop_token |= (s == token);
    if (!sp.ignore_eos) {
      for (int32_t e : info_.eos_ids) is_stop_token |= (e == token);
    }
    if (is_stop_token) {
      out.text += state->stops.Flush();
      out.text += state->detokenizer.Flush();
      Finish(state, FinishReason::kStop, std::move(out));
      return true;
    }

    state->seq.token_ids.push_back(token);
    ++step_.num_generation_tokens;
    out.token_ids.push_back(token);
    if (logprobs != nullptr && i < logprobs->size())
      out.logprobs.push_back(std::move((*logprobs)[i]));
    bool hit = false;
    out.text += state->stops.Push(state->detokenizer.Push(token), &hit);
    if (hit) {
      Finish(state, FinishReason::kStopString, std::move(out));
      return true;
    }
    // Structured output: the grammar admits nothing more (only the step's
    // last token can complete it: sampling and verification stop there).
    if (i + 1 == tokens.size() && state->constraint != nullptr &&
        state->constraint->IsCompleted()) {
      out.text += state->stops.Push(state->detokenizer.Flush(), &hit);
      if (!hit) out.text += state->stops.Flush();
      Finish(state, hit ? FinishReason::kStopString : FinishReason::kStop, std::move(out));
      return true;
    }
    if (state->seq.num_output_tokens() >= sp.max_tokens) {
      bool late_hit = false;
      out.text += state->stops.Push(state->detokenizer.Flush(), &late_hit);
      if (!late_hit) out.text += state->stops.Flush();
      Finish(state, late_hit ? FinishReason::kStopString : FinishReason::kLength, std::move(out));
      return true;
    }
  }
  pending_.push_back({state->channel, std::move(out)});
  return false;
}

void EngineImpl::Step() {
  const EngineClock::time_point step_start = EngineClock::now();
  spec_.BeginStep(step_start);
  SchedulerOutput plan = scheduler_.Schedule(absl::Now());
  stat_preemptions_ += static_cast<int64_t>(plan.preempted.size());
  stat_prefix_queries_ += plan.prefix_cache_queries;
  stat_prefix_hits_ += plan.prefix_cache_hits;
  step_.num_preemptions += static_cast<int64_t>(plan.preempted.size());
  step_.prefix_cache_queries += plan.prefix_cache_queries;
  step_.prefix_cache_hits += plan.prefix_cache_hits;
  for (SeqId id : plan.preempted) spec_.Forget(id);
  for (SeqId id : plan.expired) {
    // Waiting: rejected without running; running: aborted mid-stream. The
    // scheduler already freed its blocks.
    Finish(states_.at(id).get(), FinishReason::kAbort, RequestOutput{},
           absl::DeadlineExceededError("the request deadline passed"));
  }
  if (plan.empty()) return;
  // [sampled rows, vocab]; also scratch for the sampler.
  float* logits = runner_->Execute(
      plan, [this](SeqId id) -> const Sequence& { return states_.at(id)->seq; }, kv_cache_);
  if (!plan.kv_copies.empty()) CopyForkedBlocks(plan.kv_copies);
  scheduler_.Update(plan);
  step_.num_batched_tokens += plan.num_batched_tokens;

  // Sample (or verify the draft of) every sequence that reached its end, in
  // parallel across the kernel pool: each has its own RNG and state, so
  // results do not depend on the split. Then handle the tokens in batch
  // order on this thread.
  const int64_t vocab = runner_->vocab_size();
  sampled_.clear();
  int64_t row = 0;
  int64_t prompt_computed = 0;
  for (const ScheduledSequence& s : plan.scheduled) {
    RequestState* state = states_.at(s.id).get();
    if (state->first_scheduled == EngineClock::time_point{}) state->first_scheduled = step_start;
    const int64_t prompt_end =
        std::min(s.num_computed_before + s.num_new_tokens, state->seq.num_prompt_tokens);
    prompt_computed += std::max<int64_t>(0, prompt_end - s.num_computed_before);
    spec_.CountScheduled(s, state->seq);
    if (!s.samples) continue;
    sampled_.push_back({state, &s, row, SpecVerifyResult{}});
    row += 1 + s.num_draft_tokens;
  }
  step_.num_prompt_tokens_computed += prompt_computed;
  stat_prompt_computed_ += prompt_computed;
  // Children forked this step sample their first token from a copy of their
  // parent's logits row (the parent's own row is the sampler's scratch).
  const size_t num_plain = sampled_.size();
  if (!plan.forks.empty()) {
    const int64_t num_forks = static_cast<int64_t>(plan.forks.size());
    fork_scheduled_.clear();
    fork_logits_.resize(num_forks * vocab);
    for (int64_t k = 0; k < num_forks; ++k) {
      const ForkedSequence& f = plan.forks[k];
      int64_t parent_row = -1;
      for (size_t i = 0; i < num_plain; ++i) {
        if (sampled_[i].scheduled->id == f.parent) parent_row = sampled_[i].logits_row;
      }
      INFERD_CHECK_GE(parent_row, 0) << "forked from " << f.parent << ", which did not sample";
      std::copy(logits + parent_row * vocab, logits + (parent_row + 1) * vocab,
                fork_logits_.begin() + k * vocab);
      RequestState* child = states_.at(f.child).get();
      child->first_scheduled = step_start;
      fork_scheduled_.push_back(
          {f.child, child->seq.num_computed_tokens, /*num_new_tokens=*/0, /*samples=*/true, 0});
    }
    for (int64_t k = 0; k < num_forks; ++k) {
      sampled_.push_back(
          {states_.at(plan.forks[k].child).get(), &fork_scheduled_[k], k, SpecVerifyResult{}});
    }
  }
  inferd::ParallelFor(static_cast<int64_t>(sampled_.size()), inferd::GrainFor(8 * vocab),
                      [&](int64_t begin, int64_t end) {
                        for (int64_t i = begin; i < end; ++i) {
                          Sample(&sampled_[i],
                                 static_cast<size_t>(i) < num_plain ? logits : fork_logits_.data(),
                                 vocab);
                        }
                      });
  const EngineClock::time_point sampled_at = EngineClock::now();
  spec_.CommitDrafts(sampled_, &step_);  // accepted KV kept, rejected positions rolled back
  for (SampledSequence& t : sampled_) {
    RecordSample(t.state, sampled_at, static_cast<int64_t>(t.result.tokens.size()));
    const bool want_logprobs = t.state->request.sampling.logprobs >= 0;
    ProcessTokens(t.state, t.result.tokens, want_logprobs ? &t.result.logprobs : nullptr);
  }
  // Drafts for the next step (the policy decides who and how far).
  spec_.Propose(
      plan, sampled_,
      [this](SeqId id) -> RequestState* {
        auto it = states_.find(id);
        return it == states_.end() ? nullptr : it->second.get();
      },
      step_);
  ++stat_steps_;
}

void EngineImpl::Sample(SampledSequence* t, float* logits, int64_t vocab) const {
  float* rows = logits + t->logits_row * vocab;  // [1 + num_draft_tokens, vocab]
  if (t->scheduled->num_draft_tokens > 0) {
    t->result = spec_.Verify(*t->scheduled, t->state, rows, vocab);
    return;
  }
  const SamplingParams& sp = t->state->request.sampling;
  SequenceConstraint* constraint = t->state->constraint.get();
  if (constraint != nullptr) constraint->Mask(rows, vocab);  // before penalties and filters
  t->result.tokens.assign(1, 0);
  if (sp.logprobs >= 0) t->result.logprobs.resize(1);
  t->result.tokens[0] = Sampler::Sample(rows, vocab, sp, &t->state->sampling,
                                        sp.logprobs >= 0 ? t->result.logprobs.data() : nullptr);
  if (constraint != nullptr) constraint->Accept(t->result.tokens[0]);
}

void EngineImpl::EndStep() {
  PublishStats();
  if (observer_ != nullptr) {
    step_.num_running = scheduler_.num_running();
    step_.num_waiting = scheduler_.num_waiting();
    step_.num_kv_blocks_total = kv_cache_.num_blocks();
    step_.num_kv_blocks_used = kv_cache_.num_blocks() - kv_cache_.num_free_blocks();
    step_.time_to_first_token_s = ttft_s_;
    step_.inter_token_latency_s = itl_s_;
    step_.spec_accepted_per_position = spec_.accepted_per_position();
    observer_->OnStep(step_);
  }
  step_ = StepStats{};
  ttft_s_.clear();
  itl_s_.clear();
  for (PendingOutput& p : pending_) p.channel->Push(std::move(p.output));
  pending_.clear();
  spec_.EndCycle();  // the policy times the cycle to here
}

void EngineImpl::PublishStats() {
  stat_running_ = scheduler_.num_running();
  stat_waiting_ = scheduler_.num_waiting();
  stat_free_blocks_ = kv_cache_.num_free_blocks();
  stat_cached_free_blocks_ = kv_cache_.num_cached_free_blocks();
}

bool EngineImpl::StallRequested() const {
  if (config_.debug_stall_file.empty()) return false;
  std::error_code error;
  return std::filesystem::exists(config_.debug_stall_file, error);
}

void EngineImpl::Loop() {
  while (true) {
    if (!DrainInbox(/*block=*/!scheduler_.HasWork())) break;
    PublishStats();                    // Submit sees the waiting queue it just grew
    if (!pending_.empty()) EndStep();  // requests aborted from the inbox
    if (StallRequested()) {            // debugging: a simulated stall
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    Step();
    EndStep();
  }
  // Shutdown: every live request ends with an abort chunk.
  FinishAll(absl::UnavailableError("the engine shut down"));
  EndStep();
}

}  // namespace inferd::engine
