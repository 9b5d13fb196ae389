// server/metrics/metrics_server.h — the HTTP endpoint Prometheus scrapes:
// GET /metrics on its own port (not the gRPC one), served by prometheus-cpp's
// Exposer (civetweb) on its own threads: 64 workers, and a connection that
// has not sent its whole request header within 2 s is dropped, so idle or
// slow clients cannot lock scrapers out (the limit: metrics_server.cc).
//
// Debian 12's civetweb listens on IPv4 only: the IPv6 wildcard "::" and
// loopback "::1" are served on their IPv4 twins (0.0.0.0, 127.0.0.1); any
// other IPv6 address is refused.
#ifndef INFERD_SERVER_METRICS_METRICS_SERVER_H_
#define INFERD_SERVER_METRICS_METRICS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"

namespace inferd::server {

class MetricsServer {
 public:
  // Serves `registry` at http://<host>:<port>/metrics; port 0 picks a free
  // one. INVALID_ARGUMENT for an IPv6 host it cannot serve, UNAVAILABLE when
  // it cannot listen there.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& host, int port, std::shared_ptr<prometheus::Registry> registry);

  // "HOST:PORT" it listens on (the port chosen when 0 was asked).
  const std::string& address() const { return address_; }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer,
                std::shared_ptr<prometheus::Registry> registry, std::string address);

  std::shared_ptr<prometheus::Registry> registry_;  // the exposer holds it weakly
  std::unique_ptr<prometheus::Exposer> exposer_;    // stops serving when destroyed
  std::string address_;
};

}  // namespace inferd::server

#endif  // INFERD_SERVER_METRICS_METRICS_SERVER_H_
