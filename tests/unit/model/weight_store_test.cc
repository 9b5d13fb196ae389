// tests/unit/model/weight_store_test.cc — WeightStore over single-file,
// sharded (index.json) and loose-file directories, plus the shared models.
#include <filesystem>
#include <string>
#include <vector>

#include "engine/model/config.h"
#include "engine/model/weight_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "tests/unit/model/safetensors_writer.h"

namespace inferd::engine {
namespace {

using ::inferd::testing::F32Bytes;
using ::inferd::testing::SafetensorsBytes;
using ::inferd::testing::SharedPath;
using ::inferd::testing::TempDir;
using ::inferd::testing::U16Bytes;
using ::inferd::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<WeightStore> OpenOrDie(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<WeightStore>> s = WeightStore::Open(dir);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

// Two shards and their index: a (F32 [2,2]) and b (BF16 [3]) in shard 1, c
// (F16 [1]) in shard 2.
void WriteShardedModel(const TempDir& dir) {
  WriteFile(dir.file("model-00001-of-00002.safetensors"),
            SafetensorsBytes({{"a", "F32", {2, 2}, F32Bytes({1, 2, 3, 4})},
                              {"b", "BF16", {3}, U16Bytes({0x3F80, 0x4000, 0xC040})}}));
  WriteFile(dir.file("model-00002-of-00002.safetensors"),
            SafetensorsBytes({{"c", "F16", {1}, U16Bytes({0x3800})}}));
  WriteFile(dir.file("model.safetensors.index.json"), R"({
    "metadata": {"total_size": 30},
    "weight_map": {"a": "model-00001-of-00002.safetensors",
                   "b": "model-00001-of-00002.safetensors",
                   "c": "model-00002-of-00002.safetensors"}})");
}

TEST(WeightStoreTest, SingleFile) {
  TempDir dir;
  WriteFile(dir.file("model.safetensors"),
            SafetensorsBytes({{"w", "F32", {3}, F32Bytes({1, 2, 3})}}));
  WriteFile(dir.file("other.safetensors"), "garbage, ignored when model.safetensors exists");
  std::unique_ptr<WeightStore> store = OpenOrDie(dir.path().string());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->Has("w"));
  EXPECT_FALSE(store->Has("v"));
  EXPECT_THAT(store->Names(), ElementsAre("w"));
  absl::StatusOr<std::vector<int64_t>> shape = store->Shape("w");
  ASSERT_TRUE(shape.ok());
  EXPECT_THAT(*shape, ElementsAre(3));
  absl::StatusOr<std::vector<float>> w = store->LoadF32("w", {3});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_THAT(*w, ElementsAre(1.0f, 2.0f, 3.0f));
}

TEST(WeightStoreTest, ShardedWithIndex) {
  TempDir dir;
  WriteShardedModel(dir);
  std::unique_ptr<WeightStore> store = OpenOrDie(dir.path().string());
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->Names(), ElementsAre("a", "b", "c"));
  absl::StatusOr<std::vector<float>> a = store->LoadF32("a", {2, 2});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_THAT(*a, ElementsAre(1.0f, 2.0f, 3.0f, 4.0f));
  absl::StatusOr<std::vector<float>> b = store->LoadF32("b", {3});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(*b, ElementsAre(1.0f, 2.0f, -3.0f));
  absl::StatusOr<std::vector<float>> c = store->LoadF32("c", {1});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(*c, ElementsAre(0.5f));
}

TEST(WeightStoreTest, MissingShardNamesTheIndexFile) {
  TempDir dir;
  WriteShardedModel(dir);
  std::filesystem::remove(dir.file("model-00002-of-00002.safetensors"));
  absl::StatusOr<std::unique_ptr<WeightStore>> s = WeightStore::Open(dir.path().string());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr("model.safetensors.index.json"));
  EXPECT_THAT(s.status().message(), HasSubstr("model-00002-of-00002.safetensors"));
}

TEST(WeightStoreTest, IndexPointingAtTheWrongShardIsAnError) {
  TempDir dir;
  WriteShardedModel(dir);
  WriteFile(dir.file("model.safetensors.index.json"), R"({"weight_map": {
    "a": "model-00002-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}})");
  absl::StatusOr<std::unique_ptr<WeightStore>> s = WeightStore::Open(dir.path().string());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("model.safetensors.index.json"));
  EXPECT_THAT(s.status().message(), HasSubstr("`a`"));
}

