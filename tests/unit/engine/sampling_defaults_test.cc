// tests/unit/engine/sampling_defaults_test.cc — SamplingDefaults: what a
// generation_config.json makes of a request's unset sampling fields (HF's
// do_sample rule, vLLM's auto/vllm modes), and Engine::Submit applying them
// on the real stories260K (do_sample: false).
#include "engine/sampling_defaults.h"

#include <string>

#include "engine/engine.h"
#include "gtest/gtest.h"
#include "tests/engine_test_util.h"
#include "tests/test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::Greedy;
using ::inferd::testing::RunOne;
using ::inferd::testing::SharedPath;

constexpr UnsetSamplingFields kAllUnset = {
    .temperature = true, .top_k = true, .top_p = true, .min_p = true, .repetition_penalty = true};

GenerationConfig Sampling() {
  GenerationConfig g;
  g.temperature = 0.6f;
  g.top_k = 20;
  g.top_p = 0.9f;
  g.min_p = 0.05f;
  g.repetition_penalty = 1.1f;
  return g;
}

TEST(SamplingDefaultsTest, BuiltInAreSamplingParamsDefaults) {
  const SamplingDefaults d;
  const SamplingParams p;
  EXPECT_EQ(d.temperature, p.temperature);
  EXPECT_EQ(d.top_k, p.top_k);
  EXPECT_EQ(d.top_p, p.top_p);
  EXPECT_EQ(d.min_p, p.min_p);
  EXPECT_EQ(d.repetition_penalty, p.repetition_penalty);
  EXPECT_EQ(d.temperature, 1.0f);
  // A file with stop tokens only changes nothing.
  GenerationConfig g;
  g.eos_token_ids = {2};
  EXPECT_EQ(SamplingDefaults::FromGenerationConfig(g).ToString(), d.ToString());
}

TEST(SamplingDefaultsTest, DoSampleFalseIsGreedyAndIgnoresTheSamplingFields) {
  GenerationConfig g = Sampling();
  g.do_sample = false;
  const SamplingDefaults d = SamplingDefaults::FromGenerationConfig(g);
  EXPECT_EQ(d.temperature, 0.0f);
  EXPECT_EQ(d.top_k, 0);
  EXPECT_EQ(d.top_p, 1.0f);
  EXPECT_EQ(d.min_p, 0.0f);
  EXPECT_EQ(d.repetition_penalty, 1.1f);  // applies to greedy decoding too (HF)
}

TEST(SamplingDefaultsTest, DoSampleTrueOrAbsentTakesTheFieldsAsWritten) {
  for (std::optional<bool> do_sample : {std::optional<bool>(true), std::optional<bool>()}) {
    GenerationConfig g = Sampling();
    g.do_sample = do_sample;
    const SamplingDefaults d = SamplingDefaults::FromGenerationConfig(g);
    EXPECT_EQ(d.ToString(), "temperature=0.6 top_k=20 top_p=0.9 min_p=0.05 repetition_penalty=1.1");
  }
  GenerationConfig only_top_k;
  only_top_k.do_sample = true;
  only_top_k.top_k = 5;
  const SamplingDefaults d = SamplingDefaults::FromGenerationConfig(only_top_k);
  EXPECT_EQ(d.top_k, 5);
  EXPECT_EQ(d.temperature, 1.0f);  // the rest stay built-in
}

TEST(SamplingDefaultsTest, VllmModeIgnoresTheFile) {
  GenerationConfig g = Sampling();
  g.do_sample = false;
  EXPECT_EQ(SamplingDefaults::ForMode(GenerationConfigMode::kVllm, g).ToString(),
            SamplingDefaults().ToString());
  EXPECT_EQ(SamplingDefaults::ForMode(GenerationConfigMode::kAuto, g).temperature, 0.0f);
}

TEST(SamplingDefaultsTest, ApplyToSetsOnlyTheUnsetFields) {
  const SamplingDefaults d = SamplingDefaults::FromGenerationConfig(Sampling());
  SamplingParams p;
  p.temperature = 1.3f;
  p.top_k = 7;
  d.ApplyTo({.top_p = true, .repetition_penalty = true}, &p);
  EXPECT_EQ(p.temperature, 1.3f);
  EXPECT_EQ(p.top_k, 7);
  EXPECT_EQ(p.top_p, 0.9f);
  EXPECT_EQ(p.min_p, 0.0f);
  EXPECT_EQ(p.repetition_penalty, 1.1f);
  SamplingParams q;
  d.ApplyTo(kAllUnset, &q);
  EXPECT_EQ(q.temperature, 0.6f);
  EXPECT_EQ(q.min_p, 0.05f);
  SamplingParams untouched;
  d.ApplyTo({}, &untouched);  // nothing marked: as given
  EXPECT_EQ(untouched.temperature, 1.0f);
}

TEST(SamplingDefaultsTest, ParseMode) {
  EXPECT_EQ(*ParseGenerationConfigMode("auto"), GenerationConfigMode::kAuto);
  EXPECT_EQ(*ParseGenerationConfigMode("vllm"), GenerationConfigMode::kVllm);
  EXPECT_FALSE(ParseGenerationConfigMode("").ok());
  EXPECT_FALSE(ParseGenerationConfigMode("Auto").ok());
  EXPECT_EQ(GenerationConfigModeName(GenerationConfigMode::kVllm), std::string("vllm"));
}

// The engine applies the model's defaults to what a request leaves unset.
TEST(SamplingDefaultsTest, EngineSubmitAppliesTheModelsDefaults) {
  INFERD_REQUIRE_SHARED("models/stories260K");
  for (GenerationConfigMode mode : {GenerationConfigMode::kAuto, GenerationConfigMode::kVllm}) {
    SCOPED_TRACE(GenerationConfigModeName(mode));
    EngineConfig config;
    config.model_dir = SharedPath("models/stories260K");
    config.num_threads = 1;
    config.generation_config = mode;
    absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Create(config);
    ASSERT_TRUE(engine.ok()) << engine.status();
    const ModelInfo& info = (*engine)->model_info();
    EXPECT_EQ(info.generation_config, GenerationConfigModeName(mode));
    EXPECT_EQ(info.sampling_defaults.temperature,
              mode == GenerationConfigMode::kAuto ? 0.0f : 1.0f);

    const std::vector<int32_t> prompt = {1, 403, 407, 261, 378};
    const std::vector<int32_t> greedy = RunOne(**engine, Greedy("greedy", prompt, 24)).ids;
    ASSERT_EQ(greedy.size(), 24u);
    auto unset = [&](const std::string& id, uint64_t seed) {
      Request r = Greedy(id, prompt, 24);
      r.sampling.temperature = 1.0f;  // overridden: marked unset
      r.sampling.seed = seed;
      r.unset_sampling = kAllUnset;
      return RunOne(**engine, std::move(r)).ids;
    };
    if (mode == GenerationConfigMode::kAuto) {
      EXPECT_EQ(unset("a", 1), greedy);
      EXPECT_EQ(unset("b", 2), greedy);
    } else {
      EXPECT_NE(unset("a", 1), unset("b", 2));
    }
    // A field the request set wins: temperature 1 samples in either mode.
    Request set1 = Greedy("c", prompt, 24);
    set1.sampling.temperature = 1.0f;
    set1.sampling.seed = 1;
    Request set2 = set1;
    set2.request_id = "d";
    set2.sampling.seed = 2;
    EXPECT_NE(RunOne(**engine, std::move(set1)).ids, RunOne(**engine, std::move(set2)).ids);
  }
}

}  // namespace
}  // namespace inferd::engine
