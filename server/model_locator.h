// server/model_locator.h — which model directory (or GGUF file) to load.
//
// With --model the directory or *.gguf file is used as given. Without it, the model embedded
// in the repository (models/stories260K) is looked for next to the executable
// (<dir of /proc/self/exe>/../models/stories260K, i.e. build/../models) and
// then in the source tree the binary was built from.
#ifndef INFERD_SERVER_MODEL_LOCATOR_H_
#define INFERD_SERVER_MODEL_LOCATOR_H_

#include <string>

#include "absl/status/statusor.h"

namespace inferd::server {

// `flag_value` empty: the embedded default; NOT_FOUND naming every path tried.
// Otherwise `flag_value` when it is a directory or a regular *.gguf file
// (the engine reads config, tokenizer and weights from it); NOT_FOUND when it
// is missing, INVALID_ARGUMENT for anything else.
absl::StatusOr<std::string> ResolveModelDir(const std::string& flag_value);

}  // namespace inferd::server

#endif  // INFERD_SERVER_MODEL_LOCATOR_H_
