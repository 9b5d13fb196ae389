// server/health_reporter.h — what the standard grpc.health.v1.Health service
// answers (DESIGN §8: liveness and readiness are kept apart).
//
//   ""  and "inferd.v1.Inference"   readiness: as SetReady says (Readiness,
//                                   server/readiness.h, decides: loaded, not
//                                   draining, engine not stalled)
//   "liveness"                      SERVING while the process answers
//   anything else                   NOT_FOUND (gRPC's default service)
#ifndef INFERD_SERVER_HEALTH_REPORTER_H_
#define INFERD_SERVER_HEALTH_REPORTER_H_

#include "grpcpp/health_check_service_interface.h"

namespace inferd::server {

inline constexpr char kLivenessService[] = "liveness";
inline constexpr char kInferenceService[] = "inferd.v1.Inference";

class HealthReporter {
 public:
  // `health` is the server's default health service (not owned; null when
  // the server has none, then every call is a no-op).
  explicit HealthReporter(grpc::HealthCheckServiceInterface* health);

  // Sets readiness for "" and "inferd.v1.Inference"; "liveness" stays SERVING.
  void SetReady(bool ready);

 private:
  grpc::HealthCheckServiceInterface* const health_;
};

}  // namespace inferd::server

#endif  // INFERD_SERVER_HEALTH_REPORTER_H_
