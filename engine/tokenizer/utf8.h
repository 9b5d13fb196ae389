// engine/tokenizer/utf8.h — UTF-8 helpers shared by the tokenizers and the
// incremental detokenizer: stepping over (possibly invalid) characters,
// encoding code points, the Unicode White_Space set, and turning a byte string
// into valid UTF-8 the way a decoder does (streaming-safe).
#ifndef INFERD_ENGINE_TOKENIZER_UTF8_H_
#define INFERD_ENGINE_TOKENIZER_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace inferd::engine {

// How bytes that are not valid UTF-8 appear in decoded text.
enum class InvalidUtf8 {
  // One U+FFFD per invalid byte (sentencepiece; HF ByteFallback decoder).
  kReplacePerByte,
  // One U+FFFD per maximal invalid subpart (Rust String::from_utf8_lossy, as
  // the HF ByteLevel decoder does; also Python's errors="replace").
  kReplaceMaximalSubpart,
};

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 character starting at s[i], or 1 when the bytes
// there are not a valid (complete, shortest-form, non-surrogate) character.
size_t Utf8CharLen(std::string_view s, size_t i);

// Decodes the valid character at s[i]; returns -1 (and *len = 1) when invalid.
int32_t DecodeUtf8(std::string_view s, size_t i, size_t* len);

// Appends the UTF-8 encoding of a code point (must be <= 0x10FFFF).
void AppendUtf8(uint32_t cp, std::string* out);

bool IsValidUtf8(std::string_view s);

// Unicode White_Space (what Rust's char::is_whitespace and Oniguruma's \s use).
bool IsUnicodeWhitespace(int32_t cp);

// Appends `in` to `out` as valid UTF-8, replacing invalid bytes per `policy`.
// With final == false, a trailing incomplete (but so far valid) character is
// left unconsumed. Returns how many bytes of `in` were consumed. Decisions only
// depend on bytes already seen, so repairing a stream piece by piece (feeding
// the unconsumed rest again) gives the same text as repairing it at once.
size_t RepairUtf8(std::string_view in, InvalidUtf8 policy, bool final, std::string* out);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_UTF8_H_
