// engine/tokenizer/normalizer.h — the "normalizer" of tokenizer.json.
//
// Supported: Sequence, NFC, NFD, NFKC, NFKD (utf8proc), Prepend, Replace
// (String or Regex pattern), Lowercase. Normalisation never fails: runs of
// invalid UTF-8 are passed through untouched (they reach byte fallback /
// byte-level bytes later). Immutable after loading; thread-safe.
#ifndef INFERD_ENGINE_TOKENIZER_NORMALIZER_H_
#define INFERD_ENGINE_TOKENIZER_NORMALIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/json_fields.h"
#include "engine/tokenizer/regex.h"

namespace inferd::engine {

class Normalizer {
 public:
  // `spec` is the "normalizer" value (null: identity). Errors name `where`.
  static absl::StatusOr<std::unique_ptr<Normalizer>> FromJson(const Json& spec,
                                                              const std::string& where);

  std::string Normalize(std::string_view text) const;
  bool is_identity() const { return steps_.empty(); }

 private:
  enum class Kind { kUnicodeForm, kPrepend, kReplace, kLowercase };
  struct Step {
    Kind kind;
    int utf8proc_options = 0;      // kUnicodeForm
    std::string text;              // kPrepend: prefix; kReplace: replacement
    std::string pattern;           // kReplace with a String pattern
    std::shared_ptr<Regex> regex;  // kReplace with a Regex pattern
  };

  static absl::Status AddSteps(const Json& spec, const std::string& where,
                               std::vector<Step>* steps);
  static std::string Apply(const Step& step, std::string_view text);

  std::vector<Step> steps_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_NORMALIZER_H_
