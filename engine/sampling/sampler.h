// engine/sampling/sampler.h — turns one sequence's logits into its next token.
//
// Pipeline (vLLM order): repetition / presence / frequency penalties ->
// temperature -> (greedy if temperature == 0) -> top-k -> top-p -> min-p ->
// draw with the sequence's own RNG. Logprobs are taken from the raw model
// distribution (log_softmax of the unmodified logits), as vLLM's default.
// Deterministic: the draw depends only on the logits, the params, the
// sequence's history and its RNG state, never on other sequences.
#ifndef INFERD_ENGINE_SAMPLING_SAMPLER_H_
#define INFERD_ENGINE_SAMPLING_SAMPLER_H_

#include <cstdint>
#include <vector>

#include "engine/request.h"
#include "engine/sampling/rng.h"

namespace inferd::engine {

// Per-sequence sampling state, owned by the engine thread.
struct SamplingState {
  explicit SamplingState(uint64_t seed) : rng(seed) {}
  Rng rng;
  // Occurrence counts for penalties, kept incrementally: output tokens
  // (presence/frequency) and prompt+output tokens (repetition).
  std::vector<int32_t> output_counts;  // [vocab] or empty until the first token
  std::vector<uint8_t> seen;           // [vocab] prompt or output token seen
};

class Sampler {
 public:
  // Temperatures below this are greedy (vLLM's _SAMPLING_EPS): dividing by
  // them would overflow and the distribution is a point mass anyway.
  static constexpr float kGreedyTemperature = 1e-5f;
  static bool IsGreedy(const SamplingParams& p) { return !(p.temperature >= kGreedyTemperature); }
  static bool PenaltiesActive(const SamplingParams& p) {
    return p.repetition_penalty != 1.0f || p.presence_penalty != 0.0f ||
           p.frequency_penalty != 0.0f;
  }
  // NaN -> -inf (never chosen), +inf -> the largest float (so differences
  // with the maximum stay finite). Idempotent.
  static void SanitizeLogits(float* logits, int64_t vocab);

  // Prepares state for a new sequence (records the prompt for repetition penalty).
  static SamplingState NewState(const SamplingParams& params, uint64_t seed,
                                const std::vector<int32_t>& prompt_ids, int64_t vocab);

  // Samples the next token. `logits` [vocab] is used as scratch (modified).
  // Fills `logprob` when params.logprobs >= 0 (may be nullptr otherwise).
  // Records the chosen token in `state`.
  static int32_t Sample(float* logits, int64_t vocab, const SamplingParams& params,
                        SamplingState* state, TokenLogprob* logprob);
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SAMPLING_SAMPLER_H_
