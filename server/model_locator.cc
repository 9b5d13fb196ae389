// server/model_locator.cc
#include "server/model_locator.h"

#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#ifndef INFERD_SOURCE_DIR
#error "INFERD_SOURCE_DIR must be defined by the build (the repository root)"
#endif

namespace inferd::server {

namespace {

constexpr char kDefaultModel[] = "models/stories260K";

bool IsModelDir(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(dir / "config.json", ec);
}

}  // namespace

absl::StatusOr<std::string> ResolveModelDir(const std::string& flag_value) {
  if (!flag_value.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(flag_value, ec)) {
      return absl::NotFoundError(absl::StrCat("--model ", flag_value, ": no such directory"));
    }
    return flag_value;
  }
  std::vector<std::filesystem::path> candidates;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path() / ".." / kDefaultModel);
  candidates.push_back(std::filesystem::path(INFERD_SOURCE_DIR) / kDefaultModel);
  std::vector<std::string> tried;
  for (const std::filesystem::path& dir : candidates) {
    const std::filesystem::path normal = dir.lexically_normal();
    if (IsModelDir(normal)) return normal.string();
    tried.push_back(normal.string());
  }
  return absl::NotFoundError(absl::StrCat("no --model given and the default model (", kDefaultModel,
                                          ") is not at ", absl::StrJoin(tried, " nor at ")));
}

}  // namespace inferd::server
