// engine/structured_output/grammar_matcher.h — one sequence's position in a
// compiled grammar: which tokens may come next, advanced token by token.
//
// Owned by one thread at a time (the engine thread for a sequence). The
// matcher keeps the history of accepted tokens so that speculative drafts
// can be checked and rolled back.
#ifndef INFERD_ENGINE_STRUCTURED_OUTPUT_GRAMMAR_MATCHER_H_
#define INFERD_ENGINE_STRUCTURED_OUTPUT_GRAMMAR_MATCHER_H_

#include <cstdint>
#include <memory>

#include "engine/structured_output/compiled_grammar.h"

namespace inferd::engine {

class GrammarMatcherState;  // the grammar core's own

class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar);
  ~GrammarMatcher();
  GrammarMatcher(GrammarMatcher&&) noexcept;
  GrammarMatcher& operator=(GrammarMatcher&&) noexcept;

  // Writes vocab.bitmask_words() words: bit (id % 32) of word (id / 32) set
  // when token `id` may come next. EOS ids are set exactly when
  // CanTerminate(); special ids never. Never all-zero while !IsTerminated()
  // (a grammar that could get stuck is rejected at compile time or ends).
  void FillNextTokenBitmask(uint32_t* bitmask);
  // True when `id` may come next (same answer as the bitmask, cheaper for one id).
  bool IsTokenAllowed(int32_t id);

  // Advances by `id` when allowed and returns true; otherwise returns false
  // and changes nothing. An EOS id is accepted only when CanTerminate(), and
  // then the matcher is terminated.
  bool AcceptToken(int32_t id);
  // Undoes the last `num_tokens` accepted tokens (0 <= num_tokens <=
  // num_accepted_tokens()); a terminated matcher becomes live again when
  // its EOS is rolled back.
  void Rollback(int32_t num_tokens);

  // The output so far is a sentence of the grammar (EOS may come next).
  bool CanTerminate() const;
  // Nothing but EOS may come next: the request finishes with "stop".
  bool IsCompleted() const;
  // An EOS was accepted.
  bool IsTerminated() const;
  int32_t num_accepted_tokens() const;

  void Reset();

 private:
  std::unique_ptr<GrammarMatcherState> state_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_STRUCTURED_OUTPUT_GRAMMAR_MATCHER_H_
