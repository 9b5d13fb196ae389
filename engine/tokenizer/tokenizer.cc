// engine/tokenizer/tokenizer.cc — Tokenizer::FromDirectory / FromFile: pick
// the implementation for a file and read tokenizer_config.json.
#include "engine/tokenizer/tokenizer.h"

#include <filesystem>
#include <optional>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/hf_tokenizer.h"
#include "engine/tokenizer/sentencepiece_tokenizer.h"
#include "engine/tokenizer/tokenizer_config.h"

namespace inferd::engine {

namespace {

bool IsRegularFile(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromDirectory(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": not a directory"));
  }
  const std::string config = absl::StrCat(dir, "/tokenizer_config.json");
  const std::string config_arg = IsRegularFile(config) ? config : "";
  for (const char* name : {"tokenizer.json", "tokenizer.model"}) {
    const std::string path = absl::StrCat(dir, "/", name);
    if (IsRegularFile(path)) return FromFile(path, config_arg);
  }
  return absl::NotFoundError(
      absl::StrCat(dir, ": no tokenizer.json or tokenizer.model in the directory"));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const std::string& path,
                                                               const std::string& config_json) {
  std::optional<TokenizerConfig> config;
  if (!config_json.empty()) {
    absl::StatusOr<TokenizerConfig> c = LoadTokenizerConfig(config_json);
    if (!c.ok()) return c.status();
    config = *std::move(c);
  }
  const TokenizerConfig* cfg = config.has_value() ? &*config : nullptr;
  if (absl::EndsWith(path, ".json")) return LoadHfTokenizer(path, cfg);
  return LoadSentencePieceTokenizer(path, cfg);
}

}  // namespace inferd::engine
