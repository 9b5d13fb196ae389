// server/health_reporter.cc
#include "server/health_reporter.h"

namespace inferd::server {

HealthReporter::HealthReporter(grpc::HealthCheckServiceInterface* health) : health_(health) {
  if (health_ != nullptr) health_->SetServingStatus(kLivenessService, true);
}

void HealthReporter::SetReady(bool ready) {
  if (health_ == nullptr) return;
  health_->SetServingStatus("", ready);
  health_->SetServingStatus(kInferenceService, ready);
}

}  // namespace inferd::server
