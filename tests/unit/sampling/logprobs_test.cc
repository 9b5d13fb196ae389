// tests/unit/sampling/logprobs_test.cc — logprobs from the raw logits against
// a naive log_softmax in double; top-n order and ties.
#include "engine/sampling/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "engine/sampling/penalties.h"
#include "engine/sampling/sampler.h"
#include "gtest/gtest.h"
#include "tests/unit/sampling/sampling_test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::RandomLogits;

constexpr float kInf = std::numeric_limits<float>::infinity();

SamplingParams Greedy() {
  SamplingParams p;
  p.temperature = 0.0f;
  return p;
}

int32_t SampleOnce(std::vector<float> logits, const SamplingParams& params, TokenLogprob* lp) {
  SamplingState state = Sampler::NewState(params, 1, {}, static_cast<int64_t>(logits.size()));
  return Sampler::Sample(logits.data(), static_cast<int64_t>(logits.size()), params, &state, lp);
}

// log_softmax in double, the definition.
std::vector<double> NaiveLogSoftmax(const std::vector<float>& logits) {
  double m = -INFINITY;
  for (float l : logits) m = std::max<double>(m, l);
  double s = 0;
  for (float l : logits) s += std::exp(static_cast<double>(l) - m);
  std::vector<double> out;
  for (float l : logits) out.push_back(static_cast<double>(l) - m - std::log(s));
  return out;
}

TEST(LogprobsTest, LogprobsComeFromTheRawLogits) {
  for (int64_t vocab : {3, 1000, 32000}) {
    SCOPED_TRACE(vocab);
    const std::vector<float> logits = RandomLogits(vocab, 17, 4.0f, 0.25f);  // with ties
    const std::vector<double> ref = NaiveLogSoftmax(logits);
    SamplingParams p;
    p.temperature = 0.7f;
    p.top_k = 50;
    p.repetition_penalty = 1.3f;
    p.presence_penalty = 0.4f;
    p.logprobs = 5;
    SamplingState state = Sampler::NewState(p, 3, {0, 1, 2}, vocab);
    RecordToken(0, vocab, p, &state);
    std::vector<float> l = logits;
    TokenLogprob lp;
    const int32_t token = Sampler::Sample(l.data(), vocab, p, &state, &lp);
    EXPECT_EQ(lp.token_id, token);
    EXPECT_NEAR(lp.logprob, ref[token], 1e-5);
    std::vector<int32_t> order(vocab);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    const size_t n = std::min<int64_t>(5, vocab);
    ASSERT_EQ(lp.top.size(), n);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(lp.top[i].first, order[i]) << i;
      EXPECT_NEAR(lp.top[i].second, ref[order[i]], 1e-5) << i;
    }
  }
}

TEST(LogprobsTest, LogprobsZeroGivesOnlyTheChosenToken) {
  SamplingParams p = Greedy();
  p.logprobs = 0;
  TokenLogprob lp;
  lp.top = {{1, 1.0f}};
  const int32_t token = SampleOnce({0.0f, 1.0f, 0.0f}, p, &lp);
  EXPECT_EQ(token, 1);
  EXPECT_TRUE(lp.top.empty());
  EXPECT_NEAR(lp.logprob, 1.0 - std::log(2 + std::exp(1.0)), 1e-6);
}

TEST(LogprobsTest, LogprobsSkipMaskedTokens) {
  SamplingParams p = Greedy();
  p.logprobs = 3;
  TokenLogprob lp;
  SampleOnce({-kInf, 0.0f, -kInf, 0.0f}, p, &lp);
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].first, 1);
  EXPECT_NEAR(lp.top[0].second, std::log(0.5), 1e-6);
  EXPECT_EQ(lp.top[1].first, 3);
  EXPECT_EQ(lp.top[2].first, 0);
  EXPECT_EQ(lp.top[2].second, -kInf);
}

}  // namespace
}  // namespace inferd::engine
