// engine/gguf_tokenizer.h — the tokenizer a GGUF file carries in its
// tokenizer.ggml.* metadata.
//
// tokenizer.ggml.model "llama" (sentencepiece BPE: tokens, scores,
// token_type, the bos/eos/unknown ids, add_bos_token / add_eos_token,
// add_space_prefix, remove_extra_whitespaces) becomes the ModelProto the
// sentencepiece tokenizer runs on. "gpt2" (byte-level BPE with merges) is
// not mapped yet: its error says so. Every array is checked (lengths agree,
// piece sizes, finite scores, known token types, ids in range), errors
// naming the file and the key.
#ifndef INFERD_ENGINE_GGUF_TOKENIZER_H_
#define INFERD_ENGINE_GGUF_TOKENIZER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "engine/model/gguf_file.h"
#include "engine/tokenizer/tokenizer.h"

namespace inferd::engine {

absl::StatusOr<std::unique_ptr<Tokenizer>> TokenizerFromGguf(const GgufFile& file);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_GGUF_TOKENIZER_H_
