// tests/integration/watchdog_test.cc — the engine watchdog (README "Health
// and lifecycle"): with requests pending and no engine step completing for
// --watchdog-timeout, readiness (and inferd:engine_healthy) fails while
// liveness stays SERVING; when steps complete again, readiness comes back.
// An idle engine is never stalled. The stall is simulated with the debug
// flag --debug-stall-file (the step loop sleeps while the file exists).
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/inferd_server.h"
#include "tests/integration/lifecycle_util.h"
#include "tests/integration/test_client.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

int CountOccurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(WatchdogTest, StalledEngineFailsReadinessNotLivenessAndRecovers) {
  INFERD_REQUIRE_SHARED(kModel);
  const std::filesystem::path stall =
      std::filesystem::path(::testing::TempDir()) / "watchdog_test_stall";
  std::filesystem::remove(stall);
  InferdServerOptions options;
  options.stderr_path = ::testing::TempDir() + "/watchdog_test_stderr.log";
  std::string error;
  auto server = InferdServer::Start(
      SharedPath(kModel), {"--watchdog-timeout", "1", "--debug-stall-file", stall.string()}, &error,
      options);
  ASSERT_NE(server, nullptr) << error;
  const auto channel = server->channel();

  // Idle with the stall file present: nothing is pending, so nothing stalls.
  { std::ofstream(stall.string()) << "stall"; }
  for (int i = 0; i < 8; ++i) {  // 1.6 s, past the 1 s timeout
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_EQ(CheckHealth(channel, ""), kServing) << "after " << (i + 1) * 200 << " ms idle";
  }
  EXPECT_EQ(ScrapeEngineHealthy(server->metrics_port()), 1.0);

  // A request that cannot make progress: readiness fails within ~timeout.
  auto stub = server->NewStub();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::GenerateRequest request = GreedyRequest({1, 403}, 20);
  request.set_ignore_eos(true);
  auto reader = stub->Generate(&context, request);
  EXPECT_TRUE(WaitForHealth(channel, "", kNotServing, std::chrono::seconds(3)));
  EXPECT_EQ(CheckHealth(channel, "inferd.v1.Inference"), kNotServing);
  EXPECT_EQ(CheckHealth(channel, "liveness"), kServing);
  EXPECT_EQ(ScrapeEngineHealthy(server->metrics_port()), 0.0);

  // Steps resume: the request completes and readiness comes back.
  std::filesystem::remove(stall);
  int tokens = 0;
  v1::FinishReason reason = v1::FINISH_REASON_UNSPECIFIED;
  for (v1::GenerateResponse chunk; reader->Read(&chunk);) {
    tokens += chunk.token_ids_size();
    if (chunk.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) reason = chunk.finish_reason();
  }
  const grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(tokens, 20);
  EXPECT_EQ(reason, v1::FINISH_REASON_LENGTH);
  EXPECT_TRUE(WaitForHealth(channel, "", kServing, std::chrono::seconds(3)));
  EXPECT_EQ(ScrapeEngineHealthy(server->metrics_port()), 1.0);
  EXPECT_EQ(server->Stop(), 0);

  // Each flip is logged once.
  const std::string log = ReadWholeFile(options.stderr_path);
  EXPECT_EQ(CountOccurrences(log, "engine watchdog: requests pending"), 1) << log;
  EXPECT_EQ(CountOccurrences(log, "engine watchdog: engine steps complete again"), 1) << log;
}

TEST(WatchdogTest, BusyServerStaysReady) {
  // Steps complete all the time under load: readiness never fails, however
  // long the streams and the queue.
  INFERD_REQUIRE_SHARED(kModel);
  std::string error;
  auto server = InferdServer::Start(SharedPath(kModel),
                                    {"--watchdog-timeout", "0.2", "--max-num-seqs", "2"}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto stub = server->NewStub();
  std::vector<std::thread> clients;
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&stub] {
      v1::GenerateRequest request = GreedyRequest({1, 403}, 400);
      request.set_ignore_eos(true);
      EXPECT_TRUE(RunGenerate(*stub, request).status.ok());
    });
  }
  bool always_serving = true;
  for (int i = 0; i < 20; ++i) {
    always_serving &= CheckHealth(server->channel(), "") == kServing;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  for (std::thread& client : clients) client.join();
  EXPECT_TRUE(always_serving);
  EXPECT_EQ(server->Stop(), 0);
}

}  // namespace
}  // namespace inferd::testing
