// server/metrics/prometheus_metrics.h — the inferd: metric families (README
// "Metrics"; named like vLLM's), kept in a prometheus-cpp registry. The
// engine feeds them through its observer hooks (engine/engine_observer.h);
// the server adds the Generate calls it refuses before the engine sees them.
//
// Every series, one per label set (each finished_reason, each gRPC code, each
// speculative position), is created up front and its handle kept, so
// recording never touches the registry: counters and gauges are atomics, a
// histogram takes only its own mutex. What the server records before the
// model is loaded (engine_healthy, request_failure_total) is created by the
// constructor, so /metrics serves it while the model loads; the engine's
// series (their buckets depend on the model) by OnEngineStart, which runs
// before the engine thread starts. CountFailure and SetHealthy are
// thread-safe from construction; OnStep and OnRequestFinished come from the
// engine thread, after OnEngineStart.
//
// Each request is counted once: as request_success_total{finished_reason}
// (an abort by the client included, as vLLM does) or as
// request_failure_total{code} (an engine error, or refused by the server).
#ifndef INFERD_SERVER_METRICS_PROMETHEUS_METRICS_H_
#define INFERD_SERVER_METRICS_PROMETHEUS_METRICS_H_

#include <memory>
#include <string>

#include "engine/engine.h"
#include "engine/engine_observer.h"
#include "grpcpp/support/status.h"
#include "prometheus/registry.h"

namespace inferd::server {

class PrometheusMetrics final : public engine::EngineObserver {
 public:
  // `model_name` labels every series (engine::ModelNameFromDir; the engine's
  // ModelInfo::model_name is the same).
  explicit PrometheusMetrics(const std::string& model_name);
  ~PrometheusMetrics() override;

  // What an exposer serves.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // engine::EngineObserver.
  void OnEngineStart(const engine::ModelInfo& info) override;
  void OnStep(const engine::StepStats& stats) override;
  void OnRequestFinished(const engine::RequestStats& stats) override;

  // A Generate call that failed with `code` where the engine does not report
  // it: refused by the server before the engine admitted it (validation,
  // queue full, loading, draining). request_failure_total{code}.
  void CountFailure(grpc::StatusCode code);
  // A call refused for its API key: inferd:auth_failures_total. Thread-safe.
  void CountAuthFailure();
  // A Generate stream aborted because its client read nothing for
  // --stream-write-timeout: inferd:stream_write_timeouts_total. Thread-safe.
  void CountStreamWriteTimeout();
  // inferd:engine_healthy: 1 while readiness is SERVING (0 from the start).
  void SetHealthy(bool healthy);

 private:
  struct ServerSeries;  // the handles the constructor resolves
  struct Series;        // the handles OnEngineStart resolves

  const std::shared_ptr<prometheus::Registry> registry_;
  const std::unique_ptr<const ServerSeries> server_series_;
  std::unique_ptr<const Series> series_;
};

}  // namespace inferd::server

#endif  // INFERD_SERVER_METRICS_PROMETHEUS_METRICS_H_
