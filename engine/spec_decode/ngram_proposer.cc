// engine/spec_decode/ngram_proposer.cc
#include "engine/spec_decode/ngram_proposer.h"

#include <algorithm>

namespace inferd::engine {

std::vector<int32_t> NgramLookup(absl::Span<const int32_t> tokens, int32_t min_n, int32_t max_n,
                                 int32_t k) {
  const int64_t len = static_cast<int64_t>(tokens.size());
  if (k <= 0) return {};
  for (int64_t n = std::min<int64_t>(max_n, len - 1); n >= std::max(1, min_n); --n) {
    const absl::Span<const int32_t> suffix = tokens.subspan(len - n);
    // Latest start s < len - n with tokens[s, s + n) == suffix.
    for (int64_t s = len - n - 1; s >= 0; --s) {
      if (!std::equal(suffix.begin(), suffix.end(), tokens.begin() + s)) continue;
      const int64_t from = s + n;
      const int64_t count = std::min<int64_t>(k, len - from);
      return std::vector<int32_t>(tokens.begin() + from, tokens.begin() + from + count);
    }
  }
  return {};
}

void NgramProposer::Propose(const TargetStep& /*step*/, absl::Span<ProposalRequest> requests,
                            KvCacheManager* /*kv_cache*/) {
  for (ProposalRequest& r : requests) {
    r.seq->draft.Clear();
    r.seq->draft.tokens = NgramLookup(r.seq->token_ids, min_n_, max_n_, r.max_tokens);
  }
}

}  // namespace inferd::engine
