// engine/sampling/sampler.cc — the per-sequence sampling pipeline:
// sanitize -> (raw logprobs) -> penalties -> greedy | temperature -> top-k ->
// top-p -> min-p -> one RNG draw.
#include "engine/sampling/sampler.h"

#include <cmath>
#include <limits>
#include <vector>

#include "engine/sampling/candidate_set.h"
#include "engine/sampling/logprobs.h"
#include "engine/sampling/penalties.h"
#include "kernels/ops.h"

namespace inferd::engine {
namespace {

// Highest logit, lowest id among ties; 0 when every logit is -inf.
int32_t Argmax(const float* logits, int64_t vocab) {
  return static_cast<int32_t>(kernels::Argmax(logits, vocab));
}

}  // namespace

void Sampler::SanitizeLogits(float* logits, int64_t vocab) {
  for (int64_t i = 0; i < vocab; ++i) {
    const float l = logits[i];
    if (std::isnan(l)) {
      logits[i] = -std::numeric_limits<float>::infinity();
    } else if (l == std::numeric_limits<float>::infinity()) {
      logits[i] = std::numeric_limits<float>::max();
    }
  }
}

SamplingState Sampler::NewState(const SamplingParams& params, uint64_t seed,
                                const std::vector<int32_t>& prompt_ids, int64_t vocab) {
  SamplingState state(seed);
  if (params.repetition_penalty != 1.0f) {
    state.seen.assign(static_cast<size_t>(vocab), 0);
    for (int32_t id : prompt_ids) {
      if (id >= 0 && id < vocab) state.seen[id] = 1;
    }
  }
  return state;
}

int32_t Sampler::Sample(float* logits, int64_t vocab, const SamplingParams& params,
                        SamplingState* state, TokenLogprob* logprob) {
  const bool want_logprobs = logprob != nullptr && params.logprobs >= 0;
  const bool greedy = IsGreedy(params);
  if (greedy && !want_logprobs && !PenaltiesActive(params)) {
    // Plain greedy, the common decode case: one vector pass, no rewrite of
    // the logits (Argmax already ignores NaN and takes +inf as a maximum).
    const int32_t token = Argmax(logits, vocab);
    RecordToken(token, vocab, params, state);
    return token;
  }
  SanitizeLogits(logits, vocab);
  // The engine thread samples one sequence at a time; buffers are reused.
  thread_local std::vector<float> raw;
  thread_local CandidateSet candidates;
  if (want_logprobs) raw.assign(logits, logits + vocab);

  ApplyPenalties(logits, vocab, params, *state);
  int32_t token;
  if (greedy) {
    token = Argmax(logits, vocab);
  } else {
    // Exactly one draw per sampled token, whatever the filters keep.
    const double u = state->rng.Uniform();
    candidates.Reset(logits, vocab, params.temperature, params.top_k);
    if (candidates.size() == 0) {
      token = Argmax(logits, vocab);  // every logit -inf: nothing to weigh
    } else {
      candidates.TopP(params.top_p);
      candidates.MinP(params.min_p);
      token = candidates.Draw(u);
    }
  }
  if (want_logprobs) FillLogprobs(raw.data(), vocab, token, params.logprobs, logprob);
  RecordToken(token, vocab, params, state);
  return token;
}

}  // namespace inferd::engine
