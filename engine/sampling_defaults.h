// engine/sampling_defaults.h — the sampling defaults a request's unset fields
// take: the model's generation_config.json (vLLM's `--generation-config
// auto`) or the built-in ones (`--generation-config vllm`).
//
// One place for every front end: gRPC, `inferd generate` and any later API
// mark the fields their client left unset (Request::unset_sampling) and
// Engine::Submit applies the loaded model's defaults (ModelInfo) to them.
// A field the client set always wins.
#ifndef INFERD_ENGINE_SAMPLING_DEFAULTS_H_
#define INFERD_ENGINE_SAMPLING_DEFAULTS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model/config.h"
#include "engine/request.h"

namespace inferd::engine {

// Where the defaults come from (vLLM's --generation-config names).
enum class GenerationConfigMode {
  kAuto,  // the model's generation_config.json over the built-in defaults
  kVllm,  // the built-in defaults only (the file's sampling fields ignored)
};
// "auto" / "vllm"; anything else is INVALID_ARGUMENT.
absl::StatusOr<GenerationConfigMode> ParseGenerationConfigMode(absl::string_view name);
const char* GenerationConfigModeName(GenerationConfigMode mode);

struct SamplingDefaults {
  // The built-in defaults: SamplingParams{}'s (vLLM's).
  float temperature = SamplingParams().temperature;
  int32_t top_k = SamplingParams().top_k;
  float top_p = SamplingParams().top_p;
  float min_p = SamplingParams().min_p;
  float repetition_penalty = SamplingParams().repetition_penalty;

  // The file's fields over the built-in defaults, with HF transformers'
  // rule: do_sample false means greedy (temperature 0) and its temperature,
  // top_k, top_p and min_p are ignored; repetition_penalty applies either
  // way. do_sample true or absent: the fields as written (as vLLM reads them).
  static SamplingDefaults FromGenerationConfig(const GenerationConfig& config);
  // kVllm: the built-in defaults; kAuto: FromGenerationConfig(config).
  static SamplingDefaults ForMode(GenerationConfigMode mode, const GenerationConfig& config);

  // Sets each field of *params that `unset` marks; keeps the others.
  void ApplyTo(const UnsetSamplingFields& unset, SamplingParams* params) const;

  // "temperature=0 top_k=0 top_p=1 min_p=0 repetition_penalty=1".
  std::string ToString() const;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SAMPLING_DEFAULTS_H_
