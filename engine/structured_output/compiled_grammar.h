// engine/structured_output/compiled_grammar.h — a GBNF grammar compiled
// against one token vocabulary, ready for GrammarMatcher.
//
// Every constraint kind (JSON Schema, JSON object, regex, choice, grammar)
// is first translated to GBNF text (constraint_to_gbnf.h) and compiled here,
// so there is one grammar engine. Compilation is bounded (time and size);
// a grammar over the bounds gets INVALID_ARGUMENT, never an exhausted server.
// A CompiledGrammar is immutable from the outside and may be shared by any
// number of matchers on any threads (lazily filled caches inside are
// synchronised).
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_COMPILED_GRAMMAR_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_COMPILED_GRAMMAR_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/structured_output/token_vocabulary.h"

namespace inferd::engine {

struct GrammarLimits {
  absl::Duration compile_timeout = absl::Seconds(10);
  int64_t max_grammar_bytes = 4 << 20;  // GBNF text
  int64_t max_states = 2'000'000;       // automaton states/edges, all rules together
};

class CompiledGrammar;  // defined in compiled_grammar_internal.h (grammar core only)

// Parses GBNF (llama.cpp's dialect: `name ::= ...`, "literals" with
// \n \r \t \\ \" \xHH \uHHHH \UHHHHHHHH escapes, [classes] and [^negated]
// over code points, `.` any code point, ( ) | * + ? {m} {m,} {m,n}, `#`
// comments; the start rule is `root`) and compiles it for `vocab`.
// INVALID_ARGUMENT names the problem and where (line:column, rule name):
// syntax errors, undefined rules, left recursion, an empty language, bounds.
absl::StatusOr<std::shared_ptr<const CompiledGrammar>> CompileGbnf(
    std::string_view gbnf, std::shared_ptr<const TokenVocabulary> vocab,
    const GrammarLimits& limits = {});

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_COMPILED_GRAMMAR_H_
