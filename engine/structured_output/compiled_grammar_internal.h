// engine/structured_output/compiled_grammar_internal.h — what a compiled
// grammar holds: the automaton, the vocabulary, and the lazily filled
// context-independent token mask cache.
//
// Grammar core only. For a stack whose top frame is automaton state s, a
// token whose bytes can be read without ever returning from s's rule is
// allowed whatever lies below (every live state can still finish, see
// grammar_automaton.h); one that cannot be read and never returns below s's
// frame on the way is refused whatever lies below. Only tokens that return
// below the frame after reading at least one byte depend on the rest of the
// stack ("uncertain"): the matcher checks just those against its full
// stack. (Returning before reading anything needs no check: the matcher's
// closed stack set already holds the caller's continuation.) The entry for s
// is computed once, on first need, by walking the token trie, and shared by
// every matcher of the grammar on any thread.
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_COMPILED_GRAMMAR_INTERNAL_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_COMPILED_GRAMMAR_INTERNAL_H_

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "engine/structured_output/compiled_grammar.h"
#include "engine/structured_output/grammar_automaton.h"
#include "engine/structured_output/token_vocabulary.h"

namespace inferd::engine {

struct TokenMaskEntry {
  // Tokens allowed whatever the context: a bitmask (vocab.bitmask_words())
  // when many, else a list of ids.
  std::vector<uint32_t> accepted_bits;
  std::vector<int32_t> accepted_ids;
  // Trie ranks (ascending) of the tokens that depend on the context.
  std::vector<int32_t> uncertain_ranks;
};

// Frames a cache key may hold. A key is the top frames of a stack (top
// first); a one-frame entry with many uncertain tokens (e.g. `ws ::= [ ]*`,
// where every token with a leading space leaves the rule) is refined by
// keying on one more frame below, up to this many.
// Refined when the uncertain tokens are more than vocab size / 2048 (62 for
// a 128k vocabulary; at least 4, so small test vocabularies refine too).
inline constexpr int kMaxKeyFrames = 4;
inline size_t DeepenAboveUncertain(int32_t vocab_size) {
  return std::max<size_t>(4, static_cast<size_t>(vocab_size) / 2048);
}

class TokenMaskWalker;  // token_mask_walk.h

class CompiledGrammar {
 public:
  CompiledGrammar(GrammarAutomaton automaton, std::shared_ptr<const TokenVocabulary> vocab);
  ~CompiledGrammar();

  const GrammarAutomaton& automaton() const { return automaton_; }
  const TokenVocabulary& vocab() const { return *vocab_; }
  // The entry for a stack whose top frames are key[0] (top, a state with a
  // byte edge), key[1], ... key[n-1]. Thread-safe; the reference stays
  // valid for the grammar's lifetime.
  const TokenMaskEntry& Entry(const int32_t* key, int n) const;
  // The entry for stacks whose tops are tops[0..n-1] (ascending, n >= 2),
  // each right above the same frames: one walk for them all. Kept for this
  // grammar only (no canonical form). Thread-safe, like Entry.
  const TokenMaskEntry& SiblingsEntry(const int32_t* tops, int n) const;

 private:
  // The key's frames and everything reachable from them (byte edges, calls,
  // continuations), renumbered in discovery order, with the vocabulary's
  // fingerprint: equal strings give equal entries, in any grammar. Grammars
  // compiled from different schemas share their JSON string, number and
  // whitespace entries through a process-wide cache keyed by it. Empty
  // when the key reaches too many states to be worth sharing.
  std::string CanonicalKey(const int32_t* key, int n) const;

  GrammarAutomaton automaton_;
  std::shared_ptr<const TokenVocabulary> vocab_;
  // Walks of this grammar share one walker (its stacks, sets and steps).
  mutable absl::Mutex walk_mu_;
  mutable std::unique_ptr<TokenMaskWalker> walker_ ABSL_GUARDED_BY(walk_mu_);
  mutable absl::Mutex mu_;
  struct Held {
    std::shared_ptr<const TokenMaskEntry> entry;
    bool unshared = false;  // its key had no canonical form (too many states)
  };
  mutable absl::flat_hash_map<std::string, Held> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_COMPILED_GRAMMAR_INTERNAL_H_
