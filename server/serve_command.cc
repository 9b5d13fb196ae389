// server/serve_command.cc
#include "server/serve_command.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/engine.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/engine_config_flags.h"
#include "server/flags.h"
#include "server/health_reporter.h"
#include "server/inference_service.h"
#include "server/metrics/metrics_server.h"
#include "server/metrics/prometheus_metrics.h"
#include "server/shutdown_signal.h"

namespace inferd::server {

namespace {

// How long streams in flight get after SIGINT/SIGTERM before they are
// cancelled.
constexpr absl::Duration kShutdownGrace = absl::Seconds(5);

// "HOST:PORT", with brackets around an IPv6 host.
std::string HostPort(const std::string& host, int port) {
  if (absl::StrContains(host, ':') && !absl::StartsWith(host, "[")) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

}  // namespace

int RunServe(const cli::ParsedArgs& args) {
  const std::string host = absl::GetFlag(FLAGS_host);
  const int32_t port = absl::GetFlag(FLAGS_port);
  if (port < 0 || port > 65535) {
    absl::FPrintF(stderr, "inferd serve: --port must be in [0, 65535], got %d\n", port);
    return 2;
  }
  const int32_t metrics_port = absl::GetFlag(FLAGS_metrics_port);
  if (metrics_port < -1 || metrics_port > 65535) {
    absl::FPrintF(stderr,
                  "inferd serve: --metrics-port must be in [0, 65535], or -1 for none, got %d\n",
                  metrics_port);
    return 2;
  }
  if (host.empty()) {
    absl::FPrintF(stderr, "inferd serve: --host must not be empty\n");
    return 2;
  }
  absl::StatusOr<engine::EngineConfig> config = EngineConfigFromFlags();
  if (!config.ok()) {
    absl::FPrintF(stderr, "inferd serve: %s\n", config.status().message());
    return 2;
  }
  // Recorded whether or not an endpoint serves them.
  auto metrics = std::make_shared<PrometheusMetrics>();
  config->observer = metrics;

  // Before any thread exists: every thread inherits the blocked mask.
  BlockShutdownSignals();
  absl::StatusOr<std::unique_ptr<engine::Engine>> engine = engine::Engine::Create(*config);
  if (!engine.ok()) {
    absl::FPrintF(stderr, "inferd serve: cannot load model %s: %s\n", config->model_dir,
                  engine.status().ToString());
    return 1;
  }

  std::unique_ptr<MetricsServer> metrics_server;
  if (metrics_port >= 0) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(host, metrics_port, metrics->registry());
    if (!started.ok()) {
      absl::FPrintF(stderr, "inferd serve: %s\n", started.status().message());
      return 1;
    }
    metrics_server = *std::move(started);
  }

  InferenceService service(engine->get(), metrics.get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(HostPort(host, port), grpc::InsecureServerCredentials(), &bound_port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    absl::FPrintF(stderr, "inferd serve: cannot listen on %s\n", HostPort(host, port));
    return 1;
  }
  HealthReporter health(server->GetHealthCheckService());
  health.SetReady(true);
  metrics->SetHealthy(true);
  if (metrics_server != nullptr) {
    absl::PrintF("inferd: metrics on %s\n", metrics_server->address());
  }
  absl::PrintF("inferd: serving %s on %s\n", config->model_dir, HostPort(host, bound_port));
  std::fflush(stdout);

  const int signal = WaitForShutdownSignal();
  absl::FPrintF(stderr, "inferd: %s received, shutting down\n",
                signal == SIGINT ? "SIGINT" : "SIGTERM");
  health.SetReady(false);
  metrics->SetHealthy(false);
  service.StopAdmitting();
  if (!service.WaitForStreams(absl::Now() + kShutdownGrace)) {
    absl::FPrintF(stderr, "inferd: streams still running after %s; cancelling them\n",
                  absl::FormatDuration(kShutdownGrace));
  }
  // Nothing left to wait for: cancel what remains and close the connections
  // now (a deadline would also wait for idle clients to hang up).
  server->Shutdown(std::chrono::system_clock::now());
  server->Wait();
  server.reset();
  engine->reset();  // aborts what is left; stops the engine thread
  // The metrics endpoint is left to the process exit: civetweb's listener
  // polls in 2 s quanta, so stopping it would only hold the exit up to 2 s.
  // Kept reachable (no leak report); the OS closes its socket.
  static MetricsServer* const kept_until_exit = metrics_server.release();
  (void)kept_until_exit;
  absl::FPrintF(stderr, "inferd: stopped\n");
  return 0;
}

}  // namespace inferd::server
