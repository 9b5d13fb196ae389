// engine/sampling/logits_constraint.h — a sequence's constraint on its next
// token, as the sampler and the speculative verifier see it (structured
// output: engine/sequence_constraint.h implements it over a GrammarMatcher).
//
// Protocol, one token at a time: Mask(row) sets every disallowed logit of
// the next position to -inf (before penalties, temperature and the
// filters, so the mask depends only on the sequence's own history); the
// caller picks an allowed token and calls Accept(token). Done() is true
// once nothing more may be generated (the constraint is complete, or it
// accepted an end token): the caller stops emitting. Owned by one thread at
// a time.
#ifndef INFERD_ENGINE_SAMPLING_LOGITS_CONSTRAINT_H_
#define INFERD_ENGINE_SAMPLING_LOGITS_CONSTRAINT_H_

#include <cstdint>

namespace inferd::engine {

class LogitsConstraint {
 public:
  virtual ~LogitsConstraint() = default;
  // `row` [vocab]: disallowed ids (ids past the constraint's vocabulary
  // included) become -inf; allowed ones are left as they are.
  virtual void Mask(float* row, int64_t vocab) = 0;
  // `token` must be allowed (checked).
  virtual void Accept(int32_t token) = 0;
  virtual bool Done() const = 0;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SAMPLING_LOGITS_CONSTRAINT_H_
