// server/engine_config_flags.h — engine::EngineConfig from the flags shared
// by `serve` and `generate` (--model, --max-num-seqs, --kv-cache-memory, ...).
#ifndef INFERD_SERVER_ENGINE_CONFIG_FLAGS_H_
#define INFERD_SERVER_ENGINE_CONFIG_FLAGS_H_

#include "absl/status/statusor.h"
#include "engine/engine.h"

namespace inferd::server {

// Resolves the model directory (model_locator.h) and range-checks the sizes.
// INVALID_ARGUMENT / NOT_FOUND with a message naming the flag.
absl::StatusOr<engine::EngineConfig> EngineConfigFromFlags();

}  // namespace inferd::server

#endif  // INFERD_SERVER_ENGINE_CONFIG_FLAGS_H_
