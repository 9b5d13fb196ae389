// engine/tokenizer/token_decoder.h — the "decoder" of tokenizer.json, as the
// bytes each token contributes plus the few whole-text rules:
//   per token: Replace (String pattern), ByteFallback (<0xXX> -> the byte),
//              ByteLevel (byte-level characters -> bytes), Metaspace;
//   whole text: Fuse (a no-op on bytes), Strip of one leading ' ' (Strip
//              decoder, Metaspace with a prefix), and how invalid UTF-8 is
//              replaced (ByteLevel: per maximal subpart, else per byte).
// Decoding a list of tokens = concatenate TokenBytes, strip, repair UTF-8;
// this form is what lets IncrementalDetokenizer reproduce Decode exactly.
//
// One deliberate difference from HF: when a run of <0xXX> tokens is not
// valid UTF-8 as a whole, HF's ByteFallback turns every byte of the run into
// U+FFFD, valid characters inside it included; here only the invalid bytes
// are (as sentencepiece's own decoder does). HF's rule depends on tokens
// after the character and so cannot be streamed; both agree on every run
// that is valid UTF-8, and on runs with no valid character in them.
#ifndef INFERD_ENGINE_TOKENIZER_TOKEN_DECODER_H_
#define INFERD_ENGINE_TOKENIZER_TOKEN_DECODER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/json_fields.h"
#include "engine/tokenizer/utf8.h"

namespace inferd::engine {

class TokenDecoder {
 public:
  // `spec` is the "decoder" value (null: tokens are concatenated as is).
  static absl::StatusOr<TokenDecoder> FromJson(const Json& spec, const std::string& where);

  std::string TokenBytes(std::string_view piece) const;
  bool strips_leading_space() const { return strip_leading_space_; }
  InvalidUtf8 invalid_utf8() const { return invalid_utf8_; }

 private:
  struct Op {
    enum class Kind { kReplace, kByteFallback, kByteLevel } kind;
    std::string from;
    std::string to;
  };
  absl::Status Add(const Json& spec, const std::string& where);

  std::vector<Op> ops_;
  bool strip_leading_space_ = false;
  InvalidUtf8 invalid_utf8_ = InvalidUtf8::kReplacePerByte;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_TOKEN_DECODER_H_