TEST(WeightStoreTest, BadIndexFilesAreRejected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "invalid JSON"},
      {R"({"metadata": {}})", "`weight_map`"},
      {R"({"weight_map": {"a": 3}})", "`weight_map.a`"},
      {R"({"weight_map": {"a": "../escape.safetensors"}})", "not a file name"},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    TempDir dir;
    WriteFile(dir.file("model.safetensors.index.json"), text);
    absl::StatusOr<std::unique_ptr<WeightStore>> s = WeightStore::Open(dir.path().string());
    ASSERT_FALSE(s.ok());
    EXPECT_THAT(s.status().message(), HasSubstr("model.safetensors.index.json"));
    EXPECT_THAT(s.status().message(), HasSubstr(expected));
  }
}

TEST(WeightStoreTest, WrongShapeNamesFileTensorAndBothShapes) {
  TempDir dir;
  WriteShardedModel(dir);
  std::unique_ptr<WeightStore> store = OpenOrDie(dir.path().string());
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<float>> a = store->LoadF32("a", {4});
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("model-00001-of-00002.safetensors"));
  EXPECT_THAT(a.status().message(), HasSubstr("`a`"));
  EXPECT_THAT(a.status().message(), HasSubstr("[2, 2]"));
  EXPECT_THAT(a.status().message(), HasSubstr("[4]"));
}

TEST(WeightStoreTest, MissingTensorIsNotFound) {
  TempDir dir;
  WriteShardedModel(dir);
  std::unique_ptr<WeightStore> store = OpenOrDie(dir.path().string());
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<float>> x = store->LoadF32("model.norm.weight", {2});
  ASSERT_FALSE(x.ok());
  EXPECT_EQ(x.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(x.status().message(), HasSubstr("`model.norm.weight`"));
  EXPECT_THAT(x.status().message(), HasSubstr(dir.path().string()));
  EXPECT_FALSE(store->Shape("model.norm.weight").ok());
}

TEST(WeightStoreTest, LooseFilesWithoutIndex) {
  TempDir dir;
  WriteFile(dir.file("heads.safetensors"), SafetensorsBytes({{"h", "F32", {1}, F32Bytes({7})}}));
  WriteFile(dir.file("extra.safetensors"), SafetensorsBytes({{"e", "F32", {1}, F32Bytes({8})}}));
  std::unique_ptr<WeightStore> store = OpenOrDie(dir.path().string());
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->Names(), ElementsAre("e", "h"));
}

TEST(WeightStoreTest, DuplicateTensorAcrossFilesNamesBoth) {
  TempDir dir;
  WriteFile(dir.file("x.safetensors"), SafetensorsBytes({{"t", "F32", {1}, F32Bytes({1})}}));
  WriteFile(dir.file("y.safetensors"), SafetensorsBytes({{"t", "F32", {1}, F32Bytes({2})}}));
  absl::StatusOr<std::unique_ptr<WeightStore>> s = WeightStore::Open(dir.path().string());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("`t`"));
  EXPECT_THAT(s.status().message(), HasSubstr("x.safetensors"));
  EXPECT_THAT(s.status().message(), HasSubstr("y.safetensors"));
}

TEST(WeightStoreTest, DirectoryWithoutWeightsOrMissingDirectory) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<WeightStore>> s = WeightStore::Open(dir.path().string());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr("no model.safetensors"));
  s = WeightStore::Open(dir.file("missing"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
}

TEST(WeightStoreTest, CorruptFileInDirectoryNamesIt) {
  TempDir dir;
  WriteFile(dir.file("model.safetensors"), SafetensorsBytes("{\"w\": 1}", ""));
  absl::StatusOr<std::unique_ptr<WeightStore>> s = WeightStore::Open(dir.path().string());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr(dir.file("model.safetensors")));
  EXPECT_THAT(s.status().message(), HasSubstr("`w`"));
}

