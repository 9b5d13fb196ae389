// tests/integration/tokenizer_and_info_test.cc — Tokenize / Detokenize /
// GetModelInfo round trips over gRPC, the empty-text prompt, and
// RESOURCE_EXHAUSTED when the waiting queue is full.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/server_fixture.h"

namespace inferd::testing {
namespace {

using TokenizerAndInfoTest = ServerTest;

v1::DetokenizeResponse Detokenize(v1::Inference::Stub& stub, const std::vector<int32_t>& ids,
                                  grpc::Status* status) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::DetokenizeRequest request;
  request.mutable_token_ids()->Add(ids.begin(), ids.end());
  v1::DetokenizeResponse response;
  *status = stub.Detokenize(&context, request, &response);
  return response;
}

TEST_F(TokenizerAndInfoTest, TokenizeDetokenizeRoundTrip) {
  const std::string text = "Once upon a time, there was a little girl named Lily.";
  const std::vector<int32_t> ids = Tokenize(*stub_, text);
  ASSERT_GT(ids.size(), 3u);
  EXPECT_EQ(ids[0], 1);  // BOS, as tokenizer_config.json says
  grpc::Status status;
  const v1::DetokenizeResponse response = Detokenize(*stub_, ids, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.text(), text);
}

TEST_F(TokenizerAndInfoTest, TokenizeReturnsPiecesAndHonoursAddSpecialTokens) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::TokenizeRequest request;
  request.set_text("Hello world");
  request.set_add_special_tokens(false);
  v1::TokenizeResponse response;
  ASSERT_TRUE(stub_->Tokenize(&context, request, &response).ok());
  ASSERT_GT(response.token_ids_size(), 0);
  EXPECT_NE(response.token_ids(0), 1);
  EXPECT_EQ(response.pieces_size(), response.token_ids_size());
  const std::vector<int32_t> with_bos = Tokenize(*stub_, "Hello world");
  ASSERT_EQ(with_bos.size(), static_cast<size_t>(response.token_ids_size()) + 1);
  EXPECT_TRUE(std::equal(with_bos.begin() + 1, with_bos.end(), response.token_ids().begin()));
}

TEST_F(TokenizerAndInfoTest, DetokenizeRejectsIdsOutsideTheVocabulary) {
  grpc::Status status;
  Detokenize(*stub_, {1, 512}, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("token_ids"), std::string::npos);
}

TEST_F(TokenizerAndInfoTest, ModelInfoDescribesStories260K) {
  const v1::GetModelInfoResponse info = GetModelInfo(*stub_);
  EXPECT_EQ(info.model_name(), "stories260K");
  EXPECT_EQ(info.architecture(), "LlamaForCausalLM");
  EXPECT_EQ(info.vocab_size(), 512);
  EXPECT_EQ(info.max_context(), 512);
  EXPECT_EQ(info.bos_id(), 1);
  EXPECT_TRUE(info.adds_bos());
  EXPECT_NE(std::find(info.eos_ids().begin(), info.eos_ids().end(), 2), info.eos_ids().end());
  EXPECT_EQ(info.block_size(), 16);
  EXPECT_GT(info.num_kv_blocks(), 0);
  EXPECT_EQ(info.engine().num_kv_blocks_total(), info.num_kv_blocks());
  EXPECT_TRUE(WaitUntilIdle(*stub_));
}

TEST_F(TokenizerAndInfoTest, EmptyTextPromptIsBos) {
  v1::GenerateRequest request;
  request.set_text("");
  request.set_max_tokens(10);
  request.set_temperature(0.0f);
  const StreamResult result = RunGenerate(*stub_, request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.usage.prompt_tokens(), 1);
  const StreamResult by_ids = RunGenerate(*stub_, GreedyRequest({1}, 10));
  EXPECT_EQ(result.ids, by_ids.ids);
}

TEST_F(TokenizerAndInfoTest, ServerAssignsDistinctRequestIds) {
  const StreamResult a = RunGenerate(*stub_, GreedyRequest({1}, 2));
  const StreamResult b = RunGenerate(*stub_, GreedyRequest({1}, 2));
  ASSERT_TRUE(a.status.ok() && b.status.ok());
  EXPECT_FALSE(a.request_id.empty());
  EXPECT_NE(a.request_id, b.request_id);
}

TEST(QueueFullTest, FloodGetsResourceExhaustedAndTheServerRecovers) {
  INFERD_REQUIRE_SHARED(kModel);
  std::string error;
  std::unique_ptr<InferdServer> server = InferdServer::Start(
      SharedPath(kModel), {"--max-queue-len", "1", "--max-num-seqs", "1"}, &error);
  ASSERT_NE(server, nullptr) << error;
  constexpr int kFlood = 32;
  std::atomic<int> ok{0};
  std::atomic<int> exhausted{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kFlood; ++i) {
    threads.emplace_back([&, i] {
      auto stub = server->NewStub();
      v1::GenerateRequest request = GreedyRequest({1, 100 + i}, 400);
      request.set_ignore_eos(true);
      const StreamResult result = RunGenerate(*stub, request, std::chrono::seconds(120));
      if (result.status.ok()) {
        ++ok;
      } else if (result.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++exhausted;
      } else {
        ++other;
        ADD_FAILURE() << "unexpected status " << result.status.error_code() << ": "
                      << result.status.error_message();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_GE(ok.load(), 1);
  EXPECT_GE(exhausted.load(), 1);
  EXPECT_EQ(other.load(), 0);
  auto stub = server->NewStub();
  EXPECT_TRUE(WaitUntilIdle(*stub));
  const StreamResult after = RunGenerate(*stub, GreedyRequest({1}, 5));
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(server->Stop(), 0);
}

}  // namespace
}  // namespace inferd::testing

namespace inferd::testing {
namespace {

// `--expert-load-stats` on a MoE model: GetModelInfo reports, per MoE layer,
// k token slots per computed token (tiny Mixtral: 4 layers, top-2 of 8).
TEST(ExpertLoadStatsTest, GetModelInfoReportsPerLayerExpertLoad) {
  INFERD_REQUIRE_SHARED("models/tiny-mixtral");
  std::string error;
  std::unique_ptr<InferdServer> server =
      InferdServer::Start(SharedPath("models/tiny-mixtral"), {"--expert-load-stats"}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto stub = server->NewStub();
  EXPECT_EQ(GetModelInfo(*stub).engine().expert_load_size(), 4);
  v1::GenerateRequest request = GreedyRequest({1, 9038, 2501, 263, 931}, 10);
  request.set_ignore_eos(true);
  ASSERT_TRUE(RunGenerate(*stub, request).status.ok());
  const v1::EngineState engine = GetModelInfo(*stub).engine();
  ASSERT_EQ(engine.expert_load_size(), 4);
  for (const v1::LayerExpertLoad& layer : engine.expert_load()) {
    ASSERT_EQ(layer.tokens_per_expert_size(), 8);
    int64_t total = 0;
    for (int64_t n : layer.tokens_per_expert()) total += n;
    EXPECT_EQ(total, (5 + 9) * 2) << "layer " << layer.layer();  // prompt + 9 fed-back tokens
  }
  EXPECT_EQ(server->Stop(), 0);
}

}  // namespace
}  // namespace inferd::testing
