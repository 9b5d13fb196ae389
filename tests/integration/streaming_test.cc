// tests/integration/streaming_test.cc — a Generate stream over gRPC carries
// exactly what the offline `inferd generate --json` produces, in more than one
// chunk.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/server_fixture.h"

namespace inferd::testing {
namespace {

using StreamingTest = ServerTest;

TEST_F(StreamingTest, GreedyStreamMatchesOfflineGenerate) {
  const std::vector<int32_t> prompt = Tokenize(*stub_, "Once upon a time, there was a little");
  ASSERT_GT(prompt.size(), 2u);
  const StreamResult stream = RunGenerate(*stub_, GreedyRequest(prompt, 200));
  ASSERT_TRUE(stream.status.ok()) << stream.status.error_message();
  EXPECT_GT(stream.num_chunks, 1);
  EXPECT_FALSE(stream.request_id.empty());
  EXPECT_FALSE(stream.ids.empty());
  EXPECT_EQ(stream.usage.prompt_tokens(), static_cast<int32_t>(prompt.size()));
  EXPECT_EQ(stream.usage.completion_tokens(), static_cast<int32_t>(stream.ids.size()));

  const nlohmann::json offline = RunOfflineGenerate(
      ModelDir(), {"--prompt-ids", JoinIds(prompt), "--temperature", "0", "--max-tokens", "200"});
  ASSERT_FALSE(offline.is_null());
  EXPECT_EQ(offline["prompt_ids"].get<std::vector<int32_t>>(), prompt);
  EXPECT_EQ(offline["output_ids"].get<std::vector<int32_t>>(), stream.ids);
  EXPECT_EQ(offline["text"].get<std::string>(), stream.text);
  EXPECT_EQ(offline["finish_reason"].get<std::string>(), FinishReasonName(stream.finish_reason));
}

TEST_F(StreamingTest, IgnoreEosRunsToMaxTokensInManyChunks) {
  const std::vector<int32_t> prompt = Tokenize(*stub_, "The cat");
  v1::GenerateRequest request = GreedyRequest(prompt, 300);
  request.set_ignore_eos(true);
  request.set_request_id("my-request-7");
  const StreamResult stream = RunGenerate(*stub_, request);
  ASSERT_TRUE(stream.status.ok()) << stream.status.error_message();
  EXPECT_EQ(stream.request_id, "my-request-7");
  EXPECT_EQ(stream.finish_reason, v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(stream.ids.size(), 300u);
  EXPECT_GT(stream.num_chunks, 1);

  const nlohmann::json offline =
      RunOfflineGenerate(ModelDir(), {"--prompt-ids", JoinIds(prompt), "--temperature", "0",
                                      "--max-tokens", "300", "--ignore-eos"});
  ASSERT_FALSE(offline.is_null());
  EXPECT_EQ(offline["output_ids"].get<std::vector<int32_t>>(), stream.ids);
  EXPECT_EQ(offline["text"].get<std::string>(), stream.text);
  EXPECT_EQ(offline["finish_reason"].get<std::string>(), "length");
}

TEST_F(StreamingTest, TextPromptEqualsItsTokenIds) {
  v1::GenerateRequest by_text;
  by_text.set_text("Lily went to the park");
  by_text.set_max_tokens(40);
  by_text.set_temperature(0.0f);
  const StreamResult a = RunGenerate(*stub_, by_text);
  const StreamResult b =
      RunGenerate(*stub_, GreedyRequest(Tokenize(*stub_, "Lily went to the park"), 40));
  ASSERT_TRUE(a.status.ok()) << a.status.error_message();
  ASSERT_TRUE(b.status.ok()) << b.status.error_message();
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.text, b.text);
}

TEST_F(StreamingTest, LogprobsComeWithEveryToken) {
  v1::GenerateRequest request = GreedyRequest(Tokenize(*stub_, "Tom had a"), 10);
  request.set_logprobs(3);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = stub_->Generate(&context, request);
  size_t tokens = 0;
  for (v1::GenerateResponse chunk; reader->Read(&chunk);) {
    ASSERT_EQ(chunk.logprobs_size(), chunk.token_ids_size());
    for (int i = 0; i < chunk.logprobs_size(); ++i) {
      const v1::TokenLogprob& lp = chunk.logprobs(i);
      EXPECT_EQ(lp.token_id(), chunk.token_ids(i));
      EXPECT_LE(lp.logprob(), 0.0f);
      ASSERT_EQ(lp.top_size(), 3);
      // Greedy: the chosen token is the most likely one.
      EXPECT_EQ(lp.top(0).token_id(), lp.token_id());
    }
    tokens += chunk.token_ids_size();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_GT(tokens, 0u);
}

}  // namespace
}  // namespace inferd::testing
