// tests/unit/model/config_test.cc — ModelConfig parsing: HF defaults per
// family, every shared config.json, bad configs naming their field.
#include "engine/model/config.h"

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::SharedPath;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

// A minimal valid Llama config.
Json Minimal() {
  return Json{{"architectures", {"LlamaForCausalLM"}},
              {"vocab_size", 1000},
              {"hidden_size", 64},
              {"intermediate_size", 128},
              {"num_hidden_layers", 2},
              {"num_attention_heads", 4}};
}

absl::StatusOr<ModelConfig> ParseJson(const Json& j) {
  return ModelConfig::Parse(j.dump(), "test/config.json");
}

ModelConfig ParseOrDie(const Json& j) {
  absl::StatusOr<ModelConfig> c = ParseJson(j);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : ModelConfig();
}

TEST(ModelConfigTest, HfDefaultsForAMinimalLlamaConfig) {
  const ModelConfig c = ParseOrDie(Minimal());
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.model_type, "llama");
  EXPECT_EQ(c.vocab_size, 1000);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.rope_scaling.type, "");
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.hidden_act, "silu");
  EXPECT_EQ(c.torch_dtype, "");
  EXPECT_TRUE(c.bos_token_ids.empty());
  EXPECT_TRUE(c.eos_token_ids.empty());
}

TEST(ModelConfigTest, ExplicitFieldsAndNulls) {
  Json j = Minimal();
  j["num_key_value_heads"] = 2;
  j["head_dim"] = 32;  // need not be hidden_size / heads
  j["max_position_embeddings"] = 4096;
  j["rms_norm_eps"] = 1e-5;
  j["rope_theta"] = 500000.0;
  j["tie_word_embeddings"] = true;
  j["attention_bias"] = true;
  j["torch_dtype"] = "bfloat16";
  j["bos_token_id"] = 128000;
  j["eos_token_id"] = {128001, 128008, 128009};
  j["rope_scaling"] = nullptr;
  j["pad_token_id"] = nullptr;
  const ModelConfig c = ParseOrDie(j);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.max_position_embeddings, 4096);
  EXPECT_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_THAT(c.bos_token_ids, ElementsAre(128000));
  EXPECT_THAT(c.eos_token_ids, ElementsAre(128001, 128008, 128009));
}

TEST(ModelConfigTest, NewerDtypeKeyIsAccepted) {
  Json j = Minimal();
  j["dtype"] = "float16";
  EXPECT_EQ(ParseOrDie(j).torch_dtype, "float16");
}

TEST(ModelConfigTest, Qwen2AlwaysHasAttentionBias) {
  Json j = Minimal();
  j["architectures"] = {"Qwen2ForCausalLM"};
  j["attention_bias"] = false;  // ignored: Qwen2 projections always carry q/k/v biases
  const ModelConfig c = ParseOrDie(j);
  EXPECT_EQ(c.model_type, "qwen2");
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.tie_word_embeddings);  // Qwen2Config default
  EXPECT_EQ(c.max_position_embeddings, 32768);
}

TEST(ModelConfigTest, Qwen2SlidingWindowOnlyWhenEnabled) {
  Json j = Minimal();
  j["architectures"] = {"Qwen2ForCausalLM"};
  j["max_position_embeddings"] = 32768;
  j["sliding_window"] = 4096;
  j["use_sliding_window"] = false;
  EXPECT_EQ(ParseOrDie(j).max_position_embeddings, 32768);
  j["use_sliding_window"] = true;
  EXPECT_EQ(ParseOrDie(j).max_position_embeddings, 4096);
}

TEST(ModelConfigTest, MistralSlidingWindowCapsTheContext) {
  Json j = Minimal();
  j["architectures"] = {"MistralForCausalLM"};
  j["model_type"] = "mistral";
  j["max_position_embeddings"] = 32768;
  j["sliding_window"] = 4096;
  j["attention_bias"] = true;  // MistralConfig has no such field; HF ignores it
  ModelConfig c = ParseOrDie(j);
  EXPECT_EQ(c.max_position_embeddings, 4096);
  EXPECT_FALSE(c.attention_bias);
  j["sliding_window"] = nullptr;
  EXPECT_EQ(ParseOrDie(j).max_position_embeddings, 32768);
}

