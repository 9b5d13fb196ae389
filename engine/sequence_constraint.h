// engine/sequence_constraint.h — one request's structured-output constraint
// on the engine thread: its GrammarMatcher (holding exactly the committed
// output tokens), a reused bitmask buffer, and the request's end tokens.
//
// End tokens (EOS unless ignore_eos, and stop_token_ids) end the request
// when emitted, so they are allowed exactly where the grammar may end
// (CanTerminate) and never advance the matcher; with ignore_eos the EOS ids
// are never allowed (the request ends when the grammar completes, on a stop
// string, or at max_tokens). Every other token is allowed when the matcher
// allows its bytes. Created by Submit (any thread), then owned by the
// engine thread (or one kernel-pool thread while it samples the sequence).
#ifndef INFERD_ENGINE_SEQUENCE_CONSTRAINT_H_
#define INFERD_ENGINE_SEQUENCE_CONSTRAINT_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/request.h"
#include "engine/sampling/logits_constraint.h"
#include "engine/scheduler/sequence.h"
#include "engine/structured_output/compiled_grammar.h"
#include "engine/structured_output/grammar_matcher.h"

namespace inferd::engine {

class SequenceConstraint final : public LogitsConstraint {
 public:
  // `vocab_words`: the vocabulary's bitmask_words(); `eos_ids`: the model's.
  SequenceConstraint(std::shared_ptr<const CompiledGrammar> grammar, int32_t vocab_words,
                     const SamplingParams& sampling, const std::vector<int32_t>& eos_ids);

  void Mask(float* row, int64_t vocab) override;
  void Accept(int32_t token) override;
  bool Done() const override { return ended_ || matcher_.IsCompleted(); }

  // Nothing but an end token may follow: the request finishes with "stop".
  bool IsCompleted() const { return matcher_.IsCompleted(); }
  // `token` may come next (the same answer as Mask's).
  bool IsAllowed(int32_t token);

  // Cuts `draft` (a chain or a tree, as proposed) to the tokens the grammar
  // allows: a chain at its first disallowed token (a sampled chain, with
  // probs, just after it: cutting a draw from q would bias speculative
  // sampling, while verification rejects that token exactly), a tree by
  // removing each disallowed node with its subtree (the rest renumbered,
  // topological order kept); nothing is kept after an end token or a token
  // that completes the grammar. The matcher is left as it was.
  void PruneDraft(SpecDraft* draft);

  int32_t num_accepted_tokens() const { return matcher_.num_accepted_tokens(); }

 private:
  bool IsEndToken(int32_t token) const;
  // The token may come next and is not an end token: advances the matcher.
  bool Advance(int32_t token);
  void PruneSubtree(const SpecDraft& draft, int32_t node);

  GrammarMatcher matcher_;
  std::vector<int32_t> end_ids_;     // end the request: allowed iff CanTerminate
  std::vector<int32_t> banned_ids_;  // EOS under ignore_eos: never allowed
  std::vector<uint32_t> bitmask_;    // [vocab_words], reused every step
  bool ended_ = false;               // an end token was accepted
  // PruneDraft scratch.
  std::vector<std::vector<int32_t>> children_;
  std::vector<uint8_t> keep_;
  std::vector<int32_t> new_index_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SEQUENCE_CONSTRAINT_H_
