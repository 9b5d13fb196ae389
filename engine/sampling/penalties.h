// engine/sampling/penalties.h — repetition / presence / frequency penalties
// on one sequence's logits (private to the sampler; exposed for tests).
#ifndef INFERD_ENGINE_SAMPLING_PENALTIES_H_
#define INFERD_ENGINE_SAMPLING_PENALTIES_H_

#include <cstdint>

#include "engine/request.h"
#include "engine/sampling/sampler.h"

namespace inferd::engine {

// In place on `logits` [vocab]:
//   repetition (HF): for every token seen in prompt or output,
//     logit = logit > 0 ? logit / penalty : logit * penalty;
//   then presence / frequency (OpenAI), over output tokens with count c > 0:
//     logit -= frequency * c + presence.
// Reads `state` only.
void ApplyPenalties(float* logits, int64_t vocab, const SamplingParams& params,
                    const SamplingState& state);

// Records that `token` was generated (allocating the count arrays the
// params need on first use).
void RecordToken(int32_t token, int64_t vocab, const SamplingParams& params, SamplingState* state);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SAMPLING_PENALTIES_H_
