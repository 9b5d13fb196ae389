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
