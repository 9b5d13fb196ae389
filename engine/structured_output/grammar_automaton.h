// engine/structured_output/grammar_automaton.h — a GBNF grammar as a
// pushdown automaton over bytes: every rule is an epsilon-free NFA whose
// edges read a byte range or call another rule.
//
// Grammar core only. States of all rules share one numbering. After
// BuildAutomaton every state left in a rule is live: reachable from the
// rule's start and able to reach an accepting state (calls only to rules
// whose language is non-empty), so any stack of frames the matcher builds
// can still be completed to a sentence. Left recursion is rejected, so
// pushing callees without reading a byte always terminates.
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_GRAMMAR_AUTOMATON_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_GRAMMAR_AUTOMATON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/structured_output/compiled_grammar.h"
#include "engine/structured_output/gbnf_parser.h"

namespace inferd::engine {

struct ByteEdge {
  uint8_t lo;
  uint8_t hi;  // inclusive
  int32_t to;
};

struct CallEdge {
  int32_t rule;
  int32_t to;  // where the caller continues once the callee has finished
};

struct AutomatonState {
  int32_t rule = -1;
  bool accepting = false;
  // Accepting with no outgoing edge: a frame here can only return, so the
  // matcher never keeps one on a stack (tail calls do not grow stacks).
  bool final_only = false;
  std::vector<ByteEdge> bytes;  // sorted by lo
  std::vector<CallEdge> calls;
};

struct GrammarAutomaton {
  std::vector<AutomatonState> states;
  std::vector<int32_t> rule_start;  // per rule
  std::vector<std::string> rule_names;
  int32_t root = -1;
};

// INVALID_ARGUMENT on left recursion, an empty language, or over `limits`
// (states and edges over max_states, past `deadline`).
absl::StatusOr<GrammarAutomaton> BuildAutomaton(const GbnfGrammar& grammar,
                                                const GrammarLimits& limits, absl::Time deadline);

// The byte-range sequences whose concatenations are exactly the UTF-8
// encodings of the code points in [lo, hi] (no surrogates inside).
void Utf8RangeSequences(uint32_t lo, uint32_t hi,
                        std::vector<std::vector<std::pair<uint8_t, uint8_t>>>* out);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_GRAMMAR_AUTOMATON_H_
