// server/auth/api_key_set.h — the API keys of --api-key-file, kept only as
// SHA-256 digests, and the constant-time membership test.
//
// File format: one key per line; blank lines and lines whose first non-blank
// character is '#' are ignored; a trailing '\r' (CRLF files) is dropped. A key
// is at least kMinApiKeyLength and at most kMaxApiKeyLength characters of
// printable ASCII without whitespace (what an HTTP/2 header value can carry
// as is). A file with no key is refused. Errors name the file and the line,
// never the key.
//
// Why digests: Contains() hashes the candidate and compares 32-byte digests,
// so neither the time nor the path taken depends on the length of a stored
// key or on how many leading bytes a guess got right. Every stored digest is
// compared (no early exit) with OpenSSL's CRYPTO_memcmp, whose running time
// does not depend on the bytes compared.
//
// Immutable after loading; Contains() is thread-safe.
#ifndef INFERD_SERVER_AUTH_API_KEY_SET_H_
#define INFERD_SERVER_AUTH_API_KEY_SET_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace inferd::server {

inline constexpr size_t kMinApiKeyLength = 16;
inline constexpr size_t kMaxApiKeyLength = 4096;

class ApiKeySet {
 public:
  // Parses the text of a key file; `path` only names it in errors.
  static absl::StatusOr<ApiKeySet> Parse(absl::string_view text, const std::string& path);
  // Reads --api-key-file `path` and parses it.
  static absl::StatusOr<ApiKeySet> LoadFile(const std::string& path);

  // True when `key` is one of the keys; constant time in the key's bytes.
  bool Contains(absl::string_view key) const;
  size_t size() const { return digests_.size(); }

 private:
  using Digest = std::array<uint8_t, 32>;
  static Digest Sha256(absl::string_view text);

  std::vector<Digest> digests_;
};

}  // namespace inferd::server

#endif  // INFERD_SERVER_AUTH_API_KEY_SET_H_
