// engine/tokenizer/json_util.h — reading tokenizer JSON files without
// exceptions: file reading and parsing return Status naming the file, and
// typed field accessors return Status naming the field ("where").
#ifndef INFERD_ENGINE_TOKENIZER_JSON_UTIL_H_
#define INFERD_ENGINE_TOKENIZER_JSON_UTIL_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace inferd::engine {

using Json = nlohmann::json;

// Largest tokenizer file accepted (tokenizer.json of a 256k vocabulary is
// about 35 MiB).
inline constexpr int64_t kMaxTokenizerFileBytes = int64_t{512} << 20;

// The whole regular file (at most kMaxTokenizerFileBytes); NotFound /
// InvalidArgument errors name the path and what it is (a FIFO, a directory:
// common/regular_file.h).
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Parses JSON text; errors name `path` and the parser's message.
absl::StatusOr<Json> ParseJson(const std::string& text, const std::string& path);

// obj[key] when obj is an object holding key and the value is not null.
const Json* FindField(const Json& obj, std::string_view key);

// Typed optional fields: absent or null gives `fallback`; a value of another
// type is an error naming `where`.`key`.
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

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_JSON_UTIL_H_
