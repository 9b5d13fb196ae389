// engine/tokenizer/pre_tokenizer.h — the "pre_tokenizer" of tokenizer.json:
// splits normalised text into pieces that the model tokenizes one by one.
//
// Supported: Sequence, Split (String or Regex pattern; every HF split
// behaviour; invert), ByteLevel (add_prefix_space, use_regex with GPT-2's
// pattern; maps bytes to byte-level characters), Metaspace (replacement,
// prepend_scheme / add_prefix_space, split), Digits, Whitespace,
// WhitespaceSplit. Immutable after loading; thread-safe.
#ifndef INFERD_ENGINE_TOKENIZER_PRE_TOKENIZER_H_
#define INFERD_ENGINE_TOKENIZER_PRE_TOKENIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/json_fields.h"
#include "engine/tokenizer/regex.h"
#include "engine/tokenizer/split.h"

namespace inferd::engine {

// One piece of text on its way through the pre-tokenizers. `first` is true
// for the piece that starts the input text (HF: original offset 0), which the
// Metaspace "first" prepend scheme needs.
struct PreToken {
  std::string text;
  bool first = false;
};

class PreTokenizer {
 public:
  // `spec` is the "pre_tokenizer" value (null: the whole text is one piece).
  static absl::StatusOr<std::unique_ptr<PreTokenizer>> FromJson(const Json& spec,
                                                                const std::string& where);

  // Splits one normalised segment. `segment_first`: the segment starts the
  // input text (no added token before it).
  std::vector<std::string> PreTokenize(std::string_view text, bool segment_first) const;

  // True when a ByteLevel step maps the pieces to byte-level characters.
  bool byte_level() const { return byte_level_; }

 private:
  enum class Kind { kSplitRegex, kSplitString, kByteLevel, kMetaspace };
  struct Step {
    Kind kind;
    std::shared_ptr<Regex> regex;  // kSplitRegex; ByteLevel with use_regex
    std::string literal;           // kSplitString; Metaspace replacement
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;
    bool add_prefix_space = false;                                              // ByteLevel
    enum class Prepend { kAlways, kFirst, kNever } prepend = Prepend::kAlways;  // Metaspace
    bool split = true;                                                          // Metaspace
  };

  static absl::Status AddSteps(const Json& spec, const std::string& where, std::vector<Step>* steps,
                               bool* byte_level);
  static void ApplyStep(const Step& step, std::vector<PreToken>* pieces);

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_PRE_TOKENIZER_H_
