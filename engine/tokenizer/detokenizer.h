// engine/tokenizer/detokenizer.h — incremental detokenization for streaming.
//
// Feeds generated ids one at a time and returns the text that became final:
// the concatenation of all returned deltas always equals the UTF-8-valid prefix
// of Decode(prompt_tail + output) minus Decode(prompt_tail), and a delta never
// ends inside a multi-byte UTF-8 sequence (bytes of an incomplete character are
// held back until the character completes; Flush() releases them as U+FFFD).
// Not thread-safe; one per sequence, owned by the engine thread.
#ifndef INFERD_ENGINE_TOKENIZER_DETOKENIZER_H_
#define INFERD_ENGINE_TOKENIZER_DETOKENIZER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8.h"

namespace inferd::engine {

class IncrementalDetokenizer {
 public:
  // `prompt_ids` as fed to the model (BOS included). The continuation text is
  // what the output reads appended to the prompt text: a leading space of the
  // first generated piece is kept when the prompt had text before it.
  IncrementalDetokenizer(const Tokenizer* tokenizer, const std::vector<int32_t>& prompt_ids,
                         bool skip_special_tokens = true);

  // Appends one generated id; returns the newly final text (possibly empty).
  std::string Push(int32_t id);
  // Returns any held-back bytes (an incomplete UTF-8 tail becomes U+FFFD).
  std::string Flush();

 private:
  // The bytes `id` adds to the decoded stream (empty when Decode skips it);
  // strips the leading space of the stream's first bytes when Decode would.
  std::string Bytes(int32_t id);

  const Tokenizer* tokenizer_;
  bool skip_special_tokens_;
  bool at_start_;        // no decoded bytes so far (prompt included)
  InvalidUtf8 policy_;   // tokenizer_->invalid_utf8()
  bool strip_space_;     // tokenizer_->strips_leading_space()
  std::string pending_;  // bytes of an incomplete UTF-8 character
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_DETOKENIZER_H_
