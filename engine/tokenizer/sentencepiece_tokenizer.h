// engine/tokenizer/sentencepiece_tokenizer.h — a Tokenizer over a
// sentencepiece ModelProto (tokenizer.model), read and run by inferd itself
// (no libsentencepiece, no libprotobuf): ParseModelProto reads the file,
// SentencePieceNormalizer and SentencePieceBpe encode as sentencepiece does.
//
// Only BPE models with the identity normalisation rule are supported (Llama
// 1/2, Mistral, tinyllamas); others fail to load with a message naming the
// field. Encoding includes sentencepiece's normaliser (e.g. the stories260K
// model collapses runs of spaces, which tokenizer.json does not). Special
// tokens written in the text are not matched (sentencepiece does not).
// BOS/EOS follow tokenizer_config.json, by default BOS only (HF
// LlamaTokenizer). Decoding uses the same TokenBytes rule as tokenizer.json
// (control and unknown pieces are the special tokens, shown as their piece).
#ifndef INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
#define INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/tokenizer/sentencepiece_proto.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/tokenizer_config.h"

namespace inferd::engine {

// Loads `path` (a serialized ModelProto); `config` may be null. Errors name
// the file and the problem.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(
    const std::string& path, const TokenizerConfig* config);

// The same from the file's bytes; `origin` names them in errors.
absl::StatusOr<std::unique_ptr<Tokenizer>> SentencePieceTokenizerFromBytes(
    std::string_view bytes, const std::string& origin, const TokenizerConfig* config);

// A tokenizer over a ModelProto built in memory (a GGUF file's
// tokenizer.ggml.* vocabulary: engine/gguf_tokenizer.h), whose builder
// applies ParseModelProto's limits (piece count and size, finite scores,
// known piece types). `origin` starts errors.
absl::StatusOr<std::unique_ptr<Tokenizer>> SentencePieceTokenizerFromModel(
    const SentencePieceModelProto& model, const std::string& origin, const TokenizerConfig* config);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
