// server/readiness.h — readiness as one function of three facts (DESIGN §8):
//
//   ready = model loaded && not draining && engine not stalled
//
// and everything that reports it: gRPC health "" and "inferd.v1.Inference"
// (HealthReporter) and the gauge inferd:engine_healthy. Both are set together
// under one lock, so they always agree; each change of `ready` is logged once
// with its reason. Liveness ("liveness") is not readiness: it stays SERVING
// while the process answers, whatever happens here.
//
// Thread-safe (the main thread loads and drains; the watchdog thread reports
// stalls).
#ifndef INFERD_SERVER_READINESS_H_
#define INFERD_SERVER_READINESS_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/health_reporter.h"
#include "server/metrics/prometheus_metrics.h"

namespace inferd::server {

class Readiness {
 public:
  // Starts NOT_SERVING (the model is loading). Neither pointer is owned;
  // both must outlive this.
  Readiness(HealthReporter* health, PrometheusMetrics* metrics);

  void SetLoaded();               // the model is loaded and served
  void SetDraining();             // SIGTERM/SIGINT: for good
  void SetStalled(bool stalled);  // from the engine watchdog
  bool ready() const;

 private:
  // Recomputes ready_; on a change, applies and logs it with `reason`.
  void UpdateLocked(const char* reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  HealthReporter* const health_;
  PrometheusMetrics* const metrics_;
  mutable absl::Mutex mu_;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool stalled_ ABSL_GUARDED_BY(mu_) = false;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace inferd::server

#endif  // INFERD_SERVER_READINESS_H_
