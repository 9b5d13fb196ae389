// server/metrics/metrics_server.cc
#include "server/metrics/metrics_server.h"

#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace inferd::server {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& host, int port, std::shared_ptr<prometheus::Registry> registry) {
  std::string ipv4_host = host;
  if (host == "::" || host == "[::]") {
    ipv4_host = "0.0.0.0";
  } else if (host == "::1" || host == "[::1]") {
    ipv4_host = "127.0.0.1";
  } else if (host.find(':') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot serve metrics on IPv6 address ", host,
                     " (civetweb listens on IPv4 only): use an IPv4 --host, ::, ::1 or "
                     "--metrics-port -1"));
  }
  const std::string bind_address = absl::StrCat(ipv4_host, ":", port);
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(bind_address);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", bind_address, ": ", e.what()));
  }
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty() || ports.front() <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", bind_address));
  }
  exposer->RegisterCollectable(registry);
  return std::unique_ptr<MetricsServer>(new MetricsServer(
      std::move(exposer), std::move(registry), absl::StrCat(ipv4_host, ":", ports.front())));
}

MetricsServer::MetricsServer(std::unique_ptr<prometheus::Exposer> exposer,
                             std::shared_ptr<prometheus::Registry> registry, std::string address)
    : registry_(std::move(registry)), exposer_(std::move(exposer)), address_(std::move(address)) {}

}  // namespace inferd::server
