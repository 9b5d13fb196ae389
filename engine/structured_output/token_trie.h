// engine/structured_output/token_trie.h — the byte strings of a vocabulary's
// ordinary tokens as a trie laid out in depth-first order.
//
// Grammar core only. Built once per TokenVocabulary. Tokens that can never
// be matched against a grammar (special, EOS, empty) are left out. Token
// "ranks" are positions in the bytewise-sorted order; a node's subtree is
// the node range [index, end) and the rank range [rank_begin, sub_rank_end).
// Large subtrees carry a summary of the bytes read below them.
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_TOKEN_TRIE_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_TOKEN_TRIE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace inferd::engine {

class TokenTrie {
 public:
  struct Node {
    uint8_t byte;          // the byte read to enter the node
    int32_t depth;         // bytes from the root (>= 1)
    int32_t end;           // one past the last node of the subtree
    int32_t rank_begin;    // first rank ending at or below this node
    int32_t own_rank_end;  // ranks [rank_begin, own_rank_end) end exactly here
    int32_t sub_rank_end;  // one past the last rank of the subtree
    int32_t summary;       // index into summaries(), or -1 (small subtrees)
  };

  // What the bytes below a node read, for walks that decide a whole
  // subtree at once (token_mask_walk.h). Kept for nodes with at least
  // kSummaryMinNodes nodes below them.
  struct Summary {
    uint64_t ascii[2];   // bit b: some token below reads ASCII byte b after the node
    bool non_ascii;      // some token below reads a byte >= 0x80 after the node
    bool utf8_complete;  // every token below, decoded on from the node's path (utf8_state),
                         // is well-formed and ends between characters (utf8_sequences.h)
    int32_t max_chars;   // the most characters a token below completes after the node
                         // (when utf8_complete)
    int8_t utf8_state;   // the decoder state after the node's path: kUtf8Boundary, inside
                         // a character, or kUtf8Invalid (then utf8_complete is false and
                         // max_chars 0: nothing is decided below)
  };
  static constexpr int32_t kSummaryMinNodes = 4;

  // `bytes[id]`; ids with `skip[id]` are left out (as are empty strings).
  TokenTrie(const std::vector<std::string>& bytes, const std::vector<bool>& skip);

  const std::vector<Node>& nodes() const { return nodes_; }
  int32_t num_ranks() const { return static_cast<int32_t>(ids_.size()); }
  int32_t id(int32_t rank) const { return ids_[static_cast<size_t>(rank)]; }
  std::string_view bytes(int32_t rank) const { return bytes_[static_cast<size_t>(rank)]; }
  int32_t max_depth() const { return max_depth_; }
  // The most bytes a token below node `index` reads after it.
  int32_t bytes_below(int32_t index) const { return bytes_below_[static_cast<size_t>(index)]; }
  const Summary& summary(int32_t index) const { return summaries_[static_cast<size_t>(index)]; }
  // The ASCII bytes of a rank's token (bit b of word b / 64).
  const std::array<uint64_t, 2>& ascii_bytes(int32_t rank) const {
    return ascii_bytes_[static_cast<size_t>(rank)];
  }

 private:
  void Summarize();

  std::vector<Node> nodes_;
  std::vector<Summary> summaries_;
  std::vector<std::array<uint64_t, 2>> ascii_bytes_;  // by rank
  std::vector<int32_t> ids_;                          // by rank
  std::vector<int32_t> bytes_below_;                  // by node
  std::vector<std::string> bytes_;                    // by rank
  int32_t max_depth_ = 0;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_TOKEN_TRIE_H_
