// tests/integration/lifecycle_util.h — what the lifecycle tests (loading,
// drain, watchdog, logs) observe from outside the daemon: gRPC health by
// service name, inferd:engine_healthy on /metrics, and files.
#ifndef INFERD_TESTS_INTEGRATION_LIFECYCLE_UTIL_H_
#define INFERD_TESTS_INTEGRATION_LIFECYCLE_UTIL_H_

#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/exposition.h"
#include "tests/integration/http_get.h"

namespace inferd::testing {

using HealthStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;
inline constexpr HealthStatus kServing = grpc::health::v1::HealthCheckResponse::SERVING;
inline constexpr HealthStatus kNotServing = grpc::health::v1::HealthCheckResponse::NOT_SERVING;

// grpc.health.v1 Check of `service` ("" and "inferd.v1.Inference":
// readiness; "liveness"); nullopt when the call failed.
inline std::optional<HealthStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                               const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  if (!stub->Check(&context, request, &response).ok()) return std::nullopt;
  return response.status();
}

// Polls until `service` reports `status`; false after `timeout`.
inline bool WaitForHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                          HealthStatus status, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (CheckHealth(channel, service) == status) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// inferd:engine_healthy from http://127.0.0.1:<metrics_port>/metrics;
// nullopt when the scrape fails or has no such sample.
inline std::optional<double> ScrapeEngineHealthy(int metrics_port) {
  std::string error;
  std::optional<HttpResponse> response = HttpGet(metrics_port, "/metrics", &error);
  if (!response.has_value() || response->status != 200) return std::nullopt;
  std::optional<Exposition> parsed = ParseExposition(response->body, &error);
  if (!parsed.has_value() || parsed->Find("inferd:engine_healthy").empty()) return std::nullopt;
  return parsed->Sum("inferd:engine_healthy");
}

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace inferd::testing

#endif  // INFERD_TESTS_INTEGRATION_LIFECYCLE_UTIL_H_
