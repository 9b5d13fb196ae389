// engine/tokenizer/json_util.cc — see json_util.h.
#include "engine/tokenizer/json_util.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/regular_file.h"
#include "engine/tokenizer/absl_compat.h"

namespace inferd::engine {

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  return ReadRegularFile(path, kMaxTokenizerFileBytes);
}

absl::StatusOr<Json> ParseJson(const std::string& text, const std::string& path) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": invalid JSON: ", e.what()));
  }
}

const Json* FindField(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::StatusOr<bool> GetBool(const Json& obj, std::string_view key, bool fallback,
                             const std::string& where) {
  const Json* v = FindField(obj, key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".", ToAbsl(key), " is not a boolean"));
  }
  return v->get<bool>();
}

absl::StatusOr<std::string> GetString(const Json& obj, std::string_view key,
                                      std::string_view fallback, const std::string& where) {
  const Json* v = FindField(obj, key);
  if (v == nullptr) return std::string(fallback);
  if (!v->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".", ToAbsl(key), " is not a string"));
  }
  return v->get<std::string>();
}

absl::StatusOr<std::optional<std::string>> GetOptionalString(const Json& obj, std::string_view key,
                                                             const std::string& where) {
  const Json* v = FindField(obj, key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".", ToAbsl(key), " is not a string"));
  }
  return std::optional<std::string>(v->get<std::string>());
}

absl::StatusOr<int64_t> GetInt(const Json& obj, std::string_view key, int64_t fallback,
                               const std::string& where) {
  const Json* v = FindField(obj, key);
  if (v == nullptr) return fallback;
  if (!v->is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".", ToAbsl(key), " is not an integer"));
  }
  return v->get<int64_t>();
}

absl::StatusOr<std::string> GetType(const Json& obj, const std::string& where) {
  if (!obj.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " is not an object"));
  }
  const Json* v = FindField(obj, "type");
  if (v == nullptr || !v->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has no string \"type\""));
  }
  return v->get<std::string>();
}

}  // namespace inferd::engine
