// engine/tokenizer/tokenizer_json.h — parsing a HF tokenizer.json fast.
//
// The 9-11 MB files of Llama 3 / Qwen are almost all model.vocab and
// model.merges; building a nlohmann DOM of their ~400k small strings (and
// freeing it) costs several times the parse itself. ParseTokenizerJson
// streams those two through nlohmann's SAX interface straight into
// BpeTables and builds a DOM only of the rest.
#ifndef INFERD_ENGINE_TOKENIZER_TOKENIZER_JSON_H_
#define INFERD_ENGINE_TOKENIZER_TOKENIZER_JSON_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/json_fields.h"

namespace inferd::engine {

// A BPE model's vocabulary and merges as written in the file.
struct BpeTables {
  std::vector<std::pair<std::string, int64_t>> vocab;       // (piece, id)
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
};

struct TokenizerJson {
  // The document; model.vocab / model.merges are absent from it when they
  // were streamed into `tables` (an object / a list: the BPE layout).
  Json rest;
  BpeTables tables;
  bool vocab_streamed = false;
  bool merges_streamed = false;
};

// Errors name `path` and the problem (invalid JSON with the parser's message
// and offset; a vocab value that is not an integer; a malformed merge).
absl::StatusOr<TokenizerJson> ParseTokenizerJson(const std::string& text, const std::string& path);

// Splits a merge written as "a b" (exactly one space); errors name
// model.merges[index].
absl::Status SplitMerge(const std::string& merge, size_t index,
                        std::pair<std::string, std::string>* out);

// The BPE tables of a "model" object held in a DOM (the same checks as the
// streaming parser); used when they were not streamed.
absl::Status ExtractBpeTables(const Json& model, bool vocab, bool merges, BpeTables* out);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_TOKENIZER_JSON_H_
