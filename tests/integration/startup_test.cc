// tests/integration/startup_test.cc — the daemon serves before the model is
// loaded (README "Health and lifecycle"): once the port is bound ("inferd:
// listening on ..."), readiness is NOT_SERVING, liveness SERVING,
// inferd:engine_healthy 0 and Inference calls UNAVAILABLE, until the model
// is loaded ("inferd: serving ..."). Loading stories260K takes milliseconds,
// so the debug flag --debug-load-delay holds the load back.
#include <signal.h>

#include <chrono>
#include <string>

#include "gtest/gtest.h"
#include "tests/integration/inferd_server.h"
#include "tests/integration/lifecycle_util.h"
#include "tests/integration/test_client.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

TEST(StartupTest, NotReadyButAliveWhileTheModelLoads) {
  INFERD_REQUIRE_SHARED(kModel);
  InferdServerOptions options;
  options.return_when_listening = true;
  std::string error;
  auto server =
      InferdServer::Start(SharedPath(kModel), {"--debug-load-delay", "3"}, &error, options);
  ASSERT_NE(server, nullptr) << error;
  const auto started = std::chrono::steady_clock::now();
  const auto channel = server->channel();
  EXPECT_EQ(CheckHealth(channel, ""), kNotServing);
  EXPECT_EQ(CheckHealth(channel, "inferd.v1.Inference"), kNotServing);
  EXPECT_EQ(CheckHealth(channel, "liveness"), kServing);
  EXPECT_EQ(ScrapeEngineHealthy(server->metrics_port()), 0.0);
  auto stub = server->NewStub();
  const StreamResult early = RunGenerate(*stub, GreedyRequest({1, 403}, 5));
  EXPECT_EQ(early.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(early.status.error_message().find("loading"), std::string::npos)
      << early.status.error_message();
  {
    grpc::ClientContext context;
    v1::GetModelInfoResponse info;
    EXPECT_EQ(stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
  ASSERT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3))
      << "the checks above ran after the load delay";

  ASSERT_TRUE(server->WaitUntilServing(std::chrono::seconds(30), &error)) << error;
  EXPECT_EQ(CheckHealth(channel, ""), kServing);
  EXPECT_EQ(CheckHealth(channel, "liveness"), kServing);
  EXPECT_EQ(ScrapeEngineHealthy(server->metrics_port()), 1.0);
  EXPECT_TRUE(RunGenerate(*stub, GreedyRequest({1, 403}, 5)).status.ok());
  EXPECT_EQ(server->Stop(), 0);
}

TEST(StartupTest, SigtermWhileLoadingExitsZeroAtOnce) {
  INFERD_REQUIRE_SHARED(kModel);
  InferdServerOptions options;
  options.return_when_listening = true;
  std::string error;
  auto server =
      InferdServer::Start(SharedPath(kModel), {"--debug-load-delay", "60"}, &error, options);
  ASSERT_NE(server, nullptr) << error;
  const auto signalled = std::chrono::steady_clock::now();
  server->Signal(SIGTERM);
  EXPECT_EQ(server->Wait(std::chrono::seconds(10)), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, std::chrono::seconds(2));
}

}  // namespace
}  // namespace inferd::testing
