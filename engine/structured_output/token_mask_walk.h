// engine/structured_output/token_mask_walk.h — one cache key's
// context-independent token mask entry, computed by walking the token trie.
//
// Grammar core only (compiled_grammar_internal.h says what an entry
// means). One walker per grammar keeps its interned stacks, stack sets and
// steps from walk to walk (the grammar serialises walks): the entries of
// nearby positions (each position of a bounded string, the deeper keys of
// one frame) meet the same sets again. The walk steps sets of stacks byte by byte down the trie,
// each (set, byte) step computed once per walk and filled for the whole byte class the set's edges
// cannot tell apart. A subtree is decided without visiting it when the set at its root reads every
// byte below it back to itself (a string's content state over letters, say, or over whole UTF-8
// characters when the subtree holds only those): its tokens all end in that
// live set. The shortcut is exact, not a heuristic; most of a large
// vocabulary's trie lies under such subtrees when the grammar is inside a
// string.
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_TOKEN_MASK_WALK_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_TOKEN_MASK_WALK_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "engine/structured_output/compiled_grammar_internal.h"
#include "engine/structured_output/grammar_automaton.h"
#include "engine/structured_output/grammar_stacks.h"
#include "engine/structured_output/token_trie.h"
#include "engine/structured_output/token_vocabulary.h"
#include "engine/structured_output/utf8_sequences.h"

namespace inferd::engine {

class TokenMaskWalker {
 public:
  TokenMaskWalker(const GrammarAutomaton& automaton, const TokenVocabulary& vocab);
  ~TokenMaskWalker();
  TokenMaskWalker(const TokenMaskWalker&) = delete;
  TokenMaskWalker& operator=(const TokenMaskWalker&) = delete;

  // The entry for a stack whose top frames are key[0] (top) .. key[n-1]
  // above kBottom. `shallow`: the entry of key[0..n-2] when n > 1; only its
  // uncertain tokens are walked (the others keep its answer).
  std::unique_ptr<TokenMaskEntry> Run(const int32_t* key, int n, const TokenMaskEntry* shallow);
  // The entry for stacks whose tops are tops[0..n-1], each right above the
  // same frames (siblings): one walk from all of them at once; a token is
  // uncertain when it returns below them after a byte.
  std::unique_ptr<TokenMaskEntry> RunSiblings(const int32_t* tops, int n);

 private:
  // Sets (and their 1 KiB step rows: at most 8 MiB) kept before the walker
  // starts over. At 4,096, grammars with bounded strings or many keys
  // started over within their own masks and re-derived the same steps and
  // successors (MaskBench, both binaries at once: p99 2-20% lower).
  static constexpr size_t kMaxSets = 8192;
  void Clear();
  // The walk from the closure of `seeds` (stacks over kBottom).
  std::unique_ptr<TokenMaskEntry> Walk(const std::vector<int32_t>& seeds,
                                       const TokenMaskEntry* shallow);

