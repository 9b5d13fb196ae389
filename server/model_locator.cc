// server/model_locator.cc
#include "server/model_locator.h"

#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/regular_file.h"

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
    const std::string kind = DescribePathKind(flag_value);
    if (kind == "a directory") return flag_value;
    const std::string what = absl::StrCat("--model ", flag_value, ": ");
    if (kind == "missing") {
      return absl::NotFoundError(absl::StrCat(what, "no such file or directory"));
    }
    if (kind == "a regular file") {
      if (std::filesystem::path(flag_value).extension() == ".gguf") return flag_value;
      return absl::InvalidArgumentError(absl::StrCat(
          what,
          "is a regular file, not a directory: give the Hugging Face model directory that "
          "holds config.json, the *.safetensors weights and the tokenizer, or a *.gguf file"));
    }
    return absl::InvalidArgumentError(absl::StrCat(what, "is ", kind, ", not a directory"));
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
