// engine/structured_output/token_vocabulary.h — the byte strings a grammar
// matcher sees for each token id.
//
// A constraint is a language over bytes (UTF-8 text); a token is allowed
// when its bytes, appended to the output so far, keep the output a prefix of
// some sentence of the language. This class holds each id's bytes
// (Tokenizer::TokenBytes: metaspace as ' ', byte-fallback tokens as their
// byte, byte-level characters as their bytes) and which ids are special
// (never allowed by a grammar) or end-of-sequence (allowed exactly where the
// grammar may end). Immutable once built; shared by every compiled grammar
// of one tokenizer.
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_TOKEN_VOCABULARY_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_TOKEN_VOCABULARY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace inferd::engine {

class Tokenizer;
class TokenTrie;

class TokenVocabulary {
 public:
  // Every id of `tokenizer`; special ids are excluded except `eos_ids`
  // (the model's EOS ids and the request-independent stop token ids).
  static std::shared_ptr<const TokenVocabulary> FromTokenizer(const Tokenizer& tokenizer,
                                                              std::vector<int32_t> eos_ids);
  // For tests and tools: token_bytes[id]; `special[id]` true = never allowed.
  static std::shared_ptr<const TokenVocabulary> FromBytes(std::vector<std::string> token_bytes,
                                                          std::vector<bool> special,
                                                          std::vector<int32_t> eos_ids);

  int32_t size() const { return static_cast<int32_t>(bytes_.size()); }
  std::string_view bytes(int32_t id) const { return bytes_[static_cast<size_t>(id)]; }
  bool is_special(int32_t id) const { return special_[static_cast<size_t>(id)]; }
  bool is_eos(int32_t id) const { return is_eos_[static_cast<size_t>(id)]; }
  const std::vector<int32_t>& eos_ids() const { return eos_ids_; }
  // Words of a token bitmask: bit (id % 32) of word (id / 32) set = allowed.
  int32_t bitmask_words() const { return (size() + 31) / 32; }

  // The ordinary tokens (not special, not EOS, not empty) as a byte trie;
  // grammar core only (token_trie.h).
  const TokenTrie& trie() const { return *trie_; }

  // Identity of the vocabulary, for compile caches (hash of every id's bytes,
  // the special flags and the EOS ids).
  uint64_t fingerprint() const { return fingerprint_; }

 private:
  TokenVocabulary() = default;
  std::vector<std::string> bytes_;
  std::vector<bool> special_;
  std::vector<int32_t> eos_ids_;
  std::vector<bool> is_eos_;
  uint64_t fingerprint_ = 0;
  std::shared_ptr<const TokenTrie> trie_;  // built once, with the vocabulary
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_TOKEN_VOCABULARY_H_
