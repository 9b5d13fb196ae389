// server/http/openai_service.cc
#include "server/http/openai_service.h"

#include <random>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "server/http/http_error.h"
#include "server/http/openai_request.h"
#include "server/request_builder.h"
#include "server/status_mapping.h"

namespace inferd::server::http {

namespace {

constexpr char kLoading[] = "the model is still loading";
constexpr char kDraining[] = "the server is draining and admits no new requests";

std::string RandomTag() {
  std::random_device device;
  return absl::StrCat(absl::Hex(device(), absl::kZeroPad8));
}

Reply JsonReply(int status, std::string body) {
  Reply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

Reply ErrorReply(const HttpError& error) { return JsonReply(error.status, ErrorJson(error)); }

}  // namespace

OpenAiService::OpenAiService(PrometheusMetrics* metrics, const Readiness* readiness,
                             int32_t max_tokens_limit, std::string served_model_name)
    : metrics_(metrics),
      readiness_(readiness),
      max_tokens_limit_(max_tokens_limit),
      served_model_name_(std::move(served_model_name)),
      id_tag_(RandomTag()),
      created_(absl::ToUnixSeconds(absl::Now())) {}

#ifdef INFERD_HTTP_CHAT
void OpenAiService::SetChatTemplate(absl::StatusOr<engine::ChatTemplate> chat_template) {
  if (chat_template.ok()) {
    chat_template_.emplace(*std::move(chat_template));
    chat_template_status_ = absl::OkStatus();
  } else {
    chat_template_status_ = chat_template.status();
  }
}
#endif

Reply OpenAiService::Fail(const absl::Status& status, bool count) {
  if (count) metrics_->CountFailure(ToGrpcCode(status.code()));
  return ErrorReply(ErrorFromStatus(status));
}

Reply OpenAiService::Handle(const HttpRequestView& request, std::function<void()> notify) {
  absl::string_view path = request.target;
  if (const size_t query = path.find('?'); query != absl::string_view::npos) {
    path = path.substr(0, query);
  }
  if (api_keys_ != nullptr && path != "/health") {
    absl::string_view key = request.authorization;
    const bool bearer = absl::ConsumePrefix(&key, "Bearer ");
    if (!bearer || !api_keys_->Contains(key)) {
      metrics_->CountAuthFailure();
      return ErrorReply(MakeError(401,
                                  bearer ? "the API key is not valid"
                                         : "missing API key: send the header 'Authorization: "
                                           "Bearer <key>'",
                                  "invalid_api_key"));
    }
  }
  struct Route {
    absl::string_view path;
    absl::string_view method;
  };
  static constexpr Route kRoutes[] = {{"/health", "GET"},          {"/v1/models", "GET"},
                                      {"/v1/completions", "POST"}, {"/v1/chat/completions", "POST"},
                                      {"/tokenize", "POST"},       {"/detokenize", "POST"}};
  const Route* route = nullptr;
  for (const Route& r : kRoutes) {
    if (r.path == path) route = &r;
  }
  if (route == nullptr) {
    return ErrorReply(MakeError(404,
                                absl::StrCat("no such path: ", path,
                                             " (this server has /health, /v1/models, "
                                             "/v1/completions, /v1/chat/completions, "
                                             "/tokenize, /detokenize)"),
                                "not_found"));
  }
  const bool head = request.method == "HEAD" && route->method == "GET";
  if (request.method != route->method && !head) {
    Reply reply = ErrorReply(
        MakeError(405, absl::StrCat(path, " takes ", route->method, ", not ", request.method),
                  "method_not_allowed"));
    reply.allow = std::string(route->method);
    return reply;
  }
  if (path == "/health") {
    if (readiness_ != nullptr && readiness_->ready()) return JsonReply(200, "{}");
    return ErrorReply(MakeError(503,
                                LoadedEngine() == nullptr
                                    ? kLoading
                                    : "not ready: the server is draining or the engine stalled",
                                "not_ready"));
  }
  engine::Engine* engine = LoadedEngine();
  if (path == "/v1/models") {
    if (engine == nullptr) return ErrorReply(MakeError(503, kLoading));
    const engine::ModelInfo& info = engine->model_info();
    nlohmann::ordered_json model;
    model["id"] = ServedName(info);
    model["object"] = "model";
    model["created"] = created_;
    model["owned_by"] = "inferd";
    model["root"] = info.model_dir;
    model["max_model_len"] = info.max_context;
    nlohmann::ordered_json list;
    list["object"] = "list";
    list["data"] = nlohmann::ordered_json::array({std::move(model)});
    return JsonReply(200, DumpJson(list));
  }
  if (path == "/tokenize" || path == "/detokenize") {
    if (engine == nullptr) return ErrorReply(MakeError(503, kLoading));
    return path == "/tokenize" ? Tokenize(*engine, request.body)
                               : Detokenize(*engine, request.body);
  }
  return Generate(path == "/v1/completions" ? Endpoint::kCompletions : Endpoint::kChatCompletions,
                  request.body, std::move(notify));
}

Reply OpenAiService::Generate(Endpoint endpoint, absl::string_view body,
                              std::function<void()> notify) {
  engine::Engine* const engine = LoadedEngine();
  if (!admitting_.load()) return Fail(absl::UnavailableError(kDraining), true);
  if (engine == nullptr) return Fail(absl::UnavailableError(kLoading), true);
  absl::StatusOr<OrderedJson> json = ParseJsonBody(body);
  if (!json.ok()) return Fail(json.status(), true);
  const engine::ModelInfo& info = engine->model_info();
  absl::StatusOr<OpenAiRequest> parsed = ParseOpenAiRequest(endpoint, *json, ServedName(info));
  if (!parsed.ok()) return Fail(parsed.status(), true);
  OpenAiRequest& request = *parsed;
  const bool chat = endpoint == Endpoint::kChatCompletions;
  if (chat) {
#ifdef INFERD_HTTP_CHAT
    if (!chat_template_.has_value()) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
                      "this model has no chat template, so /v1/chat/completions cannot serve it: ",
                      chat_template_status_.message(), " (or use /v1/completions)")),
                  true);
    }
    engine::ChatTemplateInput input;
    input.messages = std::move(request.messages);
    input.tools = std::move(request.tools);
    input.add_generation_prompt = request.add_generation_prompt;
    input.kwargs = std::move(request.chat_template_kwargs);
    absl::StatusOr<std::string> prompt = chat_template_->Render(input);
    if (!prompt.ok()) return Fail(prompt.status(), true);
    request.generate.set_text(*std::move(prompt));
