// engine/sampling/penalties.cc — logit penalties from a sequence's history.
#include "engine/sampling/penalties.h"

#include <algorithm>

namespace inferd::engine {
namespace {

bool UsesRepetition(const SamplingParams& p) { return p.repetition_penalty != 1.0f; }
bool UsesOutputCounts(const SamplingParams& p) {
  return p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f;
}

}  // namespace

void ApplyPenalties(float* logits, int64_t vocab, const SamplingParams& params,
                    const SamplingState& state) {
  if (UsesRepetition(params)) {
    const float penalty = params.repetition_penalty;
    const int64_t n = std::min<int64_t>(vocab, static_cast<int64_t>(state.seen.size()));
    for (int64_t i = 0; i < n; ++i) {
      if (state.seen[i] == 0) continue;
      logits[i] = logits[i] > 0 ? logits[i] / penalty : logits[i] * penalty;
    }
  }
  if (UsesOutputCounts(params)) {
    const int64_t n = std::min<int64_t>(vocab, static_cast<int64_t>(state.output_counts.size()));
    for (int64_t i = 0; i < n; ++i) {
      const int32_t c = state.output_counts[i];
      if (c == 0) continue;
      logits[i] -= params.frequency_penalty * static_cast<float>(c) + params.presence_penalty;
    }
  }
}

void RecordToken(int32_t token, int64_t vocab, const SamplingParams& params, SamplingState* state) {
  if (token < 0 || token >= vocab) return;
  if (UsesRepetition(params)) {
    if (state->seen.size() < static_cast<size_t>(vocab)) state->seen.resize(vocab, 0);
    state->seen[token] = 1;
  }
  if (UsesOutputCounts(params)) {
    if (state->output_counts.size() < static_cast<size_t>(vocab)) {
      state->output_counts.resize(vocab, 0);
    }
    ++state->output_counts[token];
  }
}

}  // namespace inferd::engine
