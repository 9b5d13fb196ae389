// server/http/openai_service.h — the OpenAI-compatible API over the engine,
// apart from the HTTP transport (http_server.h): one parsed HTTP request in,
// a complete reply or an admitted engine stream out.
//
// With API keys, every path but /health needs `Authorization: Bearer <key>`
// (checked in constant time by server/auth/api_key_set.h, as gRPC's calls
// are): else 401, counted in the auth-failure metric.
//
//   GET  /health               200 while ready (readiness.h: loaded, not
//                              draining, not stalled), else 503
//   GET  /v1/models            the served model
//   POST /v1/completions       openai_request.h -> BuildEngineRequest ->
//   POST /v1/chat/completions  Engine::Submit; chat renders `messages`
//                              through the model's ChatTemplate first
//   POST /tokenize             vLLM's: text -> token ids
//   POST /detokenize           vLLM's: token ids -> text
//
// It shares with the gRPC service what a request goes through: the same
// request validation (server/request_builder.h, --max-tokens-limit), the
// same admission (refused while loading or draining; the engine's queue
// limit), the same engine and the same metrics: a request refused before
// the engine admits it is counted once in request_failure_total under the
// gRPC code its error maps to; the engine's observer counts the rest. No
// `protocol` label (docs/openai-api.md).
//
// Thread-safe; holds non-owning pointers that must outlive it.
#ifndef INFERD_SERVER_HTTP_OPENAI_SERVICE_H_
#define INFERD_SERVER_HTTP_OPENAI_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/engine.h"
#include "engine/output_channel.h"
#include "server/auth/api_key_set.h"
#include "server/http/openai_response.h"
#include "server/metrics/prometheus_metrics.h"
#include "server/readiness.h"
#include "server/request_log.h"
#include "server/stream_tracker.h"

#ifdef INFERD_HTTP_CHAT
#include "engine/chat/chat_template.h"
#endif

namespace inferd::server::http {

struct HttpRequestView {
  absl::string_view method;  // "GET", "POST", ...
  absl::string_view target;  // path and query
  absl::string_view body;
  absl::string_view authorization;  // the Authorization header ("" when absent)
};

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;  // 405: the methods the path takes
  // Set when engine requests were admitted: one per choice, with its stream
  // (the notify hook given to Handle is already on each) and id, and the
  // formatter. The body is then empty; the transport sends
  // responder->Start() (streaming) and what responder->Consume(i, chunk)
  // makes of each chunk of channels[i].
  std::vector<std::shared_ptr<engine::OutputChannel>> channels;
  std::vector<std::string> request_ids;
  std::unique_ptr<OpenAiResponder> responder;
  bool stream = false;
};

class OpenAiService {
 public:
  // `readiness` answers /health; `max_tokens_limit` as for gRPC;
  // `served_model_name` is the model id requests name (empty: the model
  // directory's base name).
  OpenAiService(PrometheusMetrics* metrics, const Readiness* readiness, int32_t max_tokens_limit,
                std::string served_model_name = "");

#ifdef INFERD_HTTP_CHAT
  // The model's chat template, or why there is none (a chat request's 400).
  // Call before SetEngine.
  void SetChatTemplate(absl::StatusOr<engine::ChatTemplate> chat_template);
#endif
  // API keys (--api-key-file): every path but /health then needs
  // `Authorization: Bearer <key>`, else 401. Null: none. Call before the
  // server starts; `keys` must outlive this.
  void SetApiKeys(const ApiKeySet* keys) { api_keys_ = keys; }
  // One line per finished engine request (--log-requests); null: none.
  // Call before the server starts; `log` must outlive it.
  void SetRequestLog(RequestLog* log) { request_log_ = log; }
  RequestLog* request_log() const { return request_log_; }
  // The loaded engine: requests are served from now on. Call once.
  void SetEngine(engine::Engine* engine) { engine_.store(engine, std::memory_order_release); }
  // New generation requests get 503 from now on (drain); streams go on.
  void StopAdmitting() { admitting_.store(false); }
  // Generations in flight (admitted and not yet ended by the transport;
  // one per HTTP request, whatever its n).
  StreamTracker* streams() { return &streams_; }

  // Handles one request whose body has been read. `notify` is set on an
  // admitted request's channel before it is submitted (it runs on the engine
  // thread after each chunk: cheap, never blocking).
  Reply Handle(const HttpRequestView& request, std::function<void()> notify);
  // The client went away: aborts a request (its final chunk still comes).
  void Abort(const std::string& request_id);
  // A stream's write stayed pending for --stream-write-timeout.
  void CountStreamWriteTimeout() { metrics_->CountStreamWriteTimeout(); }

 private:
  Reply Generate(Endpoint endpoint, absl::string_view body, std::function<void()> notify);
  Reply Tokenize(const engine::Engine& engine, absl::string_view body);
  Reply Detokenize(const engine::Engine& engine, absl::string_view body);
  // `count`: a generation request refused before the engine admitted it.
  Reply Fail(const absl::Status& status, bool count);
  std::string ServedName(const engine::ModelInfo& info) const;
  engine::Engine* LoadedEngine() const { return engine_.load(std::memory_order_acquire); }

  PrometheusMetrics* const metrics_;
  const Readiness* const readiness_;
  const int32_t max_tokens_limit_;
  const std::string served_model_name_;
  const std::string id_tag_;
  const int64_t created_;  // /v1/models' `created`: when the server started
  std::atomic<engine::Engine*> engine_{nullptr};
  std::atomic<bool> admitting_{true};
  std::atomic<uint64_t> next_id_{0};
  StreamTracker streams_;
  const ApiKeySet* api_keys_ = nullptr;
  RequestLog* request_log_ = nullptr;
#ifdef INFERD_HTTP_CHAT
  std::optional<engine::ChatTemplate> chat_template_;
  absl::Status chat_template_status_ = absl::FailedPreconditionError("no chat template loaded");
#endif
};

}  // namespace inferd::server::http

#endif  // INFERD_SERVER_HTTP_OPENAI_SERVICE_H_
