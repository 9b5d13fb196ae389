// server/inference_service.cc
#include "server/inference_service.h"

#include <chrono>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/check.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"
#include "server/generate_reactor.h"
#include "server/proto_conversion.h"
#include "server/request_builder.h"
#include "server/request_parsing.h"
#include "server/status_mapping.h"

namespace inferd::server {

namespace {

std::string ProcessTag() {
  std::random_device device;
  return absl::StrCat(absl::Hex(device(), absl::kZeroPad8));
}

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

// The call's gRPC deadline (InfiniteFuture when the client set none).
absl::Time CallDeadline(const grpc::CallbackServerContext& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

constexpr char kLoading[] = "the model is still loading";

// The index of inferd.v1.Inference's `method` in the generated service (the
// generated code numbers methods in the proto's order).
int MethodIndex(const char* method) {
  const google::protobuf::ServiceDescriptor* service =
      v1::GenerateRequest::descriptor()->file()->FindServiceByName("Inference");
  INFERD_CHECK(service != nullptr);
  const google::protobuf::MethodDescriptor* found = service->FindMethodByName(method);
  INFERD_CHECK(found != nullptr);
  return found->index();
}

}  // namespace

InferenceService::InferenceService(PrometheusMetrics* metrics, RequestLog* request_log,
                                   int32_t max_tokens_limit)
    : metrics_(metrics),
      request_log_(request_log),
      max_tokens_limit_(max_tokens_limit),
      id_prefix_(absl::StrCat("req-", ProcessTag(), "-")) {
  TakeRequestsAsBytes();
}

// The handlers are the ones the generated WithRawCallbackMethod_* mixins
// register (grpcpp/impl/codegen/server_callback_handlers.h), with the
// generated response type instead of raw bytes. Each replaces the typed
// handler CallbackService registered for the method.
void InferenceService::TakeRequestsAsBytes() {
  MarkMethodRawCallback(
      MethodIndex("Generate"),
      new grpc::internal::CallbackServerStreamingHandler<grpc::ByteBuffer, v1::GenerateResponse>(
          [this](grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes) {
            return GenerateFromBytes(context, *bytes);
          }));
  TakeUnaryAsBytes("Tokenize", &InferenceService::Tokenize);
  TakeUnaryAsBytes("Detokenize", &InferenceService::Detokenize);
  TakeUnaryAsBytes("GetModelInfo", &InferenceService::GetModelInfo);
}

template <class Request, class Response>
void InferenceService::TakeUnaryAsBytes(
    const char* method,
    grpc::ServerUnaryReactor* (InferenceService::*typed)(grpc::CallbackServerContext*,
                                                         const Request*, Response*)) {
  MarkMethodRawCallback(MethodIndex(method),
                        new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, Response>(
                            [this, typed](grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* bytes, Response* response) {
                              Request request;
                              if (absl::Status s = ParseRequest(*bytes, &request); !s.ok()) {
                                return FinishUnary(context, ToGrpcStatus(s));
                              }
                              return (this->*typed)(context, &request, response);
                            }));
}

grpc::ServerWriteReactor<v1::GenerateResponse>* InferenceService::GenerateFromBytes(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer& bytes) {
  v1::GenerateRequest request;
  if (absl::Status s = ParseRequest(bytes, &request); !s.ok()) {
    auto* reactor =
        new GenerateReactor(LoadedEngine(), &streams_, request_log_, context, write_watchdog_);
    metrics_->CountFailure(grpc::StatusCode::INVALID_ARGUMENT);
    reactor->Fail(ToGrpcStatus(s));
    return reactor;
  }
  // Generate copies what it needs: `request` may go when it returns.
  return Generate(context, &request);
}

std::string InferenceService::NextRequestId() {
  return absl::StrCat(id_prefix_, next_id_.fetch_add(1) + 1);
}

grpc::ServerWriteReactor<v1::GenerateResponse>* InferenceService::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* request) {
  engine::Engine* const engine = LoadedEngine();
  auto* reactor = new GenerateReactor(engine, &streams_, request_log_, context, write_watchdog_);
  if (!admitting_.load()) {
    metrics_->CountFailure(grpc::StatusCode::UNAVAILABLE);
    reactor->Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "the server is draining and admits no new requests"));
    return reactor;
  }
  if (engine == nullptr) {
    metrics_->CountFailure(grpc::StatusCode::UNAVAILABLE);
    reactor->Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE, kLoading));
    return reactor;
  }
  absl::StatusOr<engine::Request> built =
      BuildEngineRequest(*request, engine->model_info(), engine->tokenizer(), absl::Now(),
                         CallDeadline(*context), max_tokens_limit_);
  if (!built.ok()) {
    metrics_->CountFailure(ToGrpcCode(built.status().code()));
    reactor->Fail(ToGrpcStatus(built.status()));
    return reactor;
  }
  if (built->request_id.empty()) built->request_id = NextRequestId();
  if (absl::Status s = reactor->Submit(std::move(*built)); !s.ok()) {
    metrics_->CountFailure(ToGrpcCode(s.code()));  // counted before the client sees it
    reactor->Fail(ToGrpcStatus(s));
  }
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::Tokenize(grpc::CallbackServerContext* context,
                                                     const v1::TokenizeRequest* request,
                                                     v1::TokenizeResponse* response) {
  const engine::Engine* engine = LoadedEngine();
  if (engine == nullptr) {
    return FinishUnary(context, grpc::Status(grpc::StatusCode::UNAVAILABLE, kLoading));
  }
  const engine::Tokenizer& tokenizer = engine->tokenizer();
  const bool special = request->has_add_special_tokens() ? request->add_special_tokens() : true;
  const std::vector<int32_t> ids = tokenizer.Encode(request->text(), special);
  response->mutable_token_ids()->Add(ids.begin(), ids.end());
  for (int32_t id : ids) response->add_pieces(tokenizer.IdToPiece(id));
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InferenceService::Detokenize(grpc::CallbackServerContext* context,
                                                       const v1::DetokenizeRequest* request,
                                                       v1::DetokenizeResponse* response) {
  const engine::Engine* engine = LoadedEngine();
  if (engine == nullptr) {
    return FinishUnary(context, grpc::Status(grpc::StatusCode::UNAVAILABLE, kLoading));
  }
  const engine::ModelInfo& model = engine->model_info();
  if (absl::Status s = CheckTokenIds(request->token_ids(), model.vocab_size, "token_ids");
      !s.ok()) {
    return FinishUnary(context, ToGrpcStatus(s));
  }
  const bool skip = request->has_skip_special_tokens() ? request->skip_special_tokens() : true;
  const std::vector<int32_t> ids(request->token_ids().begin(), request->token_ids().end());
  response->set_text(engine->tokenizer().Decode(ids, skip));
  return FinishUnary(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InferenceService::GetModelInfo(grpc::CallbackServerContext* context,
                                                         const v1::GetModelInfoRequest* request,
                                                         v1::GetModelInfoResponse* response) {
  const engine::Engine* engine = LoadedEngine();
  if (engine == nullptr) {
    return FinishUnary(context, grpc::Status(grpc::StatusCode::UNAVAILABLE, kLoading));
  }
  ToProto(engine->model_info(), engine->GetStats(), response);
  response->set_num_open_streams(streams_.active());
  return FinishUnary(context, grpc::Status::OK);
}

}  // namespace inferd::server
