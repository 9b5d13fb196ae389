// engine/model/gguf_config.h — the model config and generation defaults of a
// GGUF file, read from its metadata (`general.architecture` and the
// `<arch>.*` keys llama.cpp's converter writes) and its tensor list.
//
// The metadata is turned into the config.json fields the safetensors path
// reads, and parsed by ModelConfig::Parse: the same validation, the same
// errors (prefixed with the file and naming the GGUF key they came from).
// Architectures: llama (Mixtral when it has experts), qwen2, qwen2moe,
// qwen3moe.
#ifndef INFERD_ENGINE_MODEL_GGUF_CONFIG_H_
#define INFERD_ENGINE_MODEL_GGUF_CONFIG_H_

#include "absl/status/statusor.h"
#include "engine/model/config.h"
#include "engine/model/gguf_file.h"

namespace inferd::engine {

absl::StatusOr<ModelConfig> ModelConfigFromGguf(const GgufFile& file);
// bos/eos from tokenizer.ggml.bos_token_id / eos_token_id; sampling defaults
// are not in GGUF files (all unset).
absl::StatusOr<GenerationConfig> GenerationConfigFromGguf(const GgufFile& file);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_GGUF_CONFIG_H_
