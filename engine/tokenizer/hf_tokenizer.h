// engine/tokenizer/hf_tokenizer.h — a Tokenizer from a HF tokenizer.json with
// a BPE model: added tokens split out -> normalizer -> pre-tokenizer -> BPE
// per piece -> post-processor ids around the sequence. Covers
// sentencepiece-style files (metaspace + byte fallback) and GPT-2 style
// byte-level files. Immutable after loading; thread-safe.
#ifndef INFERD_ENGINE_TOKENIZER_HF_TOKENIZER_H_
#define INFERD_ENGINE_TOKENIZER_HF_TOKENIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/added_vocabulary.h"
#include "engine/tokenizer/bpe_model.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/token_decoder.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/tokenizer_config.h"

namespace inferd::engine {

// Everything a HfTokenizer is made of (built by LoadHfTokenizer).
struct HfTokenizerParts {
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<BpeModel> model;
  AddedVocabulary added;
  TokenDecoder decoder;
  std::vector<int32_t> prefix_ids;  // added before the text with special tokens
  std::vector<int32_t> suffix_ids;  // added after it
  int32_t bos_id = -1;
  int32_t eos_id = -1;
};

// Loads tokenizer.json at `path`; `config` (may be null) is its
// tokenizer_config.json. Errors name the file and the problem.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizer(const std::string& path,
                                                           const TokenizerConfig* config);
// The same from the file's text (the fuzz target's entry point); `path` names
// it in errors.
absl::StatusOr<std::unique_ptr<Tokenizer>> HfTokenizerFromText(std::string text,
                                                               const std::string& path,
                                                               const TokenizerConfig* config);

class HfTokenizer final : public Tokenizer {
 public:
  explicit HfTokenizer(HfTokenizerParts parts);

  std::vector<int32_t> Encode(std::string_view text, bool add_special_tokens) const override;
  std::string Decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const override;
  std::string TokenBytes(int32_t id) const override;
  std::string IdToPiece(int32_t id) const override;
  int32_t PieceToId(std::string_view piece) const override;
  bool IsSpecial(int32_t id) const override;
  int32_t vocab_size() const override { return vocab_size_; }
  int32_t bos_id() const override { return p_.bos_id; }
  int32_t eos_id() const override { return p_.eos_id; }
  bool adds_bos() const override;
  bool strips_leading_space() const override { return p_.decoder.strips_leading_space(); }
  InvalidUtf8 invalid_utf8() const override { return p_.decoder.invalid_utf8(); }

 private:
  // Normalises, splits on normalized added tokens, pre-tokenizes and runs
  // the model over one text segment (no raw added token inside).
  void EncodeSegment(std::string_view text, bool segment_first, std::vector<int32_t>* ids) const;
  void EncodeNormalized(std::string_view text, bool first, std::vector<int32_t>* ids) const;

  HfTokenizerParts p_;
  int32_t vocab_size_ = 0;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_HF_TOKENIZER_H_
