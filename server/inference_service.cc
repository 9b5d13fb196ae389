// server/inference_service.cc
#include "server/inference_service.h"

#include <chrono>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/generate_reactor.h"
#include "server/proto_conversion.h"
#include "server/request_builder.h"
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

}  // namespace

InferenceService::InferenceService(PrometheusMetrics* metrics, RequestLog* request_log,
                                   int32_t max_tokens_limit)
    : metrics_(metrics),
      request_log_(request_log),
      max_tokens_limit_(max_tokens_limit),
      id_prefix_(absl::StrCat("req-", ProcessTag(), "-")) {}

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
