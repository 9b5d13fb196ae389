// engine/structured_output/token_mask_walk.h — one cache key's
// context-independent token mask entry, computed by walking the token trie.
//
// Grammar core only (compiled_grammar_internal.h says what an entry
// means). The walk steps sets of stacks byte by byte down the trie, each
// (set, byte) step computed once per walk and filled for the whole byte
// class the set's edges cannot tell apart. A subtree is decided without
// visiting it when the set at its root reads every byte below it back to
// itself (a string's content state over letters, say, or over whole UTF-8
// characters when the subtree holds only those): its tokens all end in that
// live set. The shortcut is exact, not a heuristic; most of a large
// vocabulary's trie lies under such subtrees when the grammar is inside a
// string.
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_TOKEN_MASK_WALK_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_TOKEN_MASK_WALK_H_

#include <cstdint>
#include <memory>

#include "engine/structured_output/compiled_grammar_internal.h"
#include "engine/structured_output/grammar_automaton.h"
#include "engine/structured_output/token_vocabulary.h"

namespace inferd::engine {

// The entry for a stack whose top frames are key[0] (top) .. key[n-1]
// above kBottom. `shallow`: the entry of key[0..n-2] when n > 1; only its
// uncertain tokens are walked (the others keep its answer).
std::unique_ptr<TokenMaskEntry> WalkTokenMask(const GrammarAutomaton& automaton,
                                              const TokenVocabulary& vocab, const int32_t* key,
                                              int n, const TokenMaskEntry* shallow);

// How many subtrees walks in this process decided without visiting them
// (tests: the shortcut must be exercised, not only be correct when idle).
int64_t TokenMaskSubtreesDecided();

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_TOKEN_MASK_WALK_H_