TEST(ModelConfigTest, TokenIdsAsIntListOrNull) {
  Json j = Minimal();
  j["eos_token_id"] = 2;
  j["bos_token_id"] = nullptr;
  ModelConfig c = ParseOrDie(j);
  EXPECT_THAT(c.eos_token_ids, ElementsAre(2));
  EXPECT_TRUE(c.bos_token_ids.empty());
  j["eos_token_id"] = Json::array();
  EXPECT_TRUE(ParseOrDie(j).eos_token_ids.empty());
}

TEST(ModelConfigTest, SharedLlamaConfigs) {
  INFERD_REQUIRE_SHARED("models/stories260K");
  absl::StatusOr<ModelConfig> s = ModelConfig::FromDirectory(SharedPath("models/stories260K"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->architecture, "LlamaForCausalLM");
  EXPECT_EQ(s->vocab_size, 512);
  EXPECT_EQ(s->hidden_size, 64);
  EXPECT_EQ(s->intermediate_size, 172);
  EXPECT_EQ(s->num_hidden_layers, 5);
  EXPECT_EQ(s->num_attention_heads, 8);
  EXPECT_EQ(s->num_key_value_heads, 4);
  EXPECT_EQ(s->head_dim, 8);
  EXPECT_EQ(s->max_position_embeddings, 512);
  EXPECT_EQ(s->rms_norm_eps, 1e-5);
  EXPECT_TRUE(s->tie_word_embeddings);
  EXPECT_FALSE(s->attention_bias);
  EXPECT_EQ(s->torch_dtype, "float32");
  EXPECT_THAT(s->bos_token_ids, ElementsAre(1));
  EXPECT_THAT(s->eos_token_ids, ElementsAre(2));

  absl::StatusOr<ModelConfig> t = ModelConfig::FromDirectory(SharedPath("models/tiny-llama"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->vocab_size, 32000);
  EXPECT_EQ(t->hidden_size, 128);
  EXPECT_EQ(t->num_key_value_heads, 2);
  EXPECT_EQ(t->head_dim, 16);
  EXPECT_FALSE(t->tie_word_embeddings);
  EXPECT_EQ(t->max_position_embeddings, 4096);

  absl::StatusOr<ModelConfig> d =
      ModelConfig::FromDirectory(SharedPath("models/stories260K-draft"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->hidden_size, 32);
  EXPECT_EQ(d->num_key_value_heads, 2);
}

TEST(ModelConfigTest, MoeConfigsOfTheThreeFamilies) {
  INFERD_REQUIRE_SHARED("models/tiny-qwen3moe");
  absl::StatusOr<ModelConfig> mx = ModelConfig::FromDirectory(SharedPath("models/tiny-mixtral"));
  ASSERT_TRUE(mx.ok()) << mx.status();
  EXPECT_EQ(mx->moe.num_experts, 8);
  EXPECT_EQ(mx->moe.num_experts_per_tok, 2);
  EXPECT_EQ(mx->moe.expert_intermediate_size, 256);
  EXPECT_TRUE(mx->moe.norm_topk_prob);
  EXPECT_FALSE(mx->attention_bias);
  EXPECT_TRUE(mx->IsMoeLayer(0) && mx->IsMoeLayer(3));

  absl::StatusOr<ModelConfig> q2 = ModelConfig::FromDirectory(SharedPath("models/tiny-qwen2moe"));
  ASSERT_TRUE(q2.ok()) << q2.status();
  EXPECT_EQ(q2->moe.num_experts_per_tok, 4);
  EXPECT_FALSE(q2->moe.norm_topk_prob);
  EXPECT_EQ(q2->moe.expert_intermediate_size, 64);
  EXPECT_EQ(q2->moe.shared_expert_intermediate_size, 256);
  EXPECT_TRUE(q2->attention_bias);
  EXPECT_FALSE(q2->qk_norm);

  absl::StatusOr<ModelConfig> q3 = ModelConfig::FromDirectory(SharedPath("models/tiny-qwen3moe"));
  ASSERT_TRUE(q3.ok()) << q3.status();
  EXPECT_TRUE(q3->qk_norm);
  EXPECT_TRUE(q3->moe.norm_topk_prob);
  EXPECT_EQ(q3->moe.shared_expert_intermediate_size, 0);
  EXPECT_TRUE(q3->IsMoeLayer(0));
  EXPECT_FALSE(q3->IsMoeLayer(1));  // mlp_only_layers: [1]
  EXPECT_TRUE(q3->IsMoeLayer(2));
}

TEST(ModelConfigTest, DecoderSparseStepAndMlpOnlyLayersPickTheDenseLayers) {
  // HF Qwen2-MoE: sparse when not in mlp_only_layers and (i + 1) % step == 0.
  absl::StatusOr<ModelConfig> c = ModelConfig::Parse(
      R"({"architectures": ["Qwen2MoeForCausalLM"], "vocab_size": 10, "hidden_size": 8,
          "intermediate_size": 16, "num_hidden_layers": 6, "num_attention_heads": 2,
          "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 8,
          "shared_expert_intermediate_size": 8, "decoder_sparse_step": 2,
          "mlp_only_layers": [3]})",
      "x/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  const std::vector<bool> want = {false, true, false, false, false, true};
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(c->IsMoeLayer(i), want[i]) << "layer " << i;
}

TEST(ModelConfigTest, BadMoeFieldsNameTheField) {
  const std::string base =
      R"("architectures": ["Qwen2MoeForCausalLM"], "vocab_size": 10, "hidden_size": 8,
         "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2)";
  const std::map<std::string, std::string> cases = {
      {R"(, "num_experts": 4, "moe_intermediate_size": 8, "shared_expert_intermediate_size": 8)",
       "num_experts_per_tok"},
      {R"(, "num_experts": 4, "num_experts_per_tok": 5, "moe_intermediate_size": 8,
          "shared_expert_intermediate_size": 8)",
       "num_experts_per_tok"},
      {R"(, "num_experts": 0, "num_experts_per_tok": 1, "moe_intermediate_size": 8,
          "shared_expert_intermediate_size": 8)",
       "num_experts"},
      {R"(, "num_experts": 4, "num_experts_per_tok": 2, "shared_expert_intermediate_size": 8)",
       "moe_intermediate_size"},
      {R"(, "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 8)",
       "shared_expert_intermediate_size"},
      {R"(, "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 8,
          "shared_expert_intermediate_size": 8, "mlp_only_layers": [7])",
       "mlp_only_layers"},
  };
  for (const auto& [extra, field] : cases) {
    absl::StatusOr<ModelConfig> c = ModelConfig::Parse("{" + base + extra + "}", "x/config.json");
    ASSERT_FALSE(c.ok()) << extra;
    EXPECT_THAT(c.status().message(), HasSubstr(field)) << extra;
  }
}

