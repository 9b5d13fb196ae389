// server/auth/secret_file.cc
#include "server/auth/secret_file.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/regular_file.h"

namespace inferd::server {

absl::StatusOr<std::string> ReadSecretFile(absl::string_view flag, const std::string& path) {
  absl::StatusOr<std::string> contents = ReadRegularFile(path, kMaxSecretFileBytes);
  if (!contents.ok()) {
    // "PATH: what is wrong" -> "--flag PATH: cannot read: what is wrong".
    absl::string_view why = contents.status().message();
    if (absl::StartsWith(why, path + ": ")) why.remove_prefix(path.size() + 2);
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", path, ": cannot read: ", why));
  }
  if (contents->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", path, ": the file is empty"));
  }
  return contents;
}

}  // namespace inferd::server
