// engine/tokenizer/sentencepiece_tokenizer.h — a Tokenizer over a
// sentencepiece ModelProto (tokenizer.model) through libsentencepiece.
//
// Encoding is sentencepiece's own (its normaliser included: e.g. the
// stories260K model collapses runs of whitespace, which tokenizer.json does
// not). Special tokens written in the text are not matched (sentencepiece
// does not). BOS/EOS follow tokenizer_config.json, by default BOS only (HF
// LlamaTokenizer). Decoding uses the same TokenBytes rule as tokenizer.json
// (control and unknown pieces are the special tokens, shown as their piece).
#ifndef INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
#define INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/tokenizer_config.h"

namespace inferd::engine {

// Loads `path` (a serialized ModelProto); `config` may be null. Errors name
// the file and sentencepiece's message.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(
    const std::string& path, const TokenizerConfig* config);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
