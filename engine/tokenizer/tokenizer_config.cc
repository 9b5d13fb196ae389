// engine/tokenizer/tokenizer_config.cc — see tokenizer_config.h.
#include "engine/tokenizer/tokenizer_config.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/json_fields.h"
#include "engine/tokenizer/absl_compat.h"
#include "engine/tokenizer/tokenizer.h"

namespace inferd::engine {

namespace {

// A special-token field: string, {"content": string, ...} or null.
absl::Status ReadToken(const Json& root, std::string_view key, const std::string& path,
                       std::optional<std::string>* out) {
  if (!root.contains(key)) return absl::OkStatus();
  const Json& v = root[std::string(key)];
  if (v.is_null()) {
    *out = std::string();
  } else if (v.is_string()) {
    *out = v.get<std::string>();
  } else if (const Json* content = FindField(v, "content");
             content != nullptr && content->is_string()) {
    *out = content->get<std::string>();
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", ToAbsl(key), " is neither a string, {\"content\": ...} nor null"));
  }
  return absl::OkStatus();
}

absl::Status ReadFlag(const Json& root, std::string_view key, const std::string& path,
                      std::optional<bool>* out) {
  const Json* v = FindField(root, key);
  if (v == nullptr) return absl::OkStatus();
  if (!v->is_boolean()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", ToAbsl(key), " is not a boolean"));
  }
  *out = v->get<bool>();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TokenizerConfig> LoadTokenizerConfig(const std::string& path) {
  absl::StatusOr<std::string> text = ReadTextFile(path, kMaxTokenizerFileBytes);
  if (!text.ok()) return text.status();
  absl::StatusOr<Json> root = ParseJson(*text, path);
  if (!root.ok()) return root.status();
  if (!root->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  TokenizerConfig config;
  for (absl::Status s : {ReadFlag(*root, "add_bos_token", path, &config.add_bos_token),
                         ReadFlag(*root, "add_eos_token", path, &config.add_eos_token),
                         ReadToken(*root, "bos_token", path, &config.bos_token),
                         ReadToken(*root, "eos_token", path, &config.eos_token)}) {
    if (!s.ok()) return s;
  }
  return config;
}

}  // namespace inferd::engine
