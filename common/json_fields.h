// common/json_fields.h — the one place JSON files from outside are read:
// config.json, generation_config.json, the safetensors index and headers,
// Medusa/MTP configs, tokenizer.json and tokenizer_config.json.
//
// Never throws: reading and parsing return Status naming the file, and the
// typed field reads return INVALID_ARGUMENT naming the field. A field that
// is absent or JSON null counts as absent everywhere.
//
// Two message styles, kept as their callers' tests and users know them:
//  - JsonFields (model files): "<origin>: field `<path>`: <what>", where
//    <path> is the dotted name of the field (e.g. rope_scaling.factor);
//  - Get* (tokenizer.json parts): "<where>.<key> is not a <type>".
#ifndef INFERD_COMMON_JSON_FIELDS_H_
#define INFERD_COMMON_JSON_FIELDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace inferd {

using Json = nlohmann::json;

// Largest JSON file ReadTextFile accepts by default: config.json,
// generation_config.json, a safetensors index (real ones are kilobytes; an
// index of a 1,000-shard model a few MiB).
inline constexpr int64_t kMaxJsonFileBytes = int64_t{64} << 20;

// Reads a whole regular file of at most `max_bytes` into a string; NOT_FOUND
// when it does not exist, INVALID_ARGUMENT naming what the path is when it is
// not a regular file (a FIFO never blocks: common/regular_file.h).
absl::StatusOr<std::string> ReadTextFile(const std::string& path,
                                         int64_t max_bytes = kMaxJsonFileBytes);

// Parses `text` as JSON; syntax errors read "<origin>: invalid JSON: ...".
// Catches nlohmann's exceptions (this is the parse boundary).
absl::StatusOr<Json> ParseJson(absl::string_view text, const std::string& origin);

// The byte offset of the first '{' or '[' (outside strings) that opens
// level max_depth + 1 of `text`, or nullopt when it nests no deeper. A scan
// before parsing: nlohmann's parser and destructor recurse per level.
std::optional<size_t> FindJsonNestingPast(std::string_view text, int max_depth);

// A short description of a JSON value's type for messages ("a string", ...).
const char* JsonTypeName(const Json& value);

// obj[key] when obj is an object holding key and the value is not null;
// nullptr otherwise.
const Json* FindField(const Json& obj, std::string_view key);

// Typed, validated reads of the fields of one JSON object; errors read
// "<origin>: field `<prefix><key>`: <what>".
class JsonFields {
 public:
  // `object` must be a JSON object and outlive this view.
  JsonFields(const Json& object, std::string origin, std::string prefix = "")
      : object_(object), origin_(std::move(origin)), prefix_(std::move(prefix)) {}

  // nullptr when the field is absent or null.
  const Json* Find(absl::string_view key) const;
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
  const Json& object_;
  std::string origin_;
  std::string prefix_;
};

// Typed optional fields of `obj` (not necessarily an object): absent or null
// gives `fallback`; a value of another type is an error "<where>.<key> is not
// a boolean" (a string, an integer).
absl::StatusOr<bool> GetBool(const Json& obj, std::string_view key, bool fallback,
                             const std::string& where);
absl::StatusOr<std::string> GetString(const Json& obj, std::string_view key,
                                      std::string_view fallback, const std::string& where);
absl::StatusOr<std::optional<std::string>> GetOptionalString(const Json& obj, std::string_view key,
                                                             const std::string& where);
absl::StatusOr<int64_t> GetInt(const Json& obj, std::string_view key, int64_t fallback,
                               const std::string& where);

// "Sequence"-style objects: the "type" field, or an error naming `where`.
absl::StatusOr<std::string> GetType(const Json& obj, const std::string& where);

}  // namespace inferd

#endif  // INFERD_COMMON_JSON_FIELDS_H_
