// Whole-model parity on a random-weight Llama with GQA (8 q / 2 kv heads),
// head_dim 16, untied LM head and the 32000-token Llama 2 vocabulary:
// last-prompt-position top-20 log-probabilities and 32 greedy tokens against
// llama.cpp (../shared/golden/tiny-llama.json, cross-checked there by a
// float64 numpy reference).
#include <cmath>
#include <fstream>
#include <map>

#include "engine/engine.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/engine_test_util.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

TEST(TinyLlamaGoldenTest, LastPositionLogprobsAndGreedyIdsMatchLlamaCpp) {
  INFERD_REQUIRE_SHARED("golden/tiny-llama.json");
  INFERD_REQUIRE_SHARED("models/tiny-llama");
  std::ifstream in(SharedPath("golden/tiny-llama.json"));
  const nlohmann::json golden = nlohmann::json::parse(in);

  engine::EngineConfig cfg;
  cfg.model_dir = SharedPath("models/tiny-llama");
  cfg.kv_cache_memory_bytes = 64ll << 20;
  auto e = engine::Engine::Create(cfg);
  ASSERT_TRUE(e.ok()) << e.status();

  int index = 0;
  for (const auto& p : golden["prompts"]) {
    const std::string text = p["text"];
    engine::Request r =
        Greedy("t" + std::to_string(index++), p["token_ids"].get<std::vector<int32_t>>(), 32);
    r.sampling.ignore_eos = true;  // the golden's 32 greedy ids do not stop at EOS
    r.sampling.logprobs = 20;
    Collected got = RunOne(**e, std::move(r));
    ASSERT_TRUE(got.status.ok()) << got.status;
    EXPECT_EQ(got.ids, p["greedy_ids"].get<std::vector<int32_t>>()) << "prompt \"" << text << "\"";

    // logprob = logit - logsumexp over the vocabulary, at the last prompt position.
    ASSERT_FALSE(got.logprobs.empty());
    const engine::TokenLogprob& first = got.logprobs[0];
    const double lse = p["logsumexp"].get<double>();
    const auto& top20 = p["top20"];
    ASSERT_EQ(first.top.size(), top20.size());
    std::map<int32_t, float> ours(first.top.begin(), first.top.end());
    // Ranks 0..18: rank 19 may legitimately swap with rank 20 on a near-tie.
    for (size_t i = 0; i + 1 < top20.size(); ++i) {
      const int32_t id = top20[i][0];
      const double expected = top20[i][1].get<double>() - lse;
      ASSERT_TRUE(ours.count(id)) << "id " << id << " (rank " << i << ") missing, prompt \"" << text
                                  << "\"";
      EXPECT_NEAR(ours[id], expected, 2e-5) << "rank " << i << ", prompt \"" << text << "\"";
    }
    EXPECT_EQ(first.token_id, top20[0][0].get<int32_t>());
  }
}

}  // namespace
}  // namespace inferd::testing
