// tests/integration/scheduling_test.cc — scheduler features seen from a real
// client: per-request deadlines (timeout_ms) for waiting and streaming
// requests, prefix caching reported in usage and GetModelInfo, and the
// scheduler flags (--no-prefix-caching, --no-chunked-prefill,
// --max-num-partial-prefills) with their validation.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/server_fixture.h"

namespace inferd::testing {
namespace {

constexpr char kLongModel[] = "models/tiny-llama";  // context 4096: long requests

std::unique_ptr<InferdServer> StartOrFail(const std::string& model,
                                          const std::vector<std::string>& args) {
  std::string error;
  std::unique_ptr<InferdServer> server = InferdServer::Start(SharedPath(model), args, &error);
  EXPECT_NE(server, nullptr) << error;
  return server;
}

v1::GenerateRequest LongRequest() {
  v1::GenerateRequest request = GreedyRequest({1, 450, 1000}, 4000);
  request.set_ignore_eos(true);
  return request;
}

TEST(SchedulingTest, TimeoutMidStreamEndsWithDeadlineExceededAndFreesBlocks) {
  INFERD_REQUIRE_SHARED(kLongModel);
  auto server = StartOrFail(kLongModel, {});
  ASSERT_NE(server, nullptr);
  auto stub = server->NewStub();
  v1::GenerateRequest request = LongRequest();
  request.set_timeout_ms(400);
  const StreamResult r = RunGenerate(*stub, request);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << r.status.error_message();
  EXPECT_GT(r.ids.size(), 0u) << "the request should have streamed before its deadline";
  EXPECT_LT(r.ids.size(), 4000u);
  EXPECT_TRUE(WaitUntilIdle(*stub));
}

TEST(SchedulingTest, WaitingRequestPastItsDeadlineNeverRuns) {
  INFERD_REQUIRE_SHARED(kLongModel);
  // One sequence at a time: the second request waits behind the first.
  auto server = StartOrFail(kLongModel, {"--max-num-seqs", "1"});
  ASSERT_NE(server, nullptr);
  auto stub = server->NewStub();
  grpc::ClientContext first_context;
  auto first = stub->Generate(&first_context, LongRequest());
  v1::GenerateResponse chunk;
  ASSERT_TRUE(first->Read(&chunk));  // it runs

  v1::GenerateRequest waiting = GreedyRequest({1, 450}, 20);
  waiting.set_timeout_ms(300);
  const StreamResult r = RunGenerate(*stub, waiting);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << r.status.error_message();
  EXPECT_TRUE(r.ids.empty()) << "a request that never ran streamed tokens";
  EXPECT_EQ(GetModelInfo(*stub).engine().num_waiting(), 0);

  first_context.TryCancel();
  while (first->Read(&chunk)) {
  }
  first->Finish();
  EXPECT_TRUE(WaitUntilIdle(*stub));
}

// 40 prompt tokens: two full 16-token blocks are reusable by a repeat.
std::vector<int32_t> FortyTokens() {
  std::vector<int32_t> prompt = {1};
  for (int i = 1; i < 40; ++i) prompt.push_back(260 + (i * 11) % 240);
  return prompt;
}

TEST(SchedulingTest, RepeatedPrefixIsServedFromTheCacheAndReported) {
  INFERD_REQUIRE_SHARED(kModel);
  auto server = StartOrFail(kModel, {});
  ASSERT_NE(server, nullptr);
  auto stub = server->NewStub();
  EXPECT_TRUE(GetModelInfo(*stub).prefix_caching());
  const StreamResult first = RunGenerate(*stub, GreedyRequest(FortyTokens(), 8));
  const StreamResult second = RunGenerate(*stub, GreedyRequest(FortyTokens(), 8));
  ASSERT_TRUE(first.status.ok() && second.status.ok()) << second.status.error_message();
  EXPECT_EQ(first.usage.cached_tokens(), 0);
  EXPECT_EQ(second.usage.cached_tokens(), 32);
  EXPECT_EQ(second.ids, first.ids);
  ASSERT_TRUE(WaitUntilIdle(*stub));
  const v1::EngineState engine = GetModelInfo(*stub).engine();
  EXPECT_EQ(engine.prefix_cache_queries(), 80);
  EXPECT_EQ(engine.prefix_cache_hits(), 32);
  EXPECT_GE(engine.cached_free_blocks(), 2);  // cached, yet counted free
  EXPECT_EQ(engine.num_kv_blocks_free(), engine.num_kv_blocks_total());
}

TEST(SchedulingTest, NoPrefixCachingFlagTurnsItOff) {
  INFERD_REQUIRE_SHARED(kModel);
  auto server = StartOrFail(
      kModel, {"--no-prefix-caching", "--no-chunked-prefill", "--max-num-partial-prefills", "3"});
  ASSERT_NE(server, nullptr);
  auto stub = server->NewStub();
  const v1::GetModelInfoResponse info = GetModelInfo(*stub);
  EXPECT_FALSE(info.prefix_caching());
  EXPECT_FALSE(info.chunked_prefill());
  EXPECT_EQ(info.max_num_partial_prefills(), 3);
  RunGenerate(*stub, GreedyRequest(FortyTokens(), 8));
  const StreamResult second = RunGenerate(*stub, GreedyRequest(FortyTokens(), 8));
  EXPECT_EQ(second.usage.cached_tokens(), 0);
  EXPECT_EQ(GetModelInfo(*stub).engine().cached_free_blocks(), 0);
}

TEST(SchedulingTest, BadSchedulerFlagsAreRefusedAtStartup) {
  INFERD_REQUIRE_SHARED(kModel);
  std::string error;
  EXPECT_EQ(InferdServer::Start(SharedPath(kModel), {"--max-num-partial-prefills", "0"}, &error,
                                std::chrono::seconds(20)),
            nullptr);
  // Chunked prefill off needs a step budget covering the 512-token context.
  EXPECT_EQ(InferdServer::Start(SharedPath(kModel),
                                {"--no-chunked-prefill", "--max-num-batched-tokens", "100"}, &error,
                                std::chrono::seconds(20)),
            nullptr);
}

}  // namespace
}  // namespace inferd::testing
