// engine/model/json_fields.h — typed, validated reads of the fields of a JSON
// object (config.json, generation_config.json, safetensors index), private to
// the model loader.
//
// Every error is INVALID_ARGUMENT and reads "<origin>: field `<path>`: ...",
// where <path> is the dotted name of the field (e.g. rope_scaling.factor).
// A field that is absent or JSON null counts as absent. Never throws.
#ifndef INFERD_ENGINE_MODEL_JSON_FIELDS_H_
#define INFERD_ENGINE_MODEL_JSON_FIELDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace inferd::engine {

// Parses `text` as JSON; syntax errors name `origin`. Catches nlohmann's
// exceptions (this is the parse boundary).
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text, const std::string& origin);

// Largest config.json, generation_config.json or safetensors index accepted
// (real ones are kilobytes; an index of a 1,000-shard model a few MiB).
inline constexpr int64_t kMaxJsonFileBytes = int64_t{64} << 20;

// Reads a whole regular file of at most kMaxJsonFileBytes into a string;
// NOT_FOUND when it does not exist, INVALID_ARGUMENT naming what the path is
// when it is not a regular file (a FIFO never blocks: common/regular_file.h).
absl::StatusOr<std::string> ReadTextFile(const std::string& path);

class JsonFields {
 public:
  // `object` must be a JSON object and outlive this view.
  JsonFields(const nlohmann::json& object, std::string origin, std::string prefix = "")
      : object_(object), origin_(std::move(origin)), prefix_(std::move(prefix)) {}

  // nullptr when the field is absent or null.
  const nlohmann::json* Find(absl::string_view key) const;
  bool Has(absl::string_view key) const { return Find(key) != nullptr; }

  // Required (error when absent) and optional (nullopt when absent) reads.
  absl::StatusOr<int64_t> Int(absl::string_view key) const;
  absl::StatusOr<std::optional<int64_t>> OptionalInt(absl::string_view key) const;
  absl::StatusOr<std::optional<double>> OptionalDouble(absl::string_view key) const;
  absl::StatusOr<std::optional<bool>> OptionalBool(absl::string_view key) const;
  // Sets *out when `key` is present (a bool); keeps it (the default) otherwise.
  absl::Status ReadBool(absl::string_view key, bool* out) const;
  absl::StatusOr<std::optional<std::string>> OptionalString(absl::string_view key) const;
  // A token id or a list of token ids (each in [0, INT32_MAX]); empty when
  // the field is absent or null.
  absl::StatusOr<std::vector<int32_t>> TokenIds(absl::string_view key) const;

  // "<origin>: field `<prefix><key>`: <what>" as INVALID_ARGUMENT.
  absl::Status Error(absl::string_view key, absl::string_view what) const;
  const std::string& origin() const { return origin_; }

 private:
  const nlohmann::json& object_;
  std::string origin_;
  std::string prefix_;
};

// A short description of a JSON value's type for messages ("a string", ...).
const char* JsonTypeName(const nlohmann::json& value);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_JSON_FIELDS_H_
