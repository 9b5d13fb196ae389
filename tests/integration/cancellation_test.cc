// tests/integration/cancellation_test.cc — a client that cancels mid-stream,
// runs out its deadline, or disappears, aborts its request: the engine ends
// up with nothing running and every KV block free, and the server keeps
// serving.
//
// These tests serve ../shared/models/tiny-llama (context 4096): a request of
// 4000 tokens runs for seconds, so a cancel lands mid-generation. That the
// request was aborted, not finished, is proven by the engine's step counter:
// finishing takes at least max_tokens steps (one token per step).
#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/server_fixture.h"

namespace inferd::testing {
namespace {

constexpr char kLongModel[] = "models/tiny-llama";
constexpr int32_t kLongMaxTokens = 4000;

class CancellationTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    if (server_ != nullptr) server_->Stop();
    server_.reset();
  }

  void SetUp() override {
    INFERD_REQUIRE_SHARED(kLongModel);
    if (server_ == nullptr) {
      std::string error;
      server_ = InferdServer::Start(SharedPath(kLongModel), {}, &error);
      ASSERT_NE(server_, nullptr) << error;
    }
    stub_ = server_->NewStub();
    steps_before_ = GetModelInfo(*stub_).engine().num_steps();
  }

  // A greedy request that runs for seconds unless aborted.
  static v1::GenerateRequest LongRequest() {
    v1::GenerateRequest request = GreedyRequest({1, 450, 1000}, kLongMaxTokens);
    request.set_ignore_eos(true);
    return request;
  }

  // The engine is idle with every block free, and ran fewer steps than
  // finishing one long request takes: the request was aborted.
  void ExpectAbortedAndIdle() {
    EXPECT_TRUE(WaitUntilIdle(*stub_, std::chrono::seconds(10)));
    const int64_t steps = GetModelInfo(*stub_).engine().num_steps() - steps_before_;
    EXPECT_LT(steps, kLongMaxTokens - 1) << "the request ran to the end instead of aborting";
  }

  void ExpectServerStillServes() {
    const StreamResult after = RunGenerate(*stub_, GreedyRequest({1, 450}, 5));
    EXPECT_TRUE(after.status.ok()) << after.status.error_message();
    EXPECT_EQ(after.ids.size(), 5u);
  }

  inline static std::unique_ptr<InferdServer> server_;
  std::unique_ptr<v1::Inference::Stub> stub_;
  int64_t steps_before_ = 0;
};

TEST_F(CancellationTest, TryCancelMidStreamAbortsTheRequest) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = stub_->Generate(&context, LongRequest());
  v1::GenerateResponse chunk;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(reader->Read(&chunk));
  context.TryCancel();
  while (reader->Read(&chunk)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ExpectAbortedAndIdle();
  ExpectServerStillServes();
}

TEST_F(CancellationTest, ManyCancelledStreamsLeaveNothingBehind) {
  for (int round = 0; round < 6; ++round) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto reader = stub_->Generate(&context, LongRequest());
    v1::GenerateResponse chunk;
    if (round % 2 == 0) reader->Read(&chunk);  // cancel after one chunk, or before any
    context.TryCancel();
    while (reader->Read(&chunk)) {
    }
    reader->Finish();
  }
  ExpectAbortedAndIdle();
  ExpectServerStillServes();
}

TEST_F(CancellationTest, DeadlineExceededAbortsTheRequest) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  auto reader = stub_->Generate(&context, LongRequest());
  v1::GenerateResponse chunk;
  while (reader->Read(&chunk)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ExpectAbortedAndIdle();
  ExpectServerStillServes();
}

TEST_F(CancellationTest, ClientProcessKilledMidStreamAbortsTheRequest) {
  // A real disconnect: an inferctl process reading the stream is SIGKILLed.
  std::string error;
  std::optional<ChildProcess> client = ChildProcess::Start(
      {InferctlPath(), "generate", "--addr", server_->address(), "--ignore-eos", "--max-tokens",
       std::to_string(kLongMaxTokens), "--temperature", "0", "Once upon a time"},
      &error);
  ASSERT_TRUE(client.has_value()) << error;
  const std::string first = client->ReadBytes(1, std::chrono::seconds(30));
  EXPECT_FALSE(first.empty()) << "inferctl printed nothing";
  client->Signal(SIGKILL);
  client->Wait(std::chrono::seconds(10));
  ExpectAbortedAndIdle();
  ExpectServerStillServes();
}

}  // namespace
}  // namespace inferd::testing
