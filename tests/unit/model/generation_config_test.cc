// tests/unit/model/generation_config_test.cc — GenerationConfig: the optional
// generation_config.json.
#include <string>

#include "engine/model/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tests/unit/model/safetensors_writer.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::SharedPath;
using ::inferd::testing::TempDir;
using ::inferd::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(GenerationConfigTest, SharedStories260K) {
  INFERD_REQUIRE_SHARED("models/stories260K");
  absl::StatusOr<GenerationConfig> g =
      GenerationConfig::FromDirectory(SharedPath("models/stories260K"));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(g->eos_token_ids, ElementsAre(2, 1));
  EXPECT_EQ(g->bos_token_id, 1);
  EXPECT_EQ(g->do_sample, false);
  EXPECT_FALSE(g->temperature.has_value());
  g = GenerationConfig::FromDirectory(SharedPath("models/tiny-llama"));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_THAT(g->eos_token_ids, ElementsAre(2));
}

TEST(GenerationConfigTest, AbsentFileGivesEmptyConfig) {
  TempDir dir;
  absl::StatusOr<GenerationConfig> g = GenerationConfig::FromDirectory(dir.path().string());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->eos_token_ids.empty());
  EXPECT_EQ(g->bos_token_id, -1);
  EXPECT_FALSE(g->do_sample.has_value());
  EXPECT_FALSE(g->temperature.has_value());
  EXPECT_FALSE(g->top_k.has_value());
}

TEST(GenerationConfigTest, SamplingFieldsAsWritten) {
  TempDir dir;
  WriteFile(dir.file("generation_config.json"),
            R"({"do_sample": true, "temperature": 0.6, "top_k": 50, "top_p": 0.9,
                "min_p": 0.05, "repetition_penalty": 1.1, "max_new_tokens": 64})");
  absl::StatusOr<GenerationConfig> g = GenerationConfig::FromDirectory(dir.path().string());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->do_sample, true);
  EXPECT_EQ(g->temperature, 0.6f);
  EXPECT_EQ(g->top_k, 50);
  EXPECT_EQ(g->top_p, 0.9f);
  EXPECT_EQ(g->min_p, 0.05f);
  EXPECT_EQ(g->repetition_penalty, 1.1f);
}

TEST(GenerationConfigTest, SamplingEdgeValuesAreAccepted) {
  TempDir dir;
  // Integers where floats go, temperature 0 (greedy), top_p 1, vLLM's top_k -1
  // (disabled, read as 0), nulls (absent).
  WriteFile(dir.file("generation_config.json"),
            R"({"temperature": 0, "top_p": 1, "min_p": 0, "top_k": -1,
                "repetition_penalty": 2, "do_sample": null})");
  absl::StatusOr<GenerationConfig> g = GenerationConfig::FromDirectory(dir.path().string());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_FALSE(g->do_sample.has_value());
  EXPECT_EQ(g->temperature, 0.0f);
  EXPECT_EQ(g->top_p, 1.0f);
  EXPECT_EQ(g->min_p, 0.0f);
  EXPECT_EQ(g->top_k, 0);
  EXPECT_EQ(g->repetition_penalty, 2.0f);
  WriteFile(dir.file("generation_config.json"),
            R"({"temperature": null, "top_k": null, "top_p": null})");
  g = GenerationConfig::FromDirectory(dir.path().string());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_FALSE(g->temperature.has_value());
  EXPECT_FALSE(g->top_k.has_value());
  EXPECT_FALSE(g->top_p.has_value());
}

TEST(GenerationConfigTest, BadSamplingFieldsNameFileAndField) {
  TempDir dir;
  const std::string path = dir.file("generation_config.json");
  const struct {
    const char* json;
    const char* field;
    const char* says;
  } cases[] = {
      {R"({"temperature": -1})", "temperature", ">= 0"},
      {R"({"temperature": -0.01})", "temperature", "-0.01"},
      {R"({"temperature": "0.7"})", "temperature", "expected a number, got a string"},
      {R"({"temperature": 1e39})", "temperature", "1e+39"},  // finite double, inf as a float
      {R"({"temperature": [1]})", "temperature", "expected a number"},
      {R"({"top_p": 0})", "top_p", "in (0, 1]"},
      {R"({"top_p": 1.5})", "top_p", "in (0, 1]"},
      {R"({"top_p": -0.5})", "top_p", "in (0, 1]"},
      {R"({"min_p": 1.01})", "min_p", "in [0, 1]"},
      {R"({"min_p": -0.1})", "min_p", "in [0, 1]"},
      {R"({"repetition_penalty": 0})", "repetition_penalty", "> 0"},
      {R"({"repetition_penalty": -1.2})", "repetition_penalty", "> 0"},
      {R"({"repetition_penalty": true})", "repetition_penalty", "expected a number"},
      {R"({"top_k": 5.5})", "top_k", "expected an integer"},
      {R"({"top_k": "50"})", "top_k", "expected an integer"},
      {R"({"top_k": -2})", "top_k", "-2"},
      {R"({"top_k": 4294967296})", "top_k", "4294967296"},
      {R"({"do_sample": "false"})", "do_sample", "expected true or false"},
      {R"({"do_sample": 0})", "do_sample", "expected true or false"},
      // A bad field is refused even when do_sample false makes it unused.
      {R"({"do_sample": false, "temperature": -1})", "temperature", ">= 0"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json);
    WriteFile(path, c.json);
    absl::StatusOr<GenerationConfig> g = GenerationConfig::FromDirectory(dir.path().string());
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(g.status().message(), HasSubstr(path));
    EXPECT_THAT(g.status().message(), HasSubstr(std::string("`") + c.field + "`"));
    EXPECT_THAT(g.status().message(), HasSubstr(c.says));
  }
}

TEST(GenerationConfigTest, BadFieldsNameFileAndField) {
  TempDir dir;
  const std::string path = dir.file("generation_config.json");
  WriteFile(path, R"({"eos_token_id": ["x"]})");
  absl::StatusOr<GenerationConfig> g = GenerationConfig::FromDirectory(dir.path().string());
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr(path));
  EXPECT_THAT(g.status().message(), HasSubstr("`eos_token_id`"));
  WriteFile(path, R"({"bos_token_id": -3})");
  g = GenerationConfig::FromDirectory(dir.path().string());
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("`bos_token_id`"));
  WriteFile(path, "not json");
  g = GenerationConfig::FromDirectory(dir.path().string());
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().message(), HasSubstr("invalid JSON"));
  WriteFile(path, R"({"eos_token_id": null, "bos_token_id": null, "do_sample": true})");
  g = GenerationConfig::FromDirectory(dir.path().string());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->eos_token_ids.empty());
}

}  // namespace
}  // namespace inferd::engine
