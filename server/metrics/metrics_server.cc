// server/metrics/metrics_server.cc
#include "server/metrics/metrics_server.h"

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace inferd::server {
namespace {

// civetweb gives each connection a worker thread from accept to close, and a
// worker waits for the request header until request_timeout_ms (30 s by
// default), so with its 2 default workers two idle sockets locked every
// scraper out. Hence:
// - kWorkerThreads: more connections than a scraper or two and a few stray
//   clients get a worker at once; a scrape waits only once this many sockets
//   are held (threads are created at start; each idles on a condition
//   variable and its stack is virtual until touched).
// - kRequestTimeoutMs: the deadline for a whole request header, counted from
//   accept (not per byte, so trickling a byte at a time does not extend it),
//   and the send/receive timeout while answering. A scraper sends its header
//   in one packet and reads a few kB, so 2 s is ample; an idle or slow client
//   frees its worker after it.
// - keep-alive stays off (civetweb's default): a connection serves one
//   request and closes, so an idle kept-alive socket cannot hold a worker.
// The remaining limit: a client that keeps more than kWorkerThreads sockets
// open, re-opening each as it is dropped, delays a scrape by about
// kRequestTimeoutMs per kWorkerThreads sockets queued ahead of it (accepted
// sockets wait in civetweb's connection_queue, then the kernel backlog).
// Serve the port on a network only scrapers reach (docs/security.md).
constexpr int kWorkerThreads = 64;
constexpr int kRequestTimeoutMs = 2000;

std::vector<std::string> CivetwebOptions(const std::string& bind_address) {
  return {"listening_ports",       bind_address,
          "num_threads",           std::to_string(kWorkerThreads),
          "request_timeout_ms",    std::to_string(kRequestTimeoutMs),
          "enable_keep_alive",     "no",
          "keep_alive_timeout_ms", "500"};
}

}  // namespace

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
    exposer = std::make_unique<prometheus::Exposer>(CivetwebOptions(bind_address));
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
