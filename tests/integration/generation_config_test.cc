// tests/integration/generation_config_test.cc — sampling defaults from the
// model's generation_config.json (`--generation-config auto`, the default)
// or the built-in ones (`--generation-config vllm`), through the real
// `inferd generate` and the real daemon: a field the request leaves unset
// takes the model's default, a field it sets wins.
//
// stories260K's generation_config.json says do_sample: false, so its default
// is greedy. A copy with {do_sample: true, temperature: 0.7, top_k: 1,
// top_p: 0.9} checks that the values reach the sampler: top_k 1 makes any
// temperature greedy, and an explicit top_k 0 brings sampling back.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/inferd_server.h"
#include "tests/integration/server_fixture.h"
#include "tests/integration/test_client.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

constexpr char kPrompt[] = "Once upon a time";

std::vector<int32_t> OfflineIds(const std::string& model_dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"--prompt", kPrompt, "--max-tokens", "20"});
  const nlohmann::json json = RunOfflineGenerate(model_dir, args);
  if (!json.is_object()) return {};
  return json.at("output_ids").get<std::vector<int32_t>>();
}

// ---- inferd generate on ../shared/models/stories260K (do_sample: false) ----

TEST(GenerationConfigGenerateTest, DoSampleFalseMakesTheDefaultGreedy) {
  INFERD_REQUIRE_SHARED(kModel);
  const std::string model = SharedPath(kModel);
  const std::vector<int32_t> greedy = OfflineIds(model, {"--temperature", "0"});
  ASSERT_FALSE(greedy.empty());
  // No sampling flag: the README quick start's command prints the same story
  // every run, whatever the seed.
  EXPECT_EQ(OfflineIds(model, {}), greedy);
  EXPECT_EQ(OfflineIds(model, {}), greedy);
  EXPECT_EQ(OfflineIds(model, {"--seed", "1"}), greedy);
  EXPECT_EQ(OfflineIds(model, {"--seed", "2"}), greedy);
  EXPECT_EQ(OfflineIds(model, {"--generation-config", "auto", "--seed", "3"}), greedy);
}

TEST(GenerationConfigGenerateTest, VllmModeUsesTheBuiltInTemperatureOne) {
  INFERD_REQUIRE_SHARED(kModel);
  const std::string model = SharedPath(kModel);
  const std::vector<int32_t> seed1 =
      OfflineIds(model, {"--generation-config", "vllm", "--seed", "1"});
  const std::vector<int32_t> seed2 =
      OfflineIds(model, {"--generation-config", "vllm", "--seed", "2"});
  ASSERT_FALSE(seed1.empty());
  EXPECT_NE(seed1, seed2) << "sampled at temperature 1, two seeds should differ";
  EXPECT_EQ(seed1, OfflineIds(model, {"--temperature", "1", "--seed", "1"}));
  EXPECT_NE(seed1, OfflineIds(model, {"--temperature", "0"}));
}

TEST(GenerationConfigGenerateTest, AnExplicitTemperatureWinsOverTheModelDefault) {
  INFERD_REQUIRE_SHARED(kModel);
  const std::string model = SharedPath(kModel);
  const std::vector<int32_t> seed1 = OfflineIds(model, {"--temperature", "0.8", "--seed", "1"});
  const std::vector<int32_t> seed2 = OfflineIds(model, {"--temperature", "0.8", "--seed", "2"});
  ASSERT_FALSE(seed1.empty());
  EXPECT_NE(seed1, seed2);
  EXPECT_EQ(seed1, OfflineIds(model, {"--generation-config", "vllm", "--temperature", "0.8",
                                      "--seed", "1"}));
}

TEST(GenerationConfigGenerateTest, UnknownModeIsAUsageError) {
  INFERD_REQUIRE_SHARED(kModel);
  const CommandResult result = RunCommand({InferdPath(), "generate", "--model", SharedPath(kModel),
                                           "--prompt", kPrompt, "--generation-config", "hf"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("--generation-config"), std::string::npos) << result.err;
}

// ---- a copy of stories260K whose generation_config.json samples ----

class SamplingGenerationConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    INFERD_REQUIRE_SHARED(kModel);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = ::testing::TempDir() + "/inferd-" + info->name() + "-" + std::to_string(::getpid());
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    std::filesystem::copy(SharedPath(kModel), dir_, std::filesystem::copy_options::recursive, ec);
    ASSERT_FALSE(ec) << dir_ << ": " << ec.message();
    std::ofstream(dir_ + "/generation_config.json", std::ios::trunc)
        << R"({"bos_token_id": 1, "eos_token_id": [2, 1], "do_sample": true,
               "temperature": 0.7, "top_k": 1, "top_p": 0.9, "max_length": 512})";
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::string dir_;
};

