// server/auth/secret_file.h — reading the small files that security flags
// name (certificates, keys, API keys), with errors that name the flag and the
// file and never quote the contents.
#ifndef INFERD_SERVER_AUTH_SECRET_FILE_H_
#define INFERD_SERVER_AUTH_SECRET_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inferd::server {

// Larger files are refused: none of these files is anywhere near it, and a
// wrong path (a model file, /dev/zero) must not be read whole.
inline constexpr int64_t kMaxSecretFileBytes = 1 << 20;

// The whole file. INVALID_ARGUMENT "--<flag> <path>: ..." when it cannot be
// opened or read, is not a regular file, is empty, or is larger than
// kMaxSecretFileBytes.
absl::StatusOr<std::string> ReadSecretFile(absl::string_view flag, const std::string& path);

}  // namespace inferd::server

#endif  // INFERD_SERVER_AUTH_SECRET_FILE_H_
