// engine/tokenizer/decode_bytes.h — Decode() in terms of TokenBytes(), the
// one definition shared by every Tokenizer and the incremental detokenizer.
#ifndef INFERD_ENGINE_TOKENIZER_DECODE_BYTES_H_
#define INFERD_ENGINE_TOKENIZER_DECODE_BYTES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace inferd::engine {

// True when Decode drops `id`: out of range, or special with skip_special.
bool DecodeSkips(const Tokenizer& tokenizer, int32_t id, bool skip_special_tokens);

// Concatenates TokenBytes of the ids Decode keeps, strips one leading space
// when tokenizer.strips_leading_space(), and repairs invalid UTF-8 per
// tokenizer.invalid_utf8().
std::string DecodeFromTokenBytes(const Tokenizer& tokenizer, const std::vector<int32_t>& ids,
                                 bool skip_special_tokens);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_DECODE_BYTES_H_
