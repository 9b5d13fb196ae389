// tests/integration/drain_test.cc — SIGTERM drains (README "Health and
// lifecycle"): readiness goes NOT_SERVING and new calls get UNAVAILABLE at
// once while liveness stays SERVING; streams in flight finish within
// --drain-timeout and the process exits 0; past the timeout they end with a
// final ABORT chunk and UNAVAILABLE; a second signal exits at once with 128 +
// the signal number.
//
// tiny-llama (context 4096): streams of 1000+ tokens run for a second or more
// on two cores, far longer than the signal takes; the drain's log line checks
// that every stream was still in flight when it began.
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/inferd_server.h"
#include "tests/integration/lifecycle_util.h"
#include "tests/integration/test_client.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr char kLongModel[] = "models/tiny-llama";

v1::GenerateRequest LongRequest(int32_t max_tokens) {
  v1::GenerateRequest request = GreedyRequest({1, 450}, max_tokens);
  request.set_ignore_eos(true);
  return request;
}

// A Generate stream opened and read chunk by chunk.
struct OpenStream {
  OpenStream(v1::Inference::Stub& stub, const v1::GenerateRequest& request) {
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(180));
    reader = stub.Generate(&context, request);
  }
  // The next chunk, accumulated; false at the end of the stream.
  bool ReadChunk() {
    if (!reader->Read(&last)) return false;
    ids.insert(ids.end(), last.token_ids().begin(), last.token_ids().end());
    return true;
  }
  // Reads to the end; the status.
  grpc::Status Finish() {
    v1::GenerateResponse final_chunk;
    while (ReadChunk()) final_chunk = last;
    last = final_chunk;
    return reader->Finish();
  }

  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader;
  v1::GenerateResponse last;  // after Finish: the final chunk
  std::vector<int32_t> ids;
};

