// engine/request_state.h — everything the engine thread keeps for one live
// request: its sequence, sampling state, detokenizer, stop-string filter and
// output channel. Created by Submit's message, destroyed when the request
// finishes. Engine thread only.
#ifndef INFERD_ENGINE_REQUEST_STATE_H_
#define INFERD_ENGINE_REQUEST_STATE_H_

#include <memory>

#include "engine/output_channel.h"
#include "engine/request.h"
#include "engine/sampling/sampler.h"
#include "engine/scheduler/sequence.h"
#include "engine/stop_string_filter.h"
#include "engine/tokenizer/detokenizer.h"

namespace inferd::engine {

struct RequestState {
  RequestState(Request req, std::shared_ptr<OutputChannel> ch, uint64_t seed,
               const Tokenizer* tokenizer, int64_t vocab)
      : request(std::move(req)),
        channel(std::move(ch)),
        sampling(Sampler::NewState(request.sampling, seed, request.prompt_ids, vocab)),
        detokenizer(tokenizer, request.prompt_ids),
        stops(request.sampling.stop) {}

  Request request;
  std::shared_ptr<OutputChannel> channel;
  Sequence seq;
  SamplingState sampling;
  IncrementalDetokenizer detokenizer;
  StopStringFilter stops;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_REQUEST_STATE_H_