#else
    return Fail(absl::InvalidArgumentError(
                    "this build of inferd has no chat templates (built without libpython3-dev): "
                    "/v1/chat/completions is unavailable; use /v1/completions"),
                true);
#endif
  }
  absl::StatusOr<engine::Request> built =
      BuildEngineRequest(request.generate, info, engine->tokenizer(), absl::Now(),
                         absl::InfiniteFuture(), max_tokens_limit_);
  if (!built.ok()) return Fail(built.status(), true);
  const uint64_t serial = next_id_.fetch_add(1) + 1;
  const std::string id = absl::StrCat("http-", id_tag_, "-", serial);

  Reply reply;
  reply.stream = request.stream;
  reply.content_type = request.stream ? "text/event-stream" : "application/json";
  ResponseContext context;
  context.endpoint = endpoint;
  context.id = absl::StrCat(chat ? "chatcmpl-" : "cmpl-", id_tag_, "-", serial);
  context.created = absl::ToUnixSeconds(absl::Now());
  context.model = ServedName(info);
  context.stream = request.stream;
  context.include_usage = request.include_usage;
  context.top_logprobs = request.top_logprobs;
  context.tool_choice = request.tool_choice;
  context.tool_name = request.tool_name;
  context.tokenizer = &engine->tokenizer();
  reply.responder = std::make_unique<OpenAiResponder>(std::move(context), request.n);
  // n choices: one engine request each, submitted as a group, so the prompt
  // is computed once and its KV shared (Engine::SubmitGroup); choice i is
  // seeded seed + i (its own stream: it equals a request with that seed).
  std::vector<engine::Request> group;
  std::vector<std::shared_ptr<engine::OutputChannel>> channels;
  for (int32_t i = 0; i < request.n; ++i) {
    engine::Request one = *built;
    if (request.n > 1) {
      one.request_id = absl::StrCat(id, "-", i);
      if (one.sampling.seed.has_value()) *one.sampling.seed += static_cast<uint64_t>(i);
    } else {
      one.request_id = id;
    }
    reply.request_ids.push_back(one.request_id);
    auto channel = std::make_shared<engine::OutputChannel>();
    channel->SetNotify(notify);
    channels.push_back(channel);
    reply.channels.push_back(std::move(channel));
    group.push_back(std::move(one));
  }
  absl::Status submitted = request.n > 1
                               ? engine->SubmitGroup(std::move(group), std::move(channels))
                               : engine->Submit(std::move(group[0]), std::move(channels[0]));
  if (!submitted.ok()) return Fail(submitted, true);
  streams_.Add();
  return reply;
}

