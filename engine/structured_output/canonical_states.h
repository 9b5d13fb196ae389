// engine/structured_output/canonical_states.h — a stack of automaton states
// written in a form that is equal for equal behaviour, in any grammar.
//
// Grammar core only. The frames (top first) and every state reachable from
// them (byte edges, calls, continuations) are renumbered in discovery order
// and written with their edges: two stacks with equal strings read the same
// byte strings the same way, whichever grammars they come from. Token mask
// entries and trie subtree results are shared across grammars by it (a
// JSON string rule is the same in every schema).
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_CANONICAL_STATES_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_CANONICAL_STATES_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/structured_output/grammar_automaton.h"

namespace inferd::engine {

// Appends the canonical form of frames[0..n-1] to `out`; false (and `out`
// unspecified) when more than `max_states` states are written.
//
// `max_bytes` >= 0 writes only what reading at most that many bytes can
// meet: a state that cannot come to a stack's top within max_bytes bytes
// (by a lower bound: a byte edge costs one byte, a call none, and the
// caller's continuation one more when the callee's start must read a byte)
// is written as a mark, without its edges. Two stacks with equal strings
// then read every byte string of length <= max_bytes the same way (each
// state met on top is written), though they may differ past it: the
// positions of a bounded repetition far from its end look alike. Negative:
// everything reachable.
bool AppendCanonicalStates(const GrammarAutomaton& automaton, const int32_t* frames, int n,
                           size_t max_states, int max_bytes, std::string* out);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_CANONICAL_STATES_H_
