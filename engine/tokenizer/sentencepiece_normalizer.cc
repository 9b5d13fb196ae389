// engine/tokenizer/sentencepiece_normalizer.cc — see
// sentencepiece_normalizer.h. Follows Normalizer::Normalize step by step.
#include "engine/tokenizer/sentencepiece_normalizer.h"

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/absl_compat.h"
#include "engine/tokenizer/utf8.h"

namespace inferd::engine {

SentencePieceNormalizer::SentencePieceNormalizer(SentencePieceModelProto::NormalizerSpec spec,
                                                 SentencePieceMatcher user_defined)
    : spec_(std::move(spec)), user_defined_(std::move(user_defined)) {
  spec_.precompiled_charsmap.clear();  // always empty here; no need to keep it
}

absl::StatusOr<SentencePieceNormalizer> SentencePieceNormalizer::Create(
    const SentencePieceModelProto& model, SentencePieceMatcher user_defined,
    std::string_view origin) {
  const SentencePieceModelProto::NormalizerSpec& spec = model.normalizer_spec;
  if (!spec.precompiled_charsmap.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        ToAbsl(origin), ": normalizer_spec.name \"", spec.name, "\" comes with a ",
        spec.precompiled_charsmap.size(),
        "-byte normalization rule (normalizer_spec.precompiled_charsmap), which is not "
        "supported: only the \"identity\" rule is"));
  }
  if (!model.denormalizer_spec.precompiled_charsmap.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(origin), ": denormalizer_spec \"", model.denormalizer_spec.name,
                     "\" has a precompiled_charsmap, which is not supported"));
  }
  if (model.trainer_spec.treat_whitespace_as_suffix) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(origin), ": trainer_spec.treat_whitespace_as_suffix is not supported"));
  }
  return SentencePieceNormalizer(spec, std::move(user_defined));
}

std::string_view SentencePieceNormalizer::NormalizePrefix(std::string_view text,
                                                          size_t* consumed) const {
  bool user_defined = false;
  const size_t n = user_defined_.Match(text, &user_defined);
  if (user_defined) {
    *consumed = n;
    return text.substr(0, n);
  }
  const size_t len = Utf8CharLen(text, 0);
  *consumed = len;
  if (len == 1 && static_cast<uint8_t>(text[0]) >= 0x80) return kReplacementChar;
  return text.substr(0, len);
}

std::string SentencePieceNormalizer::Normalize(std::string_view text) const {
  std::string out;
  size_t consumed = 0;
  if (spec_.remove_extra_whitespaces) {
    while (!text.empty() && NormalizePrefix(text, &consumed) == " ") text.remove_prefix(consumed);
  }
  if (text.empty()) return out;

  const std::string_view space = spec_.escape_whitespaces ? kSentencePieceSpace : " ";
  out.reserve(text.size() * 3);
  if (spec_.add_dummy_prefix) out.append(space);
  bool is_prev_space = spec_.remove_extra_whitespaces;
  while (!text.empty()) {
    std::string_view sp = NormalizePrefix(text, &consumed);
    text.remove_prefix(consumed);
    // Spaces right after a space are dropped.
    while (is_prev_space && !sp.empty() && sp[0] == ' ') sp.remove_prefix(1);
    if (!sp.empty()) {
      for (char c : sp) {
        if (c == ' ') {
          out.append(space);
        } else {
          out.push_back(c);
        }
      }
      is_prev_space = sp.back() == ' ';
    }
    if (!spec_.remove_extra_whitespaces) is_prev_space = false;
  }
  if (spec_.remove_extra_whitespaces) {
    while (out.size() >= space.size() &&
           std::string_view(out).substr(out.size() - space.size()) == space) {
      out.resize(out.size() - space.size());
    }
  }
  return out;
}

}  // namespace inferd::engine
