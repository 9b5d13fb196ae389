// engine/sampling/logprobs.cc — log_softmax of the raw logits, chosen + top-n.
#include "engine/sampling/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace inferd::engine {

void FillLogprobs(const float* logits, int64_t vocab, int32_t chosen, int32_t top_n,
                  TokenLogprob* out) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  float max_logit = kNegInf;
  for (int64_t i = 0; i < vocab; ++i) max_logit = std::max(max_logit, logits[i]);
  double log_z = kNegInf;  // every logit -inf: every logprob is -inf
  if (max_logit > kNegInf) {
    double sum = 0;
    for (int64_t i = 0; i < vocab; ++i) sum += std::exp(logits[i] - max_logit);
    log_z = max_logit + std::log(sum);
  }
  auto logprob = [&](int64_t i) -> float {
    if (!(max_logit > kNegInf)) return kNegInf;
    return static_cast<float>(static_cast<double>(logits[i]) - log_z);
  };
  out->token_id = chosen;
  out->logprob = (chosen >= 0 && chosen < vocab) ? logprob(chosen) : kNegInf;
  out->top.clear();
  const int64_t n = std::min<int64_t>(std::max(top_n, 0), vocab);
  if (n == 0) return;
  // best[] holds the n best (logit, id) seen so far, best first.
  std::vector<std::pair<float, int32_t>> best;
  best.reserve(n + 1);
  auto before = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  for (int64_t i = 0; i < vocab; ++i) {
    const std::pair<float, int32_t> c(logits[i], static_cast<int32_t>(i));
    if (static_cast<int64_t>(best.size()) == n && !before(c, best.back())) continue;
    best.insert(std::upper_bound(best.begin(), best.end(), c, before), c);
    if (static_cast<int64_t>(best.size()) > n) best.pop_back();
  }
  out->top.reserve(n);
  for (const auto& [logit, id] : best) out->top.emplace_back(id, logprob(id));
}

}  // namespace inferd::engine
