// engine/engine_observer.h — the engine's hook for metrics: what each step did
// and how each request went, pushed from the engine thread as plain numbers.
//
// The engine knows no metrics library (DESIGN §1: no Prometheus types in
// engine/); the server implements this interface (server/metrics/). Calls:
//   OnEngineStart      once, on the thread that creates the engine, before the
//                      engine thread starts;
//   OnStep             on the engine thread after every step, and after
//                      requests aborted outside a step;
//   OnRequestFinished  on the engine thread when a request ends, whatever the
//                      reason.
// Ordering (the contract metrics rely on): every call about a step or a
// request happens before that step's chunks, and that request's final chunk,
// are pushed to the output channels. A client that has read its final chunk
// therefore finds its request counted.
// Implementations must be cheap, must not block and must not call back into
// the engine; the spans in StepStats are valid only during the call.
#ifndef INFERD_ENGINE_ENGINE_OBSERVER_H_
#define INFERD_ENGINE_ENGINE_OBSERVER_H_

#include <chrono>
#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "engine/request.h"

namespace inferd::engine {

struct ModelInfo;

// Request timestamps come from a monotonic clock: only differences mean
// anything. A default-constructed time_point means "not reached".
using EngineClock = std::chrono::steady_clock;

struct StepStats {
  // State after the step.
  int64_t num_running = 0;
  int64_t num_waiting = 0;
  int64_t num_kv_blocks_total = 0;
  int64_t num_kv_blocks_used = 0;  // owned by requests; cached free blocks count as free

  // What the step did.
  int64_t num_batched_tokens = 0;  // tokens the forward pass computed; 0: no forward pass
  // Prompt lengths of the requests that sampled their first token (a prompt
  // counts once, however it was chunked or recomputed after preemption).
  int64_t num_prompt_tokens = 0;
  int64_t num_generation_tokens = 0;  // output tokens appended (a stop token is not)
  // Of num_batched_tokens, those at prompt positions: prefill chunks and
  // recomputes after preemption. A prompt found cached, or shared by the
  // n choices of a group (Engine::SubmitGroup), is not computed again.
  int64_t num_prompt_tokens_computed = 0;
  int64_t num_preemptions = 0;
  // Prefix cache lookups of requests scheduled for the first time: prompt
  // tokens looked up and tokens found cached.
  int64_t prefix_cache_queries = 0;
  int64_t prefix_cache_hits = 0;
  // Seconds from arrival to the first sampled token, one per request that
  // sampled its first token in this step.
  std::span<const double> time_to_first_token_s;
  // Seconds since the request's previous sampled token, one per later token
  // sampled in this step (a stop token included).
  std::span<const double> inter_token_latency_s;
  // Speculative decoding: drafts verified, their tokens (tree nodes for a
  // tree), tokens accepted, and accepted tokens by position in the accepted
  // path (index 0 = the first drafted token).
  int64_t spec_num_drafts = 0;
  int64_t spec_num_draft_tokens = 0;
  int64_t spec_num_accepted_tokens = 0;
  std::span<const int64_t> spec_accepted_per_position;
};

struct RequestStats {
  FinishReason finish_reason = FinishReason::kNone;
  // kOk: the request succeeded (an abort by the client included); otherwise
  // its stream ended with this error (DEADLINE_EXCEEDED, UNAVAILABLE).
  absl::StatusCode status_code = absl::StatusCode::kOk;
  int64_t num_prompt_tokens = 0;
  int64_t num_generation_tokens = 0;  // usage.completion_tokens
  int64_t num_cached_tokens = 0;      // usage.cached_tokens
  int64_t num_sampled_tokens = 0;     // sampling steps: generation tokens plus a stop token
  int32_t num_preemptions = 0;
  EngineClock::time_point arrival;          // Submit accepted it
  EngineClock::time_point first_scheduled;  // start of its first step
  EngineClock::time_point first_token;      // its first token was sampled
  EngineClock::time_point last_token;       // its last token was sampled
  EngineClock::time_point finished;         // it ended
};

class EngineObserver {
 public:
  virtual ~EngineObserver() = default;

  // The model and cache facts, before any other call.
  virtual void OnEngineStart(const ModelInfo& info) = 0;
  virtual void OnStep(const StepStats& stats) = 0;
  virtual void OnRequestFinished(const RequestStats& stats) = 0;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_ENGINE_OBSERVER_H_
