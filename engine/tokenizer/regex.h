// engine/tokenizer/regex.h — the regular expressions of tokenizer.json
// (Split pre-tokenizer, Replace normalizer), run with PCRE2 in UTF + UCP mode.
//
// HF tokenizers runs them with Oniguruma, whose \s is Unicode White_Space;
// PCRE2's \s lacks U+0085, so \s and \S are rewritten to the exact set.
// Invalid UTF-8 in the subject never matches (PCRE2_MATCH_INVALID_UTF).
// Immutable after Compile and safe to use from several threads.
#ifndef INFERD_ENGINE_TOKENIZER_REGEX_H_
#define INFERD_ENGINE_TOKENIZER_REGEX_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace inferd::engine {

class Regex {
 public:
  // Errors name the pattern and PCRE2's message with the offset.
  static absl::StatusOr<std::unique_ptr<Regex>> Compile(std::string_view pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // All non-empty, non-overlapping matches, left to right, as [begin, end)
  // byte offsets into `subject`.
  std::vector<std::pair<size_t, size_t>> FindAll(std::string_view subject) const;

  // The pattern as given to PCRE2 (after the \s rewrite); for tests.
  const std::string& translated() const { return translated_; }

 private:
  explicit Regex(std::string translated) : translated_(std::move(translated)) {}

  std::string translated_;
  void* code_ = nullptr;  // pcre2_code_8*
};

// Rewrites \s / \S (outside and inside character classes) to the Unicode
// White_Space set; everything else is copied as is.
std::string TranslateWhitespaceClasses(std::string_view pattern);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_REGEX_H_
