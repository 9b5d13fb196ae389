// engine/model/rope.cc — ModelConfig::RopeInvFreq: RoPE inverse frequencies,
// with llama3 rope_scaling applied exactly as HF's _compute_llama3_parameters,
// or divided by a GGUF file's per-frequency factors as llama.cpp does.
#include <cmath>
#include <numbers>
#include <vector>

#include "engine/model/config.h"

namespace inferd::engine {

std::vector<float> ModelConfig::RopeInvFreq() const {
  // Mirrors HF's fp32 computation: inv_freq = 1 / theta^(arange(0, d, 2) / d),
  // then _compute_llama3_parameters for rope_type llama3.
  const int64_t half = head_dim / 2;
  const float dim = static_cast<float>(head_dim);
  const float base = static_cast<float>(rope_theta);
  std::vector<float> inv_freq(half);
  for (int64_t i = 0; i < half; ++i) {
    inv_freq[i] = 1.0f / std::pow(base, static_cast<float>(2 * i) / dim);
  }
  if (!rope_freq_factors.empty()) {
    for (int64_t i = 0; i < half; ++i) inv_freq[i] /= rope_freq_factors[i];
    return inv_freq;
  }
  if (rope_scaling.type != "llama3") return inv_freq;
  const double old_context_len = static_cast<double>(rope_scaling.original_max_position_embeddings);
  const float factor = static_cast<float>(rope_scaling.factor);
  const float low_freq_factor = static_cast<float>(rope_scaling.low_freq_factor);
  const float low_freq_wavelen = static_cast<float>(old_context_len / rope_scaling.low_freq_factor);
  const float high_freq_wavelen =
      static_cast<float>(old_context_len / rope_scaling.high_freq_factor);
  const float factor_range =
      static_cast<float>(rope_scaling.high_freq_factor - rope_scaling.low_freq_factor);
  const float two_pi = static_cast<float>(2.0 * std::numbers::pi);
  for (float& f : inv_freq) {
    const float wavelen = (1.0f / f) * two_pi;  // torch: 2*pi / t == t.reciprocal() * (2*pi)
    float scaled = wavelen > low_freq_wavelen ? f / factor : f;
    if (!(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen)) {
      const float smooth =
          ((1.0f / wavelen) * static_cast<float>(old_context_len) - low_freq_factor) / factor_range;
      scaled = (1.0f - smooth) * scaled / factor + smooth * scaled;
    }
    f = scaled;
  }
  return inv_freq;
}

}  // namespace inferd::engine
