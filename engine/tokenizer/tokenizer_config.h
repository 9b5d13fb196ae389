// engine/tokenizer/tokenizer_config.h — the parts of a HF
// tokenizer_config.json that change encoding: add_bos_token, add_eos_token,
// bos_token, eos_token (a string, an AddedToken object with "content", or
// null for "none").
#ifndef INFERD_ENGINE_TOKENIZER_TOKENIZER_CONFIG_H_
#define INFERD_ENGINE_TOKENIZER_TOKENIZER_CONFIG_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace inferd::engine {

struct TokenizerConfig {
  std::optional<bool> add_bos_token;  // absent: the tokenizer file decides
  std::optional<bool> add_eos_token;
  // Absent: not given. Given as null: an empty string (the model has none).
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
};

// Errors name the file and the field (not found, bad JSON, wrong types).
absl::StatusOr<TokenizerConfig> LoadTokenizerConfig(const std::string& path);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_TOKENIZER_CONFIG_H_
