// tests/integration/inferd_server.cc
#include "tests/integration/inferd_server.h"

#include <signal.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <utility>

#include "grpc/health/v1/health.grpc.pb.h"

#ifndef INFERD_BINARY_DIR
#error "INFERD_BINARY_DIR must be defined by the build"
#endif

namespace inferd::testing {

namespace {

using Clock = std::chrono::steady_clock;
constexpr char kReadyPrefix[] = "inferd: serving ";
constexpr char kListeningPrefix[] = "inferd: listening on ";
constexpr char kMetricsPrefix[] = "inferd: metrics on ";

std::chrono::milliseconds MillisLeft(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
}

bool IsServing(const std::shared_ptr<grpc::Channel>& channel, Clock::time_point deadline) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  while (Clock::now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    if (stub->Check(&context, request, &response).ok() &&
        response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace

std::string InferdPath() { return std::string(INFERD_BINARY_DIR) + "/inferd"; }
std::string InferctlPath() { return std::string(INFERD_BINARY_DIR) + "/inferctl"; }

InferdServer::InferdServer(ChildProcess process, std::string address, int metrics_port,
                           std::shared_ptr<grpc::ChannelCredentials> credentials)
    : process_(std::move(process)),
      address_(std::move(address)),
      metrics_port_(metrics_port),
      channel_(grpc::CreateChannel(
          address_, credentials != nullptr ? credentials : grpc::InsecureChannelCredentials())) {}

std::unique_ptr<InferdServer> InferdServer::Start(const std::string& model_dir,
                                                  const std::vector<std::string>& extra_args,
                                                  std::string* error,
                                                  std::chrono::milliseconds timeout) {
  InferdServerOptions options;
  options.timeout = timeout;
  return Start(model_dir, extra_args, error, options);
}

std::unique_ptr<InferdServer> InferdServer::Start(const std::string& model_dir,
                                                  const std::vector<std::string>& extra_args,
                                                  std::string* error,
                                                  const InferdServerOptions& options) {
  const Clock::time_point deadline = Clock::now() + options.timeout;
  std::vector<std::string> argv = {InferdPath(), "serve",     "--model", model_dir,
                                   "--host",     "127.0.0.1", "--port",  "0"};
  // A free metrics port unless the test picks: never the default 8002, which
  // servers running side by side would fight over.
  const bool sets_metrics_port =
      std::any_of(extra_args.begin(), extra_args.end(), [](const std::string& arg) {
        return arg == "--metrics-port" || arg.rfind("--metrics-port=", 0) == 0;
      });
  if (!sets_metrics_port) argv.insert(argv.end(), {"--metrics-port", "0"});
  // No HTTP API unless the test asks for one (a later --http-port wins): the
  // default 8000 would be fought over the same way.
  argv.insert(argv.end(), {"--http-port", "-1"});
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  std::optional<ChildProcess> process = ChildProcess::Start(argv, error, options.stderr_path);
  if (!process.has_value()) return nullptr;
  std::string port;
  int metrics_port = -1;  // printed before the listening line
  while (port.empty()) {
    std::optional<std::string> line = process->ReadLine(MillisLeft(deadline));
    if (!line.has_value()) {
      *error = "inferd serve exited or printed no listening line in time (see its stderr)";
      return nullptr;
    }
    if (line->rfind(kListeningPrefix, 0) == 0) {
      const std::string address = line->substr(std::strlen(kListeningPrefix));
      const std::string host_port = address.substr(0, address.find(' '));
      port = host_port.substr(host_port.rfind(':') + 1);
    } else if (line->rfind(kMetricsPrefix, 0) == 0) {
      metrics_port = std::stoi(line->substr(line->rfind(':') + 1));
    }
  }
  std::unique_ptr<InferdServer> server(new InferdServer(std::move(*process), "127.0.0.1:" + port,
                                                        metrics_port, options.channel_credentials));
  if (!options.return_when_listening && !server->WaitUntilServing(MillisLeft(deadline), error)) {
    return nullptr;
  }
  return server;
}

bool InferdServer::WaitUntilServing(std::chrono::milliseconds timeout, std::string* error) {
  const Clock::time_point deadline = Clock::now() + timeout;
  while (true) {
    std::optional<std::string> line = process_.ReadLine(MillisLeft(deadline));
    if (!line.has_value()) {
      *error = "inferd serve exited or printed no serving line in time (see its stderr)";
      return false;
    }
    if (line->rfind(kReadyPrefix, 0) == 0) break;
  }
  if (!IsServing(channel_, deadline)) {
    *error = "inferd serve did not report health SERVING in time";
    return false;
  }
  return true;
}

int InferdServer::Stop(std::chrono::milliseconds timeout) {
  process_.Signal(SIGTERM);
  return process_.Wait(timeout);
}

}  // namespace inferd::testing