std::unique_ptr<InferdServer> StartLong(const std::vector<std::string>& args) {
  std::string error;
  std::unique_ptr<InferdServer> server = InferdServer::Start(SharedPath(kLongModel), args, &error);
  EXPECT_NE(server, nullptr) << error;
  return server;
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST(DrainTest, StreamsInFlightFinishWhileNewCallsAreRefused) {
  INFERD_REQUIRE_SHARED(kLongModel);
  const std::string log_path = ::testing::TempDir() + "/drain_test_stderr.log";
  InferdServerOptions options;
  options.stderr_path = log_path;
  std::string error;
  // A drain that ends early costs nothing, so the timeout is generous: CI's
  // ASan run on two shared cores made 4 x 993 tokens in 30 s. A sanitizer
  // build decodes slower, so fewer tokens still outlast the signal.
  const int drain_s = 20 * SanitizerTimeScale();
  auto server = InferdServer::Start(SharedPath(kLongModel),
                                    {"--drain-timeout", std::to_string(drain_s)}, &error, options);
  ASSERT_NE(server, nullptr) << error;
  auto stub = server->NewStub();
  constexpr int kStreams = 4;
  const int32_t tokens = 1000 / SanitizerTimeScale();
  std::vector<std::unique_ptr<OpenStream>> streams;
  for (int i = 0; i < kStreams; ++i) {
    streams.push_back(std::make_unique<OpenStream>(*stub, LongRequest(tokens)));
  }
  for (auto& stream : streams) ASSERT_TRUE(stream->ReadChunk());

  const Clock::time_point signalled = Clock::now();
  server->Signal(SIGTERM);
  // Readiness fails at once; liveness does not; metrics still answer.
  EXPECT_TRUE(WaitForHealth(server->channel(), "", kNotServing, std::chrono::seconds(3)));
  EXPECT_EQ(CheckHealth(server->channel(), "inferd.v1.Inference"), kNotServing);
  EXPECT_EQ(CheckHealth(server->channel(), "liveness"), kServing);
  EXPECT_EQ(ScrapeEngineHealthy(server->metrics_port()), 0.0);
  const StreamResult refused = RunGenerate(*stub, GreedyRequest({1, 450}, 5));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << refused.status.error_message();
  // Only Generate is refused: the other calls answer until the server closes
  // (README "Health and lifecycle", Drain).
  EXPECT_FALSE(Tokenize(*stub, "Once upon a time").empty());
  // The refused call counts as open until gRPC is done with it (a moment
  // after the client sees its status: proto num_open_streams), so wait for
  // that; the streams in flight stay counted.
  int64_t open_streams = GetModelInfo(*stub).num_open_streams();
  for (const Clock::time_point until = Clock::now() + std::chrono::seconds(3);
       open_streams != kStreams && Clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    open_streams = GetModelInfo(*stub).num_open_streams();
  }
  EXPECT_EQ(open_streams, kStreams);
  {
    grpc::ClientContext context;
    v1::DetokenizeRequest request;
    request.add_token_ids(450);
    v1::DetokenizeResponse response;
    EXPECT_TRUE(stub->Detokenize(&context, request, &response).ok());
  }

  for (int i = 0; i < kStreams; ++i) {
    const grpc::Status status = streams[i]->Finish();
    EXPECT_TRUE(status.ok()) << i << ": " << status.error_message();
    EXPECT_EQ(streams[i]->last.finish_reason(), v1::FINISH_REASON_LENGTH) << i;
    EXPECT_EQ(streams[i]->ids.size(), static_cast<size_t>(tokens)) << i;
  }
  EXPECT_EQ(server->Wait(std::chrono::seconds(drain_s)), 0);
  EXPECT_LT(SecondsSince(signalled), drain_s);
  // The drain began with every stream still running, and none was aborted.
  const std::string log = ReadWholeFile(log_path);
  EXPECT_NE(log.find("SIGTERM received: draining signal=SIGTERM streams=4"), std::string::npos)
      << log;
  EXPECT_NE(log.find("drain complete: every stream finished"), std::string::npos) << log;
}

TEST(DrainTest, StreamsPastTheDrainTimeoutEndWithAnAbortChunkAndUnavailable) {
  INFERD_REQUIRE_SHARED(kLongModel);
  auto server = StartLong({"--drain-timeout", "1"});
  ASSERT_NE(server, nullptr);
  auto stub = server->NewStub();
  OpenStream stream(*stub, LongRequest(4000));
  ASSERT_TRUE(stream.ReadChunk());
  const Clock::time_point signalled = Clock::now();
  server->Signal(SIGTERM);
  const grpc::Status status = stream.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_NE(status.error_message().find("drain"), std::string::npos) << status.error_message();
  EXPECT_EQ(stream.last.finish_reason(), v1::FINISH_REASON_ABORT);
  EXPECT_EQ(stream.last.usage().completion_tokens(), static_cast<int32_t>(stream.ids.size()));
  EXPECT_LT(stream.ids.size(), 4000u);
  EXPECT_GE(SecondsSince(signalled), 0.9);
  EXPECT_EQ(server->Wait(std::chrono::seconds(10)), 0);
  EXPECT_LT(SecondsSince(signalled), 4.0) << "1 s of drain, then the abort, then exit";
}

TEST(DrainTest, SecondSignalDuringTheDrainExitsAtOnceWith128PlusTheSignal) {
  INFERD_REQUIRE_SHARED(kLongModel);
  auto server = StartLong({"--drain-timeout", "60"});
  ASSERT_NE(server, nullptr);
  auto stub = server->NewStub();
  OpenStream stream(*stub, LongRequest(4000));
  ASSERT_TRUE(stream.ReadChunk());
  server->Signal(SIGTERM);
  ASSERT_TRUE(WaitForHealth(server->channel(), "", kNotServing, std::chrono::seconds(3)));
  const Clock::time_point again = Clock::now();
  server->Signal(SIGTERM);
  EXPECT_EQ(server->Wait(std::chrono::seconds(5)), 128 + SIGTERM);
  EXPECT_LT(SecondsSince(again), 1.0);
  stream.context.TryCancel();
  stream.Finish();
}

}  // namespace
}  // namespace inferd::testing
