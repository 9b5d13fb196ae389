// server/flag_types.h — value types for absl flags that the standard types do
// not cover: byte sizes ("512MiB"), token id lists ("1,2,3") and the log
// format ("text", "json").
//
// Each type has AbslParseFlag / AbslUnparseFlag so absl reports a bad value
// with the flag's name, like any other flag.
#ifndef INFERD_SERVER_FLAG_TYPES_H_
#define INFERD_SERVER_FLAG_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace inferd::server {

// A size in bytes. Accepted: a plain number of bytes ("1048576"), or a number
// (decimals allowed) with a unit, case-insensitive: B; K, M, G, T and KiB,
// MiB, GiB, TiB are powers of 1024; KB, MB, GB, TB are powers of 1000.
// "512MiB", "1GiB", "2G", "64M", "1.5G".
struct ByteSize {
  int64_t bytes = 0;
};
bool AbslParseFlag(absl::string_view text, ByteSize* size, std::string* error);
std::string AbslUnparseFlag(const ByteSize& size);

// A comma-separated list of token ids, each in [0, 2^31): "1,2,3". Empty
// text is an empty list.
struct TokenIdList {
  std::vector<int32_t> ids;
};
bool AbslParseFlag(absl::string_view text, TokenIdList* list, std::string* error);
std::string AbslUnparseFlag(const TokenIdList& list);

// How the daemon writes its stderr lines (server/log.h): "text" or "json".
enum class LogFormat { kText, kJson };
bool AbslParseFlag(absl::string_view text, LogFormat* format, std::string* error);
std::string AbslUnparseFlag(LogFormat format);

}  // namespace inferd::server

#endif  // INFERD_SERVER_FLAG_TYPES_H_
