// server/http/openai_response.h — one request's engine stream -> OpenAI's
// response bodies: a `text_completion` / `chat.completion` object, or, when
// streaming, server-sent events
//
//   data: {chunk}\n\n ... data: [DONE]\n\n
//
// in OpenAI's chunk shapes (`text_completion` chunks; `chat.completion.chunk`
// with a first `{"role": "assistant"}` delta), and, with
// stream_options.include_usage, `"usage": null` on every chunk and a last
// chunk with no choices and the usage.
//
// finish_reason: the engine's stop (an end token) and stop_string are
// "stop", length is "length", abort is "abort" (vLLM's word). A request
// that ends with an error (the drain's timeout, a deadline) gets, streaming,
// its final chunk and then `data: {"error": {...}}` before [DONE];
// non-streaming, the error object with its status instead of the body.
//
// Logprobs: each token's text is its bytes as it stands in the middle of a
// text (Tokenizer::TokenBytes; invalid UTF-8 shown as U+FFFD, the raw bytes
// in chat's `bytes`). Completions: OpenAI's legacy {tokens, token_logprobs,
// top_logprobs, text_offset}; chat: {content: [{token, logprob, bytes,
// top_logprobs}]}.
//
// Not thread-safe: one per request, fed by the thread that reads its
// channel.
#ifndef INFERD_SERVER_HTTP_OPENAI_RESPONSE_H_
#define INFERD_SERVER_HTTP_OPENAI_RESPONSE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "engine/request.h"
#include "engine/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"
#include "server/http/openai_request.h"

namespace inferd::server::http {

struct ResponseContext {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string id;       // "cmpl-..." / "chatcmpl-..."
  int64_t created = 0;  // Unix seconds
  std::string model;    // the served name
  bool stream = false;
  bool include_usage = false;
  std::optional<int32_t> top_logprobs;           // nullopt: no logprobs
  const engine::Tokenizer* tokenizer = nullptr;  // for logprobs' token texts
};

class OpenAiResponder {
 public:
  explicit OpenAiResponder(ResponseContext context);

  // Streaming: the events to send before any output (chat's role delta;
  // "" for completions).
  std::string Start();
  // The bytes to send for this chunk of the engine's stream. Streaming: its
  // events (after the final chunk, through [DONE]). Non-streaming: "" until
  // the final chunk, then the whole body.
  std::string Consume(const engine::RequestOutput& output);
  // Non-streaming, after the final chunk: the response's HTTP status (200,
  // or the error's when the request failed).
  int status() const { return status_; }
  bool finished() const { return finished_; }

 private:
  using Json = nlohmann::ordered_json;

  Json ChunkHead() const;
  Json Usage() const;
  // Appends this output's logprobs to the request's (non-streaming) or
  // returns them alone (streaming).
  Json Logprobs(const engine::RequestOutput& output);
  static std::string Event(const Json& chunk);

  const ResponseContext context_;
  // Non-streaming: the text and logprobs so far.
  std::string text_;
  Json logprobs_;
  int64_t text_offset_ = 0;  // completions' text_offset
  engine::Usage usage_;
  int status_ = 200;
  bool finished_ = false;
};

// The JSON text of `value`, invalid UTF-8 replaced by U+FFFD.
std::string DumpJson(const nlohmann::ordered_json& value);

}  // namespace inferd::server::http

#endif  // INFERD_SERVER_HTTP_OPENAI_RESPONSE_H_