TEST_F(SamplingGenerationConfigTest, InferdGenerateTakesTheModelsTopK) {
  const std::vector<int32_t> greedy = OfflineIds(dir_, {"--temperature", "0"});
  ASSERT_FALSE(greedy.empty());
  // temperature 0.7 (the model's) with top_k 1 (the model's): greedy.
  EXPECT_EQ(OfflineIds(dir_, {"--seed", "1"}), greedy);
  EXPECT_EQ(OfflineIds(dir_, {"--seed", "2"}), greedy);
  // An explicit top_k 0 wins: the model's temperature 0.7 samples.
  const std::vector<int32_t> sampled1 = OfflineIds(dir_, {"--top-k", "0", "--seed", "1"});
  const std::vector<int32_t> sampled2 = OfflineIds(dir_, {"--top-k", "0", "--seed", "2"});
  EXPECT_NE(sampled1, sampled2);
  EXPECT_EQ(sampled1, OfflineIds(dir_, {"--temperature", "0.7", "--top-k", "0", "--top-p", "0.9",
                                        "--seed", "1"}));
  // vllm: the file's values are ignored (temperature 1, no top_k).
  EXPECT_NE(OfflineIds(dir_, {"--generation-config", "vllm", "--seed", "1"}),
            OfflineIds(dir_, {"--generation-config", "vllm", "--seed", "2"}));
}

// ---- the daemon ----

v1::GenerateRequest TextRequest(std::optional<float> temperature, uint64_t seed) {
  v1::GenerateRequest request;
  request.set_text(kPrompt);
  request.set_max_tokens(20);
  request.set_seed(seed);
  if (temperature.has_value()) request.set_temperature(*temperature);
  return request;
}

std::vector<int32_t> StreamIds(v1::Inference::Stub& stub, const v1::GenerateRequest& request) {
  const StreamResult result = RunGenerate(stub, request);
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  return result.ids;
}

using GenerationConfigServeTest = ServerTest;

TEST_F(GenerationConfigServeTest, AbsentTemperatureIsGreedyOnStories260K) {
  const v1::GetModelInfoResponse info = GetModelInfo(*stub_);
  EXPECT_EQ(info.generation_config(), "auto");
  EXPECT_EQ(info.default_sampling().temperature(), 0.0f);
  EXPECT_EQ(info.default_sampling().top_k(), 0);
  EXPECT_EQ(info.default_sampling().top_p(), 1.0f);
  EXPECT_EQ(info.default_sampling().repetition_penalty(), 1.0f);
  const std::vector<int32_t> greedy = StreamIds(*stub_, TextRequest(0.0f, 1));
  ASSERT_FALSE(greedy.empty());
  EXPECT_EQ(StreamIds(*stub_, TextRequest(std::nullopt, 1)), greedy);
  EXPECT_EQ(StreamIds(*stub_, TextRequest(std::nullopt, 2)), greedy);
  // A temperature in the request wins: it samples.
  EXPECT_NE(StreamIds(*stub_, TextRequest(1.0f, 1)), StreamIds(*stub_, TextRequest(1.0f, 2)));
}

TEST_F(SamplingGenerationConfigTest, ServeTakesTheModelsDefaults) {
  std::string error;
  std::unique_ptr<InferdServer> server = InferdServer::Start(dir_, {}, &error);
  ASSERT_NE(server, nullptr) << error;
  std::unique_ptr<v1::Inference::Stub> stub = server->NewStub();
  const v1::GetModelInfoResponse info = GetModelInfo(*stub);
  EXPECT_EQ(info.generation_config(), "auto");
  EXPECT_EQ(info.default_sampling().temperature(), 0.7f);
  EXPECT_EQ(info.default_sampling().top_k(), 1);
  EXPECT_EQ(info.default_sampling().top_p(), 0.9f);
  EXPECT_EQ(info.default_sampling().min_p(), 0.0f);
  EXPECT_EQ(info.default_sampling().repetition_penalty(), 1.0f);
  const std::vector<int32_t> greedy = StreamIds(*stub, TextRequest(0.0f, 1));
  ASSERT_FALSE(greedy.empty());
  // No sampling field: the model's temperature 0.7 and top_k 1, so greedy.
  EXPECT_EQ(StreamIds(*stub, TextRequest(std::nullopt, 1)), greedy);
  EXPECT_EQ(StreamIds(*stub, TextRequest(std::nullopt, 2)), greedy);
  EXPECT_EQ(StreamIds(*stub, TextRequest(1.0f, 2)), greedy);
  // top_k 0 in the request wins.
  v1::GenerateRequest a = TextRequest(std::nullopt, 1);
  a.set_top_k(0);
  v1::GenerateRequest b = TextRequest(std::nullopt, 2);
  b.set_top_k(0);
  EXPECT_NE(StreamIds(*stub, a), StreamIds(*stub, b));
  EXPECT_EQ(server->Stop(), 0);
}

TEST_F(SamplingGenerationConfigTest, ServeWithVllmIgnoresTheFile) {
  std::string error;
  std::unique_ptr<InferdServer> server =
      InferdServer::Start(dir_, {"--generation-config", "vllm"}, &error);
  ASSERT_NE(server, nullptr) << error;
  std::unique_ptr<v1::Inference::Stub> stub = server->NewStub();
  const v1::GetModelInfoResponse info = GetModelInfo(*stub);
  EXPECT_EQ(info.generation_config(), "vllm");
  EXPECT_EQ(info.default_sampling().temperature(), 1.0f);
  EXPECT_EQ(info.default_sampling().top_k(), 0);
  EXPECT_EQ(info.default_sampling().top_p(), 1.0f);
  EXPECT_NE(StreamIds(*stub, TextRequest(std::nullopt, 1)),
            StreamIds(*stub, TextRequest(std::nullopt, 2)));
  EXPECT_EQ(server->Stop(), 0);
}

}  // namespace
}  // namespace inferd::testing
