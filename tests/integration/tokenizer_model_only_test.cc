// tests/integration/tokenizer_model_only_test.cc — a model directory whose
// only tokenizer is the sentencepiece tokenizer.model (a copy of
// ../shared/models/stories260K without tokenizer.json) works in the real
// binaries: `inferd generate` and `inferd serve`, which link gRPC's
// libprotobuf, give the same ids as with the original directory. (Loading
// tokenizer.model through libsentencepiece, with its own protobuf runtime,
// crashed or aborted these processes.)
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/inferd_server.h"
#include "tests/integration/test_client.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

// A fresh copy of stories260K without tokenizer.json; removed afterwards.
class TokenizerModelOnlyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    INFERD_REQUIRE_SHARED(kModel);
    INFERD_REQUIRE_SHARED(std::string(kModel) + "/tokenizer.model");
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = ::testing::TempDir() + "/inferd-" + info->name() + "-" + std::to_string(::getpid());
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    ASSERT_TRUE(std::filesystem::create_directories(dir_, ec)) << dir_ << ": " << ec.message();
    for (const char* name : {"config.json", "generation_config.json", "model.safetensors",
                             "tokenizer.model", "tokenizer_config.json"}) {
      ASSERT_TRUE(
          std::filesystem::copy_file(SharedPath(kModel) + "/" + name, dir_ + "/" + name, ec))
          << name << ": " << ec.message();
    }
    ASSERT_FALSE(std::filesystem::exists(dir_ + "/tokenizer.json"));
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::string dir_;
};

TEST_F(TokenizerModelOnlyTest, InferdGenerateMatchesTheOriginalDirectory) {
  const std::vector<std::string> args = {"--prompt", "Once upon a time", "--max-tokens",
                                         "20",       "--temperature",    "0"};
  const nlohmann::json copy = RunOfflineGenerate(dir_, args);
  const nlohmann::json original = RunOfflineGenerate(SharedPath(kModel), args);
  ASSERT_TRUE(copy.is_object());
  ASSERT_TRUE(original.is_object());
  EXPECT_EQ(copy.at("prompt_ids").get<std::vector<int32_t>>(),
            (std::vector<int32_t>{1, 403, 407, 261, 378}));
  EXPECT_EQ(copy.at("prompt_ids"), original.at("prompt_ids"));
  EXPECT_FALSE(copy.at("output_ids").empty());
  EXPECT_EQ(copy.at("output_ids"), original.at("output_ids"));
  EXPECT_EQ(copy.at("text"), original.at("text"));
  EXPECT_EQ(copy.at("finish_reason"), original.at("finish_reason"));
}

TEST_F(TokenizerModelOnlyTest, InferdServeTokenizesAndGenerates) {
  std::string error;
  std::unique_ptr<InferdServer> server = InferdServer::Start(dir_, {}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto stub = server->NewStub();
  const std::vector<int32_t> ids = Tokenize(*stub, "Once upon a time");
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 403, 407, 261, 378}));
  // sentencepiece's normaliser (this model collapses runs of spaces).
  EXPECT_EQ(Tokenize(*stub, "  Once   upon a time  "), ids);
  const StreamResult stream = RunGenerate(*stub, GreedyRequest(ids, 20));
  ASSERT_TRUE(stream.status.ok()) << stream.status.error_message();
  const nlohmann::json offline = RunOfflineGenerate(
      SharedPath(kModel),
      {"--prompt", "Once upon a time", "--max-tokens", "20", "--temperature", "0"});
  ASSERT_TRUE(offline.is_object());
  EXPECT_EQ(stream.ids, offline.at("output_ids").get<std::vector<int32_t>>());
  EXPECT_EQ(server->Stop(std::chrono::seconds(20)), 0);
}

}  // namespace
}  // namespace inferd::testing