std::string OpenAiService::ServedName(const engine::ModelInfo& info) const {
  return served_model_name_.empty() ? info.model_name : served_model_name_;
}

Reply OpenAiService::Tokenize(const engine::Engine& engine, absl::string_view body) {
  absl::StatusOr<OrderedJson> json = ParseJsonBody(body);
  if (!json.ok()) return Fail(json.status(), false);
  const engine::ModelInfo& info = engine.model_info();
  absl::StatusOr<TokenizeRequest> request = ParseTokenizeRequest(*json, ServedName(info));
  if (!request.ok()) return Fail(request.status(), false);
  const engine::Tokenizer& tokenizer = engine.tokenizer();
  const std::vector<int32_t> ids = tokenizer.Encode(request->prompt, request->add_special_tokens);
  nlohmann::ordered_json out;
  out["count"] = ids.size();
  out["max_model_len"] = info.max_context;
  out["tokens"] = ids;
  out["token_strs"] = nlohmann::ordered_json();
  if (request->return_token_strs) {
    for (int32_t id : ids) out["token_strs"].push_back(tokenizer.IdToPiece(id));
  }
  return JsonReply(200, DumpJson(out));
}

Reply OpenAiService::Detokenize(const engine::Engine& engine, absl::string_view body) {
  absl::StatusOr<OrderedJson> json = ParseJsonBody(body);
  if (!json.ok()) return Fail(json.status(), false);
  const engine::ModelInfo& info = engine.model_info();
  absl::StatusOr<std::vector<int32_t>> ids = ParseDetokenizeRequest(*json, ServedName(info));
  if (!ids.ok()) return Fail(ids.status(), false);
  for (size_t i = 0; i < ids->size(); ++i) {
    if ((*ids)[i] >= info.vocab_size) {
      absl::Status status = absl::InvalidArgumentError(
          absl::StrCat("tokens[", i, "]: id ", (*ids)[i], " is outside the vocabulary [0, ",
                       info.vocab_size, ")"));
      status.SetPayload(kParamPayload, absl::Cord("tokens"));
      return Fail(status, false);
    }
  }
  nlohmann::ordered_json out;
  out["prompt"] = engine.tokenizer().Decode(*ids, false);
  return JsonReply(200, DumpJson(out));
}

void OpenAiService::Abort(const std::string& request_id) {
  if (engine::Engine* engine = LoadedEngine(); engine != nullptr) engine->Abort(request_id);
}

}  // namespace inferd::server::http
