// engine/model/moe_config.h — parsing of the Mixture-of-Experts fields of
// config.json into ModelConfig::moe (internal to engine/model).
#ifndef INFERD_ENGINE_MODEL_MOE_CONFIG_H_
#define INFERD_ENGINE_MODEL_MOE_CONFIG_H_

#include "absl/status/status.h"
#include "common/json_fields.h"
#include "engine/model/config.h"

namespace inferd::engine {

// Fills c->moe for MixtralForCausalLM / Qwen2MoeForCausalLM /
// Qwen3MoeForCausalLM (c->architecture and the dense sizes already parsed);
// leaves it dense for other architectures. Errors name the field.
absl::Status ParseMoeConfig(const JsonFields& f, ModelConfig* c);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_MOE_CONFIG_H_
