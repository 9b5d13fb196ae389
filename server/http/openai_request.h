// server/http/openai_request.h — the JSON body of an OpenAI-style
// POST /v1/completions or /v1/chat/completions -> a v1::GenerateRequest, the
// gRPC API's request, so that the HTTP front shares every check the gRPC
// service makes (server/request_builder.h: ranges, context, token ids,
// structured-output constraints, --max-tokens-limit).
//
// Field names, types and defaults follow OpenAI's API reference; fields
// OpenAI lacks take vLLM's names (top_k, min_p, repetition_penalty,
// ignore_eos, priority, stop_token_ids). Unknown fields are refused (as
// OpenAI refuses them) rather than silently ignored; `user` is accepted and
// ignored. Everything here is pure (no engine): the caller renders chat
// messages through the model's template (ChatTemplateInput below) and puts
// the text into the request.
//
// Errors are INVALID_ARGUMENT whose message names the field; the field's
// name is also attached as the status payload kParamPayload (the error
// object's "param"). A `model` other than the served one is NOT_FOUND.
#ifndef INFERD_SERVER_HTTP_OPENAI_REQUEST_H_
#define INFERD_SERVER_HTTP_OPENAI_REQUEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "inferd/v1/inference.pb.h"
#include "nlohmann/json.hpp"

namespace inferd::server::http {

using OrderedJson = nlohmann::ordered_json;

// The status payload that carries the offending field's name.
inline constexpr char kParamPayload[] = "inferd.http.param";
// Deepest JSON nesting accepted in a request body (a JSON Schema or tool
// arguments are far shallower); deeper bodies are refused before parsing.
inline constexpr int kMaxJsonDepth = 64;
// Most choices (`n`) one request may ask, as OpenAI's API.
inline constexpr int32_t kMaxChoices = 128;
// /v1/completions' max_tokens when absent (OpenAI's and vLLM's default).
inline constexpr int32_t kDefaultCompletionMaxTokens = 16;

enum class Endpoint { kCompletions, kChatCompletions };

// Chat's tool_choice: none (tools only rendered), required (the output is a
// JSON list of {"name", "parameters"} calls), or a named function (the
// output is its arguments).
enum class ToolChoice { kNone, kRequired, kNamed };

struct OpenAiRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  v1::GenerateRequest generate;  // prompt unset for chat: the rendered messages go there
  int32_t n = 1;                 // choices
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // Chat only: the template's input (messages, tools, add_generation_prompt,
  // chat_template_kwargs), as given (the renderer checks them).
  OrderedJson messages;
  OrderedJson tools;  // null when absent
  ToolChoice tool_choice = ToolChoice::kNone;
  std::string tool_name;  // kNamed
  bool add_generation_prompt = true;
  OrderedJson chat_template_kwargs;  // null when absent
  // Logprobs as asked: completions' integer `logprobs`, chat's
  // `top_logprobs` when `logprobs` is true; nullopt: none.
  std::optional<int32_t> top_logprobs;
};

// The body parsed as JSON (ordered: chat templates print tools in the
// client's order), with depth and UTF-8 checked; INVALID_ARGUMENT saying
// what is wrong and where.
absl::StatusOr<OrderedJson> ParseJsonBody(absl::string_view body);

// The request of `endpoint` from its parsed body. `served_model` is the name
// `model` must match when given.
absl::StatusOr<OpenAiRequest> ParseOpenAiRequest(Endpoint endpoint, const OrderedJson& body,
                                                 const std::string& served_model);

// vLLM's POST /tokenize: {"model"?, "prompt": string, "add_special_tokens"?:
// bool (default true), "return_token_strs"?: bool}.
struct TokenizeRequest {
  std::string prompt;
  bool add_special_tokens = true;
  bool return_token_strs = false;
};
absl::StatusOr<TokenizeRequest> ParseTokenizeRequest(const OrderedJson& body,
                                                     const std::string& served_model);

// vLLM's POST /detokenize: {"model"?, "tokens": [ids]} (ids checked against
// the vocabulary by the caller).
absl::StatusOr<std::vector<int32_t>> ParseDetokenizeRequest(const OrderedJson& body,
                                                            const std::string& served_model);

// The field named by a status from ParseOpenAiRequest ("" when none).
std::string ParamOf(const absl::Status& status);

}  // namespace inferd::server::http

#endif  // INFERD_SERVER_HTTP_OPENAI_REQUEST_H_