TEST(ModelConfigTest, EverySharedConfigParsesOrIsRejectedClearly) {
  INFERD_REQUIRE_SHARED("models");
  // Directory -> expected error substring ("" = parses).
  const std::map<std::string, std::string> expected = {
      {"stories260K", ""},
      {"stories260K-draft", ""},
      {"tiny-llama", ""},
      {"stories260K-moe-upcycled", ""},
      {"tiny-mixtral", ""},
      {"tiny-qwen2moe", ""},
      {"tiny-qwen3moe", ""},
      {"stories260K-mtp", "unknown architecture LlamaMTP"},
      {"stories260K-medusa", "expected a non-empty list"},
  };
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SharedPath("models"))) {
    if (!std::filesystem::exists(entry.path() / "config.json")) continue;
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    ++seen;
    absl::StatusOr<ModelConfig> c = ModelConfig::FromDirectory(entry.path().string());
    auto it = expected.find(name);
    if (it == expected.end()) {  // a model added later: must parse or name the architecture
      if (!c.ok()) {
        EXPECT_THAT(c.status().message(), HasSubstr("`architectures`"));
      }
      continue;
    }
    if (it->second.empty()) {
      EXPECT_TRUE(c.ok()) << c.status();
    } else {
      ASSERT_FALSE(c.ok());
      EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(c.status().message(), HasSubstr("config.json"));
      EXPECT_THAT(c.status().message(), HasSubstr("`architectures`"));
      EXPECT_THAT(c.status().message(), HasSubstr(it->second));
      EXPECT_THAT(c.status().message(), HasSubstr("LlamaForCausalLM, MistralForCausalLM"));
    }
  }
  EXPECT_GE(seen, 9);
}

struct BadConfig {
  const char* label;
  std::function<void(Json&)> edit;
  std::vector<std::string> expected;
};