// Checks every tensor a Llama model needs against the config's shapes.
void CheckLlamaWeights(const std::string& dir, size_t expected_count) {
  absl::StatusOr<ModelConfig> config = ModelConfig::FromDirectory(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  std::unique_ptr<WeightStore> store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Names().size(), expected_count);
  const int64_t h = config->hidden_size, v = config->vocab_size, f = config->intermediate_size;
  const int64_t q = config->num_attention_heads * config->head_dim;
  const int64_t kv = config->num_key_value_heads * config->head_dim;
  std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {"model.embed_tokens.weight", {v, h}}, {"model.norm.weight", {h}}};
  if (!config->tie_word_embeddings) expected.push_back({"lm_head.weight", {v, h}});
  for (int64_t l = 0; l < config->num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    expected.push_back({p + "input_layernorm.weight", {h}});
    expected.push_back({p + "post_attention_layernorm.weight", {h}});
    expected.push_back({p + "self_attn.q_proj.weight", {q, h}});
    expected.push_back({p + "self_attn.k_proj.weight", {kv, h}});
    expected.push_back({p + "self_attn.v_proj.weight", {kv, h}});
    expected.push_back({p + "self_attn.o_proj.weight", {h, q}});
    expected.push_back({p + "mlp.gate_proj.weight", {f, h}});
    expected.push_back({p + "mlp.up_proj.weight", {f, h}});
    expected.push_back({p + "mlp.down_proj.weight", {h, f}});
  }
  EXPECT_EQ(expected.size(), expected_count);
  for (const auto& [name, shape] : expected) {
    absl::StatusOr<std::vector<float>> t = store->LoadF32(name, shape);
    EXPECT_TRUE(t.ok()) << t.status();
  }
}

TEST(WeightStoreTest, SharedStories260K) {
  INFERD_REQUIRE_SHARED("models/stories260K");
  const std::string dir = SharedPath("models/stories260K");
  CheckLlamaWeights(dir, 47);
  std::unique_ptr<WeightStore> store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<float>> embed = store->LoadF32("model.embed_tokens.weight", {512, 64});
  ASSERT_TRUE(embed.ok()) << embed.status();
  EXPECT_EQ((*embed)[0], -0.29474878311157227f);
  EXPECT_EQ((*embed)[1], 0.5618956089019775f);
  EXPECT_EQ((*embed)[2], 0.1754225343465805f);
  absl::StatusOr<std::vector<float>> norm =
      store->LoadF32("model.layers.0.input_layernorm.weight", {64});
  ASSERT_TRUE(norm.ok()) << norm.status();
  EXPECT_EQ((*norm)[0], 0.9722429513931274f);
}

TEST(WeightStoreTest, SharedTinyLlama) {
  INFERD_REQUIRE_SHARED("models/tiny-llama");
  const std::string dir = SharedPath("models/tiny-llama");
  CheckLlamaWeights(dir, 39);
  std::unique_ptr<WeightStore> store = OpenOrDie(dir);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::vector<float>> head = store->LoadF32("lm_head.weight", {32000, 128});
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ((*head)[0], 0.04557440057396889f);
  EXPECT_EQ((*head)[1], 0.38819658756256104f);
  absl::StatusOr<std::vector<float>> norm = store->LoadF32("model.norm.weight", {128});
  ASSERT_TRUE(norm.ok()) << norm.status();
  EXPECT_EQ((*norm)[0], 1.1511002779006958f);
}

TEST(WeightStoreTest, EverySharedModelDirectoryOpens) {
  // Including those without model.safetensors (Medusa heads, MTP module),
  // which load through the *.safetensors fallback.
  INFERD_REQUIRE_SHARED("models");
  const std::vector<std::pair<std::string, size_t>> dirs = {
      {"stories260K", 47},     {"stories260K-draft", 20},        {"stories260K-medusa", 12},
      {"stories260K-mtp", 13}, {"stories260K-moe-upcycled", 97}, {"tiny-llama", 39},
      {"tiny-mixtral", 127},   {"tiny-qwen2moe", 155},           {"tiny-qwen3moe", 113}};
  for (const auto& [name, count] : dirs) {
    SCOPED_TRACE(name);
    const std::string dir = SharedPath("models/" + name);
    if (!std::filesystem::exists(dir)) continue;
    std::unique_ptr<WeightStore> store = OpenOrDie(dir);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->Names().size(), count);
  }
}

}  // namespace
}  // namespace inferd::engine
