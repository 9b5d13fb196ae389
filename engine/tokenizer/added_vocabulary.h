// engine/tokenizer/added_vocabulary.h — the "added_tokens" of tokenizer.json
// (HF AddedVocabulary): special and added tokens written literally in the
// text are split out before normalisation (normalized == false) or right
// after it (normalized == true), leftmost-longest, honouring single_word,
// lstrip and rstrip. Immutable after Build(); thread-safe.
#ifndef INFERD_ENGINE_TOKENIZER_ADDED_VOCABULARY_H_
#define INFERD_ENGINE_TOKENIZER_ADDED_VOCABULARY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace inferd::engine {

class Normalizer;

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
};

// A piece of the input: an added token (id >= 0) or text to tokenize (id -1).
struct AddedSegment {
  size_t begin;
  size_t end;
  int32_t id;
};

class AddedVocabulary {
 public:
  // Later tokens with the same id replace earlier ones.
  void Add(AddedToken token);
  // Builds the matchers; normalized tokens are matched by their content as
  // `normalizer` (may be null) turns it.
  void Build(const Normalizer* normalizer);

  // Splits raw text on the tokens with normalized == false.
  std::vector<AddedSegment> SplitRaw(std::string_view text) const { return Split(text, raw_); }
  // Splits normalised text on the tokens with normalized == true.
  std::vector<AddedSegment> SplitNormalized(std::string_view text) const {
    return Split(text, normalized_);
  }
  bool has_normalized_tokens() const { return normalized_.nodes.size() > 1; }

  const AddedToken* FindById(int32_t id) const;
  int32_t FindByContent(std::string_view content) const;  // -1 when absent
  int32_t max_id() const { return max_id_; }              // -1 when empty

 private:
  // A byte trie of token patterns.
  struct Trie {
    struct Node {
      std::vector<std::pair<uint8_t, int32_t>> children;
      int32_t token = -1;  // index into tokens_ ending here
    };
    std::vector<Node> nodes{Node()};
    void Insert(std::string_view pattern, int32_t token);
    // Length of the longest pattern at text[pos] (0 if none); *token set.
    size_t LongestMatch(std::string_view text, size_t pos, int32_t* token) const;
  };

  std::vector<AddedSegment> Split(std::string_view text, const Trie& trie) const;

  std::vector<AddedToken> tokens_;
  absl::flat_hash_map<int32_t, size_t> by_id_;
  absl::flat_hash_map<std::string, int32_t> by_content_;
  Trie raw_;
  Trie normalized_;
  int32_t max_id_ = -1;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_TOKENIZER_ADDED_VOCABULARY_H_
