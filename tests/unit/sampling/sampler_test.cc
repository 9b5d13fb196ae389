// tests/unit/sampling/sampler_test.cc — the whole pipeline: greedy, penalties,
// seeded determinism, sampling frequencies, logprobs, vocab-scale inputs.
#include "engine/sampling/sampler.h"

#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include "engine/sampling/logprobs.h"
#include "engine/sampling/penalties.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/sampling/sampling_test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::RandomLogits;
using ::testing::ElementsAre;

constexpr float kInf = std::numeric_limits<float>::infinity();

SamplingParams Greedy() {
  SamplingParams p;
  p.temperature = 0.0f;
  return p;
}

int32_t SampleOnce(std::vector<float> logits, const SamplingParams& params, uint64_t seed = 1,
                   TokenLogprob* lp = nullptr) {
  SamplingState state = Sampler::NewState(params, seed, {}, static_cast<int64_t>(logits.size()));
  return Sampler::Sample(logits.data(), static_cast<int64_t>(logits.size()), params, &state, lp);
}

TEST(SamplerTest, GreedyTakesTheLowestIdAmongTies) {
  EXPECT_EQ(SampleOnce({1, 3, 3, 2}, Greedy()), 1);
  EXPECT_EQ(SampleOnce({7, 7, 7}, Greedy()), 0);
  EXPECT_EQ(SampleOnce({-1, -5, -0.5f}, Greedy()), 2);
  EXPECT_EQ(SampleOnce({-kInf, -kInf, -kInf}, Greedy()), 0);
  EXPECT_EQ(SampleOnce({NAN, 1, NAN, 0}, Greedy()), 1);  // NaN is never chosen
  EXPECT_EQ(SampleOnce({1, kInf, 3, kInf}, Greedy()), 1);
}

TEST(SamplerTest, GreedyDoesNotTouchTheRng) {
  SamplingParams p = Greedy();
  std::vector<float> logits = RandomLogits(50, 3);
  SamplingState state = Sampler::NewState(p, 77, {}, 50);
  for (int i = 0; i < 5; ++i) {
    std::vector<float> l = logits;
    Sampler::Sample(l.data(), 50, p, &state, nullptr);
  }
  Rng fresh(77);
  EXPECT_EQ(state.rng.Next(), fresh.Next());
}

TEST(SamplerTest, GreedyAppliesPenaltiesFirst) {
  SamplingParams p = Greedy();
  p.repetition_penalty = 2.0f;
  // Token 0 (logit 4) was in the prompt: 4 / 2 = 2 < 3.
  std::vector<float> logits = {4, 3, 1};
  SamplingState state = Sampler::NewState(p, 1, {0}, 3);
  EXPECT_EQ(Sampler::Sample(logits.data(), 3, p, &state, nullptr), 1);
  // Token 1 is now an output token too: 3 / 2 = 1.5 < 2 = 4 / 2; tie-free.
  logits = {4, 3, 1};
  EXPECT_EQ(Sampler::Sample(logits.data(), 3, p, &state, nullptr), 0);
}

std::vector<int32_t> Generate(const SamplingParams& p, uint64_t seed, int steps, int64_t vocab) {
  const std::vector<float> base = RandomLogits(vocab, 5, 2.0f);
  SamplingState state = Sampler::NewState(p, seed, {1, 2, 3}, vocab);
  std::vector<int32_t> out;
  for (int i = 0; i < steps; ++i) {
    std::vector<float> logits = base;
    for (int64_t j = 0; j < vocab; ++j) logits[j] += 0.01f * static_cast<float>((i * 7 + j) % 13);
    out.push_back(Sampler::Sample(logits.data(), vocab, p, &state, nullptr));
  }
  return out;
}

