// server/readiness.cc
#include "server/readiness.h"

#include "server/log.h"

namespace inferd::server {

Readiness::Readiness(HealthReporter* health, PrometheusMetrics* metrics)
    : health_(health), metrics_(metrics) {
  absl::MutexLock lock(&mu_);
  health_->SetReady(false);
  metrics_->SetHealthy(false);
}

void Readiness::SetLoaded() {
  absl::MutexLock lock(&mu_);
  loaded_ = true;
  UpdateLocked("the model is loaded");
}

void Readiness::SetDraining() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  UpdateLocked("draining");
}

void Readiness::SetStalled(bool stalled) {
  absl::MutexLock lock(&mu_);
  stalled_ = stalled;
  UpdateLocked(stalled ? "the engine is stalled" : "the engine makes progress again");
}

bool Readiness::ready() const {
  absl::MutexLock lock(&mu_);
  return ready_;
}

void Readiness::UpdateLocked(const char* reason) {
  const bool ready = loaded_ && !draining_ && !stalled_;
  if (ready == ready_) return;
  ready_ = ready;
  health_->SetReady(ready);
  metrics_->SetHealthy(ready);
  Log(ready || draining_ ? LogLevel::kInfo : LogLevel::kWarning,
      ready ? "readiness SERVING" : "readiness NOT_SERVING",
      {{"ready", ready}, {"reason", reason}});
}

}  // namespace inferd::server
