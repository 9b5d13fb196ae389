// server/model_locator.h — which model directory to load.
//
// With --model the directory is used as given. Without it, the model embedded
// in the repository (models/stories260K) is looked for next to the executable
// (<dir of /proc/self/exe>/../models/stories260K, i.e. build/../models) and
// then in the source tree the binary was built from.
#ifndef INFERD_SERVER_MODEL_LOCATOR_H_
#define INFERD_SERVER_MODEL_LOCATOR_H_

#include <string>

#include "absl/status/statusor.h"

namespace inferd::server {

// `flag_value` empty: the embedded default; NOT_FOUND naming every path tried.
// Otherwise NOT_FOUND when `flag_value` is not a directory.
absl::StatusOr<std::string> ResolveModelDir(const std::string& flag_value);

}  // namespace inferd::server

#endif  // INFERD_SERVER_MODEL_LOCATOR_H_