TEST(SamplerTest, SameSeedSameTokensDifferentSeedsDiffer) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.9f;
  p.top_k = 40;
  p.repetition_penalty = 1.1f;
  p.frequency_penalty = 0.2f;
  const std::vector<int32_t> a = Generate(p, 1234, 200, 500);
  EXPECT_EQ(Generate(p, 1234, 200, 500), a);
  EXPECT_NE(Generate(p, 1235, 200, 500), a);
  EXPECT_NE(Generate(p, 99, 200, 500), a);
}

TEST(SamplerTest, ExactlyOneDrawPerSampledToken) {
  // Whatever the filters keep (even a single token), the RNG advances once.
  for (const auto& [k, pp, m] : {std::tuple<int32_t, float, float>{0, 1.0f, 0.0f},
                                 {1, 1.0f, 0.0f},
                                 {0, 0.01f, 0.0f},
                                 {5, 0.5f, 0.9f}}) {
    SamplingParams p;
    p.top_k = k;
    p.top_p = pp;
    p.min_p = m;
    SamplingState state = Sampler::NewState(p, 555, {}, 300);
    for (int i = 0; i < 17; ++i) {
      std::vector<float> logits = RandomLogits(300, i);
      Sampler::Sample(logits.data(), 300, p, &state, nullptr);
    }
    Rng ref(555);
    for (int i = 0; i < 17; ++i) ref.Next();
    EXPECT_EQ(state.rng.Next(), ref.Next()) << k << " " << pp << " " << m;
  }
}

TEST(SamplerTest, SequencesAreIndependentOfEachOther) {
  SamplingParams p;
  const int64_t vocab = 200;
  const std::vector<float> base = RandomLogits(vocab, 8);
  auto step = [&](SamplingState* s) {
    std::vector<float> l = base;
    return Sampler::Sample(l.data(), vocab, p, s, nullptr);
  };
  SamplingState alone = Sampler::NewState(p, 10, {}, vocab);
  std::vector<int32_t> expected;
  for (int i = 0; i < 50; ++i) expected.push_back(step(&alone));
  SamplingState a = Sampler::NewState(p, 10, {}, vocab), b = Sampler::NewState(p, 11, {}, vocab);
  std::vector<int32_t> got;
  for (int i = 0; i < 50; ++i) {
    got.push_back(step(&a));
    step(&b);
    if (i % 3 == 0) step(&b);
  }
  EXPECT_EQ(got, expected);
}

// Samples n times from `logits` and checks each token's frequency against
// `probs` within 5 standard deviations (deterministic: fixed seed).
void ExpectFrequencies(const std::vector<float>& logits, const SamplingParams& p,
                       const std::vector<double>& probs, uint64_t seed) {
  const int n = 20000;
  const int64_t vocab = static_cast<int64_t>(logits.size());
  SamplingState state = Sampler::NewState(p, seed, {}, vocab);
  std::vector<int> counts(vocab, 0);
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    ++counts[Sampler::Sample(l.data(), vocab, p, &state, nullptr)];
  }
  for (int64_t t = 0; t < vocab; ++t) {
    const double mean = n * probs[t];
    const double sd = std::sqrt(n * probs[t] * (1 - probs[t]));
    if (probs[t] == 0) {
      EXPECT_EQ(counts[t], 0) << "token " << t;
    } else {
      EXPECT_NEAR(counts[t], mean, 5 * sd) << "token " << t;
    }
  }
}

