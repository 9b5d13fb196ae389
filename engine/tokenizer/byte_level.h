// engine/tokenizer/byte_level.h — GPT-2's reversible byte <-> printable
// character mapping (HF ByteLevel pre-tokenizer and decoder): bytes 33..126,
// 161..172 and 174..255 map to the same code point, the other 68 bytes to
// U+0100 upwards in order ("Ġ" is the space, "Ċ" the newline).
#ifndef INFERD_ENGINE_TOKENIZER_BYTE_LEVEL_H_
#define INFERD_ENGINE_TOKENIZER_BYTE_LEVEL_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace inferd::engine {

// Appends the byte-level characters (UTF-8) of every byte of `bytes`.
void BytesToByteLevel(std::string_view bytes, std::string* out);

// Appends the bytes that the byte-level characters of `chars` stand for.
// Returns false (appending nothing) when some character is not one of the
// 256 byte-level characters.
bool ByteLevelToBytes(std::string_view chars, std::string* out);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_BYTE_LEVEL_H_
