// engine/sampling/candidate_set.h — the tokens still eligible for a draw:
// top-k, temperature weights, top-p, min-p and the inverse-CDF draw (private
// to the sampler; exposed for tests).
//
// Order: every filter and the draw walk the candidates in one fixed order,
// descending (penalised) logit with ties broken by lower token id first; for
// a fixed temperature this is descending probability. Nothing sorts the
// vocabulary: top-k selects with a bounded heap (or nth_element when k is a
// large share of the vocabulary), and top-p and the draw find the position
// where the running probability mass crosses their target by bucketing the
// candidates by logit (equal-width buckets keep the order), summing each
// bucket's mass and narrowing to the bucket that crosses; only a final
// block of a few dozen candidates is sorted.
//
// Invariant: candidates_[0, sorted_) are sorted and each of them comes
// before every element of candidates_[sorted_, size_) in that order.
// Weights are exp((logit - max) / T) <= 1; the best candidate weighs 1 and
// is never filtered out, so the set never becomes empty. Tokens with zero
// weight (logit -inf or NaN, or exp underflow) are never candidates.
#ifndef INFERD_ENGINE_SAMPLING_CANDIDATE_SET_H_
#define INFERD_ENGINE_SAMPLING_CANDIDATE_SET_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace inferd::engine {

struct Candidate {
  float logit;
  float weight;  // exp((logit - max) / temperature): unnormalised probability
  int32_t id;
};

class CandidateSet {
 public:
  // Starts from the tokens of `logits` [vocab] (no +inf allowed), keeping the
  // `top_k` best (top_k <= 0: all); `temperature` > 0. Reuses its buffer
  // (keep one set per thread). size() == 0 only if every logit is -inf/NaN.
  void Reset(const float* logits, int64_t vocab, float temperature, int64_t top_k);
  // Keeps the shortest prefix whose probability mass is >= p (p >= 1: no-op;
  // at least one candidate).
  void TopP(float p);
  // Drops candidates with probability < min_p * the best probability
  // (min_p <= 0: no-op; at least one candidate).
  void MinP(float min_p);
  // Inverse CDF over the kept candidates in order: the first candidate whose
  // running mass exceeds u * total; `u` in [0, 1). Requires size() > 0.
  int32_t Draw(double u);
  // The distribution Draw samples from, dense: out[id] = weight / (sum of the
  // kept weights) for every kept id, 0 for every other id; `out` [vocab], the
  // vocab given to Reset. For speculative verification
  // (engine/spec_decode/spec_verifier), which needs the target's
  // probabilities themselves, not only a draw. Requires size() > 0.
  void FillProbabilities(int64_t vocab, double* out);

  size_t size();
  // Kept token ids in order (sorts everything kept; for tests).
  std::vector<int32_t> KeptIds();

 private:
  void SelectTopKWithHeap(const float* logits, int64_t vocab, size_t k);
  // Fills weights for the kept candidates (once) and drops zero weights.
  void EnsureWeights();
  double Total();
  void SortPrefix(size_t n);
  // Position (in order) of the first candidate at which the running weight
  // sum reaches `target` (>= if `inclusive`, else >); *sum_through gets the
  // sum through it. Rearranges the unsorted part, keeping the invariant.
  size_t FindCrossing(double target, bool inclusive, double* sum_through);

  std::vector<Candidate> candidates_;
  std::vector<Candidate> heap_;
  std::vector<double> bucket_mass_;    // FindCrossing scratch
  std::vector<uint32_t> bucket_size_;  // FindCrossing scratch
  std::vector<Candidate> scratch_;     // FindCrossing scratch
  size_t size_ = 0;                    // kept candidates are candidates_[0, size_)
  size_t sorted_ = 0;                  // see the invariant above
  bool weights_ready_ = false;
  double total_ = 0;  // sum of kept weights, valid when total_valid_
  bool total_valid_ = false;
  float temperature_ = 1;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SAMPLING_CANDIDATE_SET_H_
