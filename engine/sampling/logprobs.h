// engine/sampling/logprobs.h — log-probabilities of the raw model
// distribution (private to the sampler; exposed for tests).
#ifndef INFERD_ENGINE_SAMPLING_LOGPROBS_H_
#define INFERD_ENGINE_SAMPLING_LOGPROBS_H_

#include <cstdint>

#include "engine/request.h"

namespace inferd::engine {

// Fills `out` from log_softmax(`logits` [vocab]): the chosen token's logprob
// and the `top_n` best tokens as (id, logprob), best first, ties by lower
// id. `logits` must not hold NaN or +inf. Sums in double.
void FillLogprobs(const float* logits, int64_t vocab, int32_t chosen, int32_t top_n,
                  TokenLogprob* out);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SAMPLING_LOGPROBS_H_