TEST(ModelConfigTest, BadConfigsNameTheField) {
  const std::vector<BadConfig> cases = {
      {"no_architectures", [](Json& j) { j.erase("architectures"); }, {"`architectures`"}},
      {"unknown_architecture",
       [](Json& j) { j["architectures"] = {"GPT2LMHeadModel"}; },
       {"`architectures`", "GPT2LMHeadModel", "supported: LlamaForCausalLM"}},
      {"missing_hidden_size",
       [](Json& j) { j.erase("hidden_size"); },
       {"`hidden_size`", "missing"}},
      {"string_size",
       [](Json& j) { j["vocab_size"] = "32000"; },
       {"`vocab_size`", "expected an integer"}},
      {"float_size",
       [](Json& j) { j["num_hidden_layers"] = 2.5; },
       {"`num_hidden_layers`", "expected an integer"}},
      {"zero_size",
       [](Json& j) { j["intermediate_size"] = 0; },
       {"`intermediate_size`", "positive"}},
      {"negative_vocab", [](Json& j) { j["vocab_size"] = -5; }, {"`vocab_size`", "positive"}},
      {"kv_not_dividing",
       [](Json& j) { j["num_key_value_heads"] = 3; },
       {"`num_key_value_heads`", "does not divide"}},
      {"odd_head_dim", [](Json& j) { j["head_dim"] = 15; }, {"`head_dim`", "even"}},
      {"hidden_not_divisible",
       [](Json& j) { j["num_attention_heads"] = 6; },
       {"`hidden_size`", "not divisible"}},
      {"gelu", [](Json& j) { j["hidden_act"] = "gelu"; }, {"`hidden_act`", "gelu"}},
      {"yarn",
       [](Json& j) {
         j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
       },
       {"`rope_scaling.rope_type`", "yarn", "not supported"}},
      {"llama3_missing_factor",
       [](Json& j) {
         j["rope_scaling"] = {{"rope_type", "llama3"},
                              {"low_freq_factor", 1.0},
                              {"high_freq_factor", 4.0},
                              {"original_max_position_embeddings", 8192}};
       },
       {"`rope_scaling.factor`"}},
      {"llama3_bad_band",
       [](Json& j) {
         j["rope_scaling"] = {{"rope_type", "llama3"},
                              {"factor", 8.0},
                              {"low_freq_factor", 4.0},
                              {"high_freq_factor", 4.0},
                              {"original_max_position_embeddings", 8192}};
       },
       {"`rope_scaling.high_freq_factor`"}},
      {"rope_scaling_untyped",
       [](Json& j) {
         j["rope_scaling"] = {{"factor", 2.0}};
       },
       {"`rope_scaling.rope_type`", "missing"}},
      {"rope_scaling_not_object",
       [](Json& j) { j["rope_scaling"] = "llama3"; },
       {"`rope_scaling`"}},
      {"negative_eps", [](Json& j) { j["rms_norm_eps"] = -1e-6; }, {"`rms_norm_eps`"}},
      {"string_theta", [](Json& j) { j["rope_theta"] = "10000"; }, {"`rope_theta`"}},
      {"string_eos", [](Json& j) { j["eos_token_id"] = "2"; }, {"`eos_token_id`"}},
      {"negative_eos_in_list",
       [](Json& j) {
         j["eos_token_id"] = {2, -1};
       },
       {"`eos_token_id`"}},
      {"tie_not_bool",
       [](Json& j) { j["tie_word_embeddings"] = 1; },
       {"`tie_word_embeddings`", "true or false"}},
      {"mlp_bias", [](Json& j) { j["mlp_bias"] = true; }, {"`mlp_bias`", "not supported"}},
  };
  for (const BadConfig& c : cases) {
    SCOPED_TRACE(c.label);
    Json j = Minimal();
    c.edit(j);
    absl::StatusOr<ModelConfig> r = ParseJson(j);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("test/config.json"));
    for (const std::string& e : c.expected) EXPECT_THAT(r.status().message(), HasSubstr(e));
  }
}

TEST(ModelConfigTest, NotJsonOrNotAnObject) {
  absl::StatusOr<ModelConfig> r = ModelConfig::Parse("{\"vocab_size\": ", "x/config.json");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("x/config.json: invalid JSON"));
  r = ModelConfig::Parse("[1]", "x/config.json");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("expected a JSON object"));
}

TEST(ModelConfigTest, MissingDirectoryIsNotFound) {
  absl::StatusOr<ModelConfig> r = ModelConfig::FromDirectory("/nonexistent/model");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("/nonexistent/model/config.json"));
}

}  // namespace
}  // namespace inferd::engine
