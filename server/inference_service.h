// server/inference_service.h — the inferd.v1.Inference gRPC service
// (callback API): Generate streams through a GenerateReactor; Tokenize,
// Detokenize and GetModelInfo answer inline (they are cheap and never block).
//
// The service serves before the model is loaded (the gRPC server, health and
// reflection start first): until SetEngine, every call fails with
// UNAVAILABLE "the model is still loading". The engine pointer is atomic and
// read once per call.
//
// Thread-safe; holds non-owning pointers to the engine, the metrics and the
// request log, which must outlive the grpc::Server this service is
// registered with. Generate calls it refuses before the engine admits them
// (loading, draining, invalid, queue full) are counted in the metrics'
// request_failure_total; the engine reports the rest.
//
// Requests arrive as bytes: the constructor re-registers every method with a
// handler that parses the request itself (request_parsing.h), so bytes that
// are not the method's message (truncated, invalid UTF-8 in a string, ...)
// get INVALID_ARGUMENT and a message saying what is wrong, where gRPC 1.51's
// own parsing answered UNIMPLEMENTED with no message. The parsed request then
// goes to the typed method below; responses are typed as generated.
#ifndef INFERD_SERVER_INFERENCE_SERVICE_H_
#define INFERD_SERVER_INFERENCE_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "engine/engine.h"
#include "grpcpp/grpcpp.h"
#include "inferd/v1/inference.grpc.pb.h"
#include "server/metrics/prometheus_metrics.h"
#include "server/request_log.h"
#include "server/stream_tracker.h"
#include "server/stream_write_watchdog.h"

namespace inferd::server {

class InferenceService final : public v1::Inference::CallbackService {
 public:
  // `request_log` may be null (no per-request lines). `max_tokens_limit` > 0
  // caps GenerateRequest.max_tokens (--max-tokens-limit; request_builder.h).
  InferenceService(PrometheusMetrics* metrics, RequestLog* request_log,
                   int32_t max_tokens_limit = 0);

  // The loaded engine: calls are served from now on. Call once.
  void SetEngine(engine::Engine* engine) { engine_.store(engine, std::memory_order_release); }
  // Generate streams whose write stays pending for its timeout are aborted
  // (--stream-write-timeout); null: never. Call before the server starts;
  // `watchdog` must outlive the grpc::Server.
  void SetStreamWriteWatchdog(StreamWriteWatchdog* watchdog) { write_watchdog_ = watchdog; }
  // From now on new Generate calls fail with UNAVAILABLE (drain); streams in
  // flight go on.
  void StopAdmitting() { admitting_.store(false); }
  // Generate streams in flight.
  int64_t NumStreams() { return streams_.active(); }
  // Waits until no Generate stream is in flight, or `deadline`; true when
  // none is.
  bool WaitForStreams(absl::Time deadline) { return streams_.WaitUntilIdle(deadline); }

  // The typed methods, called with the parsed request.
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
  // Registers the handlers that take each method's request as bytes.
  void TakeRequestsAsBytes();
  // Generate from the request's bytes: INVALID_ARGUMENT (counted in the
  // metrics) when they do not parse, else Generate.
  grpc::ServerWriteReactor<v1::GenerateResponse>* GenerateFromBytes(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer& bytes);
  // The same for a unary method: `typed` is called with the parsed request.
  template <class Request, class Response>
  void TakeUnaryAsBytes(const char* method,
                        grpc::ServerUnaryReactor* (InferenceService::*typed)(
                            grpc::CallbackServerContext*, const Request*, Response*));

  // "req-<process tag>-<n>": unique within this process.
  std::string NextRequestId();

  // Null while the model loads.
  engine::Engine* LoadedEngine() const { return engine_.load(std::memory_order_acquire); }

  std::atomic<engine::Engine*> engine_{nullptr};
  PrometheusMetrics* const metrics_;
  RequestLog* const request_log_;
  const int32_t max_tokens_limit_;
  const std::string id_prefix_;
  StreamTracker streams_;
  StreamWriteWatchdog* write_watchdog_ = nullptr;
  std::atomic<bool> admitting_{true};
  std::atomic<uint64_t> next_id_{0};
};

}  // namespace inferd::server

#endif  // INFERD_SERVER_INFERENCE_SERVICE_H_
