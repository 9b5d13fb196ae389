// tests/fuzz/config_json_fuzz.cc — ModelConfig::Parse (config.json, with its
// moe and rope_scaling parts) on arbitrary bytes: an error Status, never a
// crash. An accepted config is exercised the way the loader uses it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = inferd::engine::ModelConfig::Parse(text, "fuzz/config.json");
  if (!config.ok()) return 0;
  // Parse bounds every size the model would allocate by; stay small here.
  if (config->head_dim > 0 && config->head_dim <= 4096) (void)config->RopeInvFreq();
  for (int64_t layer = 0; layer < config->num_hidden_layers && layer < 4096; ++layer) {
    (void)config->IsMoeLayer(layer);
  }
  return 0;
}
