// server/inference_service.h — the inferd.v1.Inference gRPC service
// (callback API): Generate streams through a GenerateReactor; Tokenize,
// Detokenize and GetModelInfo answer inline (they are cheap and never block).
//
// Thread-safe; holds non-owning pointers to the engine and the metrics, which
// must outlive the grpc::Server this service is registered with. Generate
// calls it refuses before the engine admits them (shutting down, invalid,
// queue full) are counted in the metrics' request_failure_total; the engine
// reports the rest.
#ifndef INFERD_SERVER_INFERENCE_SERVICE_H_
#define INFERD_SERVER_INFERENCE_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "engine/engine.h"
#include "grpcpp/grpcpp.h"
#include "inferd/v1/inference.grpc.pb.h"
#include "server/metrics/prometheus_metrics.h"
#include "server/stream_tracker.h"

namespace inferd::server {

class InferenceService final : public v1::Inference::CallbackService {
 public:
  InferenceService(engine::Engine* engine, PrometheusMetrics* metrics);

  // From now on new Generate calls fail with UNAVAILABLE (shutdown/drain);
  // streams in flight go on.
  void StopAdmitting() { admitting_.store(false); }
  // Waits until no Generate stream is in flight, or `deadline`; true when
  // none is.
  bool WaitForStreams(absl::Time deadline) { return streams_.WaitUntilIdle(deadline); }

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* context,
                                     const v1::TokenizeRequest* request,
                                     v1::TokenizeResponse* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* context,
                                       const v1::DetokenizeRequest* request,
                                       v1::DetokenizeResponse* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const v1::GetModelInfoRequest* request,
                                         v1::GetModelInfoResponse* response) override;

 private:
  // "req-<process tag>-<n>": unique within this process.
  std::string NextRequestId();

  engine::Engine* const engine_;
  PrometheusMetrics* const metrics_;
  const std::string id_prefix_;
  StreamTracker streams_;
  std::atomic<bool> admitting_{true};
  std::atomic<uint64_t> next_id_{0};
};

}  // namespace inferd::server

#endif  // INFERD_SERVER_INFERENCE_SERVICE_H_
