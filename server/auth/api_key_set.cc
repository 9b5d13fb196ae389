// server/auth/api_key_set.cc
#include "server/auth/api_key_set.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/auth/secret_file.h"

namespace inferd::server {

namespace {

// A visible ASCII character: no space, tab or control character, no byte
// above 0x7e.
bool IsKeyChar(char c) { return c > 0x20 && c < 0x7f; }

}  // namespace

ApiKeySet::Digest ApiKeySet::Sha256(absl::string_view text) {
  Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

absl::StatusOr<ApiKeySet> ApiKeySet::Parse(absl::string_view text, const std::string& path) {
  ApiKeySet set;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const absl::string_view stripped = absl::StripAsciiWhitespace(line);
    if (stripped.empty() || stripped.front() == '#') continue;
    const std::string where = absl::StrCat("--api-key-file ", path, " line ", line_number, ": ");
    for (char c : line) {
      if (c == ' ' || c == '\t' || c == '\v' || c == '\f') {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "the key contains whitespace (one key per line, nothing else)"));
      }
      if (!IsKeyChar(c)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "the key contains a character that is not printable ASCII"));
      }
    }
    if (line.size() < kMinApiKeyLength) {
      return absl::InvalidArgumentError(absl::StrCat(where, "the key has ", line.size(),
                                                     " characters; keys need at least ",
                                                     kMinApiKeyLength));
    }
    if (line.size() > kMaxApiKeyLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "the key has ", line.size(), " characters; keys have at most ", kMaxApiKeyLength));
    }
    set.digests_.push_back(Sha256(line));
  }
  if (set.digests_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--api-key-file ", path, ": no API key in the file (only blank lines and comments)"));
  }
  return set;
}

absl::StatusOr<ApiKeySet> ApiKeySet::LoadFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSecretFile("api-key-file", path);
  if (!text.ok()) return text.status();
  return Parse(*text, path);
}

bool ApiKeySet::Contains(absl::string_view key) const {
  const Digest candidate = Sha256(key);
  bool found = false;
  for (const Digest& digest : digests_) {
    // Bitwise or: every digest is compared whatever the earlier ones gave.
    found |= CRYPTO_memcmp(candidate.data(), digest.data(), digest.size()) == 0;
  }
  return found;
}

}  // namespace inferd::server