TEST(SamplerTest, SampledFrequenciesMatchTheDistribution) {
  const std::vector<double> probs = {0.1, 0.5, 0.25, 0.15};
  std::vector<float> logits;
  for (double q : probs) logits.push_back(static_cast<float>(std::log(q)));
  SamplingParams p;
  ExpectFrequencies(logits, p, probs, 2024);

  // Temperature 2: p^(1/2), renormalised.
  p.temperature = 2.0f;
  std::vector<double> tempered;
  double z = 0;
  for (double q : probs) z += std::sqrt(q);
  for (double q : probs) tempered.push_back(std::sqrt(q) / z);
  ExpectFrequencies(logits, p, tempered, 2025);

  // top_k 2: {0.5, 0.25} renormalised.
  p = SamplingParams();
  p.top_k = 2;
  ExpectFrequencies(logits, p, {0, 2.0 / 3, 1.0 / 3, 0}, 2026);
  // top_p 0.8: 0.5 + 0.25 = 0.75 < 0.8, so 0.15 joins.
  p = SamplingParams();
  p.top_p = 0.8f;
  ExpectFrequencies(logits, p, {0, 0.5 / 0.9, 0.25 / 0.9, 0.15 / 0.9}, 2027);
  // min_p 0.25: cut at 0.125 keeps 0.5, 0.25 and 0.15.
  p = SamplingParams();
  p.min_p = 0.25f;
  ExpectFrequencies(logits, p, {0, 0.5 / 0.9, 0.25 / 0.9, 0.15 / 0.9}, 2028);
  // min_p 0.4: cut at 0.2 keeps 0.5 and 0.25.
  p.min_p = 0.4f;
  ExpectFrequencies(logits, p, {0, 2.0 / 3, 1.0 / 3, 0}, 2029);
  // All filters and a temperature together: T 0.5 gives p^2 (0.01, 0.25,
  // 0.0625, 0.0225), top_k 3 drops token 0, top_p 0.9 of the remaining
  // 0.335 keeps 0.25 + 0.0625, min_p 0.2 (cut 0.05) keeps both.
  p = SamplingParams();
  p.temperature = 0.5f;
  p.top_k = 3;
  p.top_p = 0.9f;
  p.min_p = 0.2f;
  ExpectFrequencies(logits, p, {0, 0.25 / 0.3125, 0.0625 / 0.3125, 0}, 2030);
}

TEST(SamplerTest, NeverChoosesMaskedTokens) {
  std::vector<float> logits(100, -kInf);
  logits[37] = -50.0f;
  logits[61] = -50.5f;
  SamplingParams p;
  p.temperature = 1.5f;
  SamplingState state = Sampler::NewState(p, 9, {}, 100);
  for (int i = 0; i < 500; ++i) {
    std::vector<float> l = logits;
    const int32_t t = Sampler::Sample(l.data(), 100, p, &state, nullptr);
    ASSERT_TRUE(t == 37 || t == 61) << t;
  }
  std::vector<float> all_masked(10, -kInf);
  EXPECT_EQ(SampleOnce(all_masked, p), 0);
}

TEST(SamplerTest, TinyTemperatureIsGreedy) {
  SamplingParams p;
  p.temperature = 1e-7f;
  EXPECT_EQ(SampleOnce({1.0f, 2.0f, 2.0f, 0.5f}, p), 1);
}

// Vocab-scale logits (Qwen's 151,936) through every filter path give a valid
// token and logprobs. Speed is measured by benchmarks, never by tests.
TEST(SamplerTest, VocabSizedLogitsGiveValidTokens) {
  const int64_t vocab = 151936;
  const std::vector<float> base = RandomLogits(vocab, 21, 2.5f);
  std::vector<SamplingParams> configs(5);
  configs[0].temperature = 0.0f;
  configs[1].top_k = 50;
  configs[2].top_p = 0.95f;
  configs[3].min_p = 0.05f;
  configs[4].logprobs = 20;
  configs[4].repetition_penalty = 1.2f;
  for (const SamplingParams& p : configs) {
    SamplingState state = Sampler::NewState(p, 1, {1, 2, 3}, vocab);
    std::vector<float> l(vocab);
    TokenLogprob lp;
    for (int i = 0; i < 5; ++i) {
      l = base;
      const int32_t t = Sampler::Sample(l.data(), vocab, p, &state, &lp);
      ASSERT_GE(t, 0);
      ASSERT_LT(t, vocab);
    }
  }
}

}  // namespace
}  // namespace inferd::engine
