// engine/tokenizer/sentencepiece_normalizer.h — sentencepiece's text
// normaliser (normalizer.cc) for models whose rule is the identity (no
// precompiled_charsmap: the Llama / Mistral / tinyllamas models):
//   - invalid UTF-8 bytes become U+FFFD, one per byte;
//   - USER_DEFINED pieces are kept as they are;
//   - remove_extra_whitespaces: leading and trailing spaces are dropped and
//     runs of spaces collapse to one (only ' ' counts as a space);
//   - add_dummy_prefix: a space is put in front of the text (not of empty
//     or all-space text);
//   - escape_whitespaces: spaces become U+2581 "▁".
// Immutable; thread-safe.
#ifndef INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_NORMALIZER_H_
#define INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_NORMALIZER_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/tokenizer/sentencepiece_matcher.h"
#include "engine/tokenizer/sentencepiece_proto.h"

namespace inferd::engine {

inline constexpr std::string_view kSentencePieceSpace = "\xE2\x96\x81";  // U+2581

class SentencePieceNormalizer {
 public:
  // Rejects, naming `origin` and the field, what it cannot reproduce: a
  // normalisation rule (normalizer_spec.precompiled_charsmap, e.g. nmt_nfkc),
  // a denormalizer_spec rule and trainer_spec.treat_whitespace_as_suffix.
  // `user_defined` matches the USER_DEFINED pieces.
  static absl::StatusOr<SentencePieceNormalizer> Create(const SentencePieceModelProto& model,
                                                        SentencePieceMatcher user_defined,
                                                        std::string_view origin);

  std::string Normalize(std::string_view text) const;

  bool add_dummy_prefix() const { return spec_.add_dummy_prefix; }
  bool escape_whitespaces() const { return spec_.escape_whitespaces; }

 private:
  SentencePieceNormalizer(SentencePieceModelProto::NormalizerSpec spec,
                          SentencePieceMatcher user_defined);
  // The normalised form of the first character (or USER_DEFINED piece) of
  // `text` and how many bytes of `text` it stands for.
  std::string_view NormalizePrefix(std::string_view text, size_t* consumed) const;

  SentencePieceModelProto::NormalizerSpec spec_;
  SentencePieceMatcher user_defined_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_SENTENCEPIECE_NORMALIZER_H_
