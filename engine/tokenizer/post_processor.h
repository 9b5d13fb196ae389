// engine/tokenizer/post_processor.h — the "post_processor" of tokenizer.json
// reduced to what a single sequence needs: the ids added before and after
// the text when encoding with special tokens. Supported: TemplateProcessing
// ("single"), ByteLevel (adds nothing), BertProcessing / RobertaProcessing
// (cls ... sep), Sequence.
#ifndef INFERD_ENGINE_TOKENIZER_POST_PROCESSOR_H_
#define INFERD_ENGINE_TOKENIZER_POST_PROCESSOR_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/json_fields.h"

namespace inferd::engine {

struct SpecialIds {
  std::vector<int32_t> prefix;
  std::vector<int32_t> suffix;
};

// `spec` is the "post_processor" value (null: nothing added). Errors name
// `where`.
absl::Status ParsePostProcessor(const Json& spec, const std::string& where, SpecialIds* out);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_POST_PROCESSOR_H_
