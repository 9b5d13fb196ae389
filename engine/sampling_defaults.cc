// engine/sampling_defaults.cc
#include "engine/sampling_defaults.h"

#include "absl/strings/str_cat.h"

namespace inferd::engine {

absl::StatusOr<GenerationConfigMode> ParseGenerationConfigMode(absl::string_view name) {
  if (name == "auto") return GenerationConfigMode::kAuto;
  if (name == "vllm") return GenerationConfigMode::kVllm;
  return absl::InvalidArgumentError(
      absl::StrCat("expected auto (the model's generation_config.json) or vllm (the built-in "
                   "defaults), got \"",
                   name, "\""));
}

const char* GenerationConfigModeName(GenerationConfigMode mode) {
  return mode == GenerationConfigMode::kVllm ? "vllm" : "auto";
}

SamplingDefaults SamplingDefaults::FromGenerationConfig(const GenerationConfig& config) {
  SamplingDefaults d;
  if (config.repetition_penalty.has_value()) d.repetition_penalty = *config.repetition_penalty;
  if (config.do_sample.has_value() && !*config.do_sample) {
    d.temperature = 0.0f;
    return d;
  }
  if (config.temperature.has_value()) d.temperature = *config.temperature;
  if (config.top_k.has_value()) d.top_k = *config.top_k;
  if (config.top_p.has_value()) d.top_p = *config.top_p;
  if (config.min_p.has_value()) d.min_p = *config.min_p;
  return d;
}

SamplingDefaults SamplingDefaults::ForMode(GenerationConfigMode mode,
                                           const GenerationConfig& config) {
  return mode == GenerationConfigMode::kVllm ? SamplingDefaults() : FromGenerationConfig(config);
}

void SamplingDefaults::ApplyTo(const UnsetSamplingFields& unset, SamplingParams* params) const {
  if (unset.temperature) params->temperature = temperature;
  if (unset.top_k) params->top_k = top_k;
  if (unset.top_p) params->top_p = top_p;
  if (unset.min_p) params->min_p = min_p;
  if (unset.repetition_penalty) params->repetition_penalty = repetition_penalty;
}

std::string SamplingDefaults::ToString() const {
  return absl::StrCat("temperature=", temperature, " top_k=", top_k, " top_p=", top_p,
                      " min_p=", min_p, " repetition_penalty=", repetition_penalty);
}

}  // namespace inferd::engine
