// engine/tokenizer/sentencepiece_matcher.h — how sentencepiece cuts text into
// initial symbols (its PrefixMatcher): the longest USER_DEFINED piece that
// starts the text, as one symbol that is never normalised or merged; else
// one character, its length taken from the lead byte alone (sentencepiece's
// OneCharLen), clipped to the text. Immutable; thread-safe.
#ifndef INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_MATCHER_H_
#define INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_MATCHER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace inferd::engine {

class SentencePieceMatcher {
 public:
  SentencePieceMatcher() = default;
  // `symbols`: the USER_DEFINED pieces (non-empty).
  explicit SentencePieceMatcher(const std::vector<std::string>& symbols);

  // The length of the first symbol of non-empty `text`; *user_defined tells
  // whether it is a USER_DEFINED piece.
  size_t Match(std::string_view text, bool* user_defined) const;

 private:
  absl::flat_hash_set<std::string> symbols_;
  std::vector<size_t> lengths_;  // distinct symbol lengths, longest first
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_MATCHER_H_
