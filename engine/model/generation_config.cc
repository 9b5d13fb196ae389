// engine/model/generation_config.cc — GenerationConfig: the optional
// generation_config.json (stop tokens, BOS).
#include <filesystem>
#include <limits>

#include "absl/strings/str_cat.h"
#include "engine/model/config.h"
#include "engine/model/json_fields.h"

namespace inferd::engine {

absl::StatusOr<GenerationConfig> GenerationConfig::FromDirectory(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "generation_config.json").string();
  GenerationConfig config;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return config;
  absl::StatusOr<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<nlohmann::json> j = ParseJson(*text, path);
  if (!j.ok()) return j.status();
  if (!j->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected a JSON object, got ", JsonTypeName(*j)));
  }
  JsonFields f(*j, path);
  absl::StatusOr<std::vector<int32_t>> eos = f.TokenIds("eos_token_id");
  if (!eos.ok()) return eos.status();
  config.eos_token_ids = *std::move(eos);
  absl::StatusOr<std::optional<int64_t>> bos = f.OptionalInt("bos_token_id");
  if (!bos.ok()) return bos.status();
  if (bos->has_value()) {
    if (**bos < 0 || **bos > std::numeric_limits<int32_t>::max()) {
      return f.Error("bos_token_id", absl::StrCat("expected a token id, got ", **bos));
    }
    config.bos_token_id = static_cast<int32_t>(**bos);
  }
  return config;
}

}  // namespace inferd::engine
