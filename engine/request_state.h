// engine/request_state.h — everything the engine thread keeps for one live
// request: its sequence, sampling state, detokenizer, stop-string filter,
// output channel and the timestamps its metrics need. Created by Submit's
// message, destroyed when the request finishes. Engine thread only.
#ifndef INFERD_ENGINE_REQUEST_STATE_H_
#define INFERD_ENGINE_REQUEST_STATE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "engine/engine_observer.h"
#include "engine/output_channel.h"
#include "engine/request.h"
#include "engine/sampling/sampler.h"
#include "engine/scheduler/sequence.h"
#include "engine/sequence_constraint.h"
#include "engine/spec_decode/spec_policy.h"
#include "engine/stop_string_filter.h"
#include "engine/tokenizer/detokenizer.h"

namespace inferd::engine {

struct RequestState {
  RequestState(Request req, std::shared_ptr<OutputChannel> ch, uint64_t seed,
               const Tokenizer* tokenizer, int64_t vocab,
               std::unique_ptr<SequenceConstraint> constraint_in = nullptr)
      : request(std::move(req)),
        channel(std::move(ch)),
        constraint(std::move(constraint_in)),
        sampling(Sampler::NewState(request.sampling, seed, request.prompt_ids, vocab)),
        detokenizer(tokenizer, request.prompt_ids),
        stops(request.sampling.stop) {}

  Request request;
  std::shared_ptr<OutputChannel> channel;
  // A member of a group (Engine::SubmitGroup): its parent's request_id
  // (the parent's own included); empty for a request submitted alone.
  std::string group;
  // Structured output (request.constraint active), else null. Its matcher
  // holds exactly the committed output tokens; a preempted sequence keeps
  // it, so recompute needs no change.
  std::unique_ptr<SequenceConstraint> constraint;
  Sequence seq;
  SamplingState sampling;
  IncrementalDetokenizer detokenizer;
  StopStringFilter stops;

  // For the EngineObserver: when the request reached each stage ({}: not
  // yet) and how many tokens it sampled (a stop token included).
  EngineClock::time_point arrival;
  EngineClock::time_point first_scheduled;
  EngineClock::time_point first_token;
  EngineClock::time_point last_token;
  int64_t num_sampled_tokens = 0;

  // Speculative decoding: steps that produced output, drafted and accepted
  // tokens (usage), and the measured acceptance the policy reads.
  int64_t num_steps = 0;
  int64_t draft_tokens = 0;
  int64_t accepted_draft_tokens = 0;
  AcceptanceMeter acceptance;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_REQUEST_STATE_H_
