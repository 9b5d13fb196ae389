// engine/spec_decode/ngram_proposer.h — prompt-lookup drafting: find the
// most recent earlier occurrence of the sequence's last n tokens (n from
// max_n down to min_n) and propose the tokens that followed it. No weights,
// no state; costs one backward scan per sequence and step.
#ifndef INFERD_ENGINE_SPEC_DECODE_NGRAM_PROPOSER_H_
#define INFERD_ENGINE_SPEC_DECODE_NGRAM_PROPOSER_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "engine/spec_decode/proposer.h"

namespace inferd::engine {

// The continuation (at most k tokens) of the latest earlier match of the
// longest suffix of `tokens` of length in [min_n, max_n]; empty when none.
std::vector<int32_t> NgramLookup(absl::Span<const int32_t> tokens, int32_t min_n, int32_t max_n,
                                 int32_t k);

class NgramProposer final : public Proposer {
 public:
  NgramProposer(int32_t min_n, int32_t max_n) : min_n_(min_n), max_n_(max_n) {}
  void Propose(const TargetStep& step, absl::Span<ProposalRequest> requests,
               KvCacheManager* kv_cache) override;

 private:
  int32_t min_n_;
  int32_t max_n_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_SPEC_DECODE_NGRAM_PROPOSER_H_
