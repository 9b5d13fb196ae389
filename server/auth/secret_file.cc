// server/auth/secret_file.cc
#include "server/auth/secret_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace inferd::server {

absl::StatusOr<std::string> ReadSecretFile(absl::string_view flag, const std::string& path) {
  const std::string what = absl::StrCat("--", flag, " ", path, ": ");
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (error)
    return absl::InvalidArgumentError(absl::StrCat(what, "cannot read: ", error.message()));
  if (!std::filesystem::is_regular_file(status)) {
    return absl::InvalidArgumentError(absl::StrCat(what, "not a regular file"));
  }
  const uintmax_t size = std::filesystem::file_size(path, error);
  if (error)
    return absl::InvalidArgumentError(absl::StrCat(what, "cannot read: ", error.message()));
  if (size > static_cast<uintmax_t>(kMaxSecretFileBytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, size, " bytes, more than the ", kMaxSecretFileBytes,
                     " a certificate or key file can hold: wrong file?"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(what, "cannot read: ", std::strerror(errno)));
  }
  std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat(what, "read error"));
  if (contents.empty()) return absl::InvalidArgumentError(absl::StrCat(what, "the file is empty"));
  return contents;
}

}  // namespace inferd::server
