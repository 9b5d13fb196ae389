// tests/integration/health_test.cc — grpc.health.v1.Health: readiness ("" and
// "inferd.v1.Inference"), liveness ("liveness"), NOT_FOUND for anything
// else; SIGTERM shuts the server down cleanly (exit 0). Loading, draining and
// the watchdog: startup_test.cc, drain_test.cc, watchdog_test.cc.
#include <chrono>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/server_fixture.h"

namespace inferd::testing {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

class HealthTest : public ServerTest {
 protected:
  grpc::Status Check(const std::string& service, HealthCheckResponse* response) {
    auto stub = grpc::health::v1::Health::NewStub(server_->channel());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    HealthCheckRequest request;
    request.set_service(service);
    return stub->Check(&context, request, response);
  }
};

TEST_F(HealthTest, ReadinessIsServing) {
  HealthCheckResponse response;
  ASSERT_TRUE(Check("", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
}

TEST_F(HealthTest, InferenceServiceIsServing) {
  HealthCheckResponse response;
  ASSERT_TRUE(Check("inferd.v1.Inference", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
}

TEST_F(HealthTest, LivenessIsServing) {
  HealthCheckResponse response;
  ASSERT_TRUE(Check("liveness", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
}

TEST_F(HealthTest, UnknownServiceIsNotFound) {
  HealthCheckResponse response;
  EXPECT_EQ(Check("no.such.Service", &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(ServerShutdownTest, SigtermExitsZero) {
  INFERD_REQUIRE_SHARED(kModel);
  std::string error;
  std::unique_ptr<InferdServer> server = InferdServer::Start(SharedPath(kModel), {}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto stub = server->NewStub();
  const StreamResult warmup = RunGenerate(*stub, GreedyRequest({1}, 5));
  ASSERT_TRUE(warmup.status.ok()) << warmup.status.error_message();
  EXPECT_EQ(server->Stop(std::chrono::seconds(20)), 0);
}

TEST(ServerShutdownTest, SigtermWithAStreamInFlightExitsZero) {
  // tiny-llama: a 4000-token stream outlasts a 1 s drain, and the client
  // reads nothing while it waits for the exit, so the server has to abort the
  // stream and then cancel its call (drain_test.cc covers the drain itself).
  constexpr char kLongModel[] = "models/tiny-llama";
  INFERD_REQUIRE_SHARED(kLongModel);
  std::string error;
  std::unique_ptr<InferdServer> server =
      InferdServer::Start(SharedPath(kLongModel), {"--drain-timeout", "1"}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto stub = server->NewStub();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::GenerateRequest request = GreedyRequest({1, 450}, 4000);
  request.set_ignore_eos(true);
  auto reader = stub->Generate(&context, request);
  v1::GenerateResponse chunk;
  ASSERT_TRUE(reader->Read(&chunk));
  EXPECT_EQ(server->Stop(std::chrono::seconds(30)), 0);
  while (reader->Read(&chunk)) {
  }
  const grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok() || status.error_code() == grpc::StatusCode::CANCELLED ||
              status.error_code() == grpc::StatusCode::UNAVAILABLE)
      << status.error_code() << ": " << status.error_message();
}

}  // namespace
}  // namespace inferd::testing