  // Stack sets are interned (sorted stacks + the `below` flag), so a set is
  // an id and "reads back to itself" is an id comparison.
  int32_t Intern(StackSet&& set);
  // The set reached from set `from` by `byte`. The first time, the result
  // is filled in for every byte of the class `byte` is in (the bytes no
  // edge of the set's top states tells apart).
  int32_t StepTo(int32_t from, uint8_t byte) {
    const int32_t to = t_.step[static_cast<size_t>(from) * 256 + byte];
    return to >= 0 ? to : StepSlow(from, byte);
  }
  int32_t StepSlow(int32_t from, uint8_t byte);
  bool live(int32_t set) const { return (t_.flags[static_cast<size_t>(set)] & kLive) != 0; }
  bool below(int32_t set) const { return (t_.flags[static_cast<size_t>(set)] & kBelow) != 0; }
  // DecidesSubtree, with its most common answer (a byte below leaves the
  // set's one successor) found without a call.
  bool QuickDecides(int32_t x, const TokenTrie::Summary& s) {
    const auto xi = static_cast<size_t>(x);
    if (s.utf8_state == kUtf8Boundary && t_.successor_known[xi] != 0) {
      const Successor& sc = t_.successor[xi];
      if ((s.ascii[0] & ~sc.ascii_mask[0]) != 0 || (s.ascii[1] & ~sc.ascii_mask[1]) != 0) {
        return false;
      }
    }
    return DecidesSubtree(x, s);
  }
  // Every token below a node with summary `s` ends in a live set, when the
  // walk is in (live) set `x` at the node.
  bool DecidesSubtree(int32_t x, const TokenTrie::Summary& s);
  // Whether x reads every byte below either back to itself or to a dead
  // set (`*killers`: those bytes), so a token below is accepted exactly
  // when it holds no killer byte after the node; `path`: the ASCII bytes
  // read from the root to the node, none of which may be a killer.
  bool KillersDecide(int32_t x, const TokenTrie::Summary& s, const std::array<uint64_t, 2>& path,
                     std::array<uint64_t, 2>* killers);
  // Where one character takes set `x`, when the answer is one set.
  struct Successor {
    int32_t ascii_to = -1;               // the set most ASCII bytes lead to
    std::array<uint64_t, 2> ascii_mask;  // the ASCII bytes that lead there
    std::array<uint64_t, 2> dead_mask;   // the ASCII bytes that lead nowhere (dead, not below)
    int32_t chars_to = -1;               // the set every well-formed non-ASCII
                                         // character leads to, or -1 when not one live set
  };
  // chars_to is computed only when `need_chars`.
  const Successor& SuccessorOf(int32_t x, bool need_chars);
  // The one live set every way of reading bytes pos.. of `row` takes x to,
  // or -1 when there is no such set.
  int32_t FinishCharacter(int32_t x, const Utf8Row& row, int pos);
  // Byte bounds of canonical forms: 4 << b for b < kBoundedForms, then
  // unbounded.
  static constexpr int kBoundedForms = 7;
  static int FormBound(int32_t bytes);
  // The number of set x's canonical form (every stack over kBottom, sorted,
  // with the below flag and the vocabulary) as far as reading 4 << `bound`
  // bytes can tell (canonical_states.h), in the process-wide table of
  // forms; -1 when a stack reaches too many states. Kept per set.
  int64_t CanonicalForm(int32_t x, int bound);

  const GrammarAutomaton& a_;
  const TokenVocabulary& vocab_;
  const TokenTrie& trie_;
  static constexpr uint8_t kLive = 1;   // the set has a stack (can read on)
  static constexpr uint8_t kBelow = 2;  // some configuration returned below the key's frames

 public:
  // The growing per-set tables, handed from a finished walker to the next
  // grammar's (a pool in token_mask_walk.cc): grown afresh they cost a page
  // fault per 4 KiB and a copy per doubling, on exactly the walks that make
  // the mask tail (a grammar's first masks).
  struct Tables {
    StackArena arena;
    std::vector<StackSet> sets;
    absl::flat_hash_map<std::vector<int32_t>, int32_t> set_index;
    std::vector<int32_t> step;   // step[set * 256 + byte]: the set reached, -1 until computed
    std::vector<uint8_t> flags;  // per set
    // Per set, computed when first asked.
    std::vector<Successor> successor;
    std::vector<char> successor_known;                          // 0 no, 1 ASCII part, 2 both
    std::vector<std::array<int64_t, kBoundedForms + 1>> forms;  // per set; -2 until computed
  };

 private:
  Tables t_;
  StackStepper stepper_;
  struct Scratch {
    std::vector<int32_t> ids;  // per depth: the set at the node on the walk's path
    std::vector<char> pending;
    std::vector<std::array<uint64_t, 2>> path_ascii;
    std::vector<uint32_t> accepted;
  };
  Scratch scratch_;  // Run's working arrays, kept from walk to walk
  std::vector<int32_t> set_key_;
  std::vector<std::pair<int32_t, int>> counts_;  // scratch
};

// How many root subtrees walks took from the cross-grammar subtree memo.
int64_t TokenMaskSubtreesReused();

// How many subtrees walks in this process decided without visiting them
// (tests: the shortcut must be exercised, not only be correct when idle).
int64_t TokenMaskSubtreesDecided();

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_TOKEN_MASK_WALK_H_
