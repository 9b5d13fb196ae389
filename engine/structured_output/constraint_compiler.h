// engine/structured_output/constraint_compiler.h — Constraint -> compiled
// grammar, once per distinct constraint, off the engine thread.
//
// EngineImpl::Submit calls Compile on the submitting thread (a gRPC handler
// or the CLI), so a slow schema never stalls the step loop and a bad one
// fails the call with INVALID_ARGUMENT before anything is queued. Results
// (and errors) are cached, keyed by the constraint's kind, text, options and
// the vocabulary fingerprint; LRU-bounded. Thread-safe.
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_CONSTRAINT_COMPILER_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_CONSTRAINT_COMPILER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "engine/request.h"
#include "engine/structured_output/compiled_grammar.h"
#include "engine/structured_output/token_vocabulary.h"

namespace inferd::engine {

class ConstraintCompiler {
 public:
  ConstraintCompiler(std::shared_ptr<const TokenVocabulary> vocab, GrammarLimits limits,
                     int max_cached = 256);
  ~ConstraintCompiler();

  // constraint.kind != kNone. INVALID_ARGUMENT for constraints that cannot
  // be compiled (the message names the problem).
  absl::StatusOr<std::shared_ptr<const CompiledGrammar>> Compile(const Constraint& constraint);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_CONSTRAINT_COMPILER_H_
