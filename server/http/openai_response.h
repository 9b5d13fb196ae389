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
// Tool calls (chat, tool_choice required or a named function): the output
// was constrained to the calls' JSON; it comes back as `message.tool_calls`
// ({id, type: function, function: {name, arguments}}, content null,
// finish_reason "tool_calls"). Streaming, a named call's id and name come in
// the first chunk and its arguments as they are generated; a required list
// comes whole in the last chunk. A choice cut by max_tokens keeps its text
// as content.
//
// Logprobs: each token's text is its bytes as it stands in the middle of a
// text (Tokenizer::TokenBytes; invalid UTF-8 shown as U+FFFD, the raw bytes
// in chat's `bytes`). Completions: OpenAI's legacy {tokens, token_logprobs,
// top_logprobs, text_offset}; chat: {content: [{token, logprob, bytes,
// top_logprobs}]}.
//
// `n` choices: one engine stream each, fed in by index; each choice gets its
// own chunks (`index`), its own finish_reason, and the end ([DONE], the
// body) comes once every choice has finished.
//
// Not thread-safe: one per request, fed by the thread that reads its
// channels.
#ifndef INFERD_SERVER_HTTP_OPENAI_RESPONSE_H_
#define INFERD_SERVER_HTTP_OPENAI_RESPONSE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
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
  // Chat: a tool_choice that calls a tool (openai_request.h) turns the
  // constrained output into `tool_calls`.
  ToolChoice tool_choice = ToolChoice::kNone;
  std::string tool_name;  // kNamed
};

class OpenAiResponder {
 public:
  // `n` choices (OpenAI's `n`), each fed by its own engine request.
  explicit OpenAiResponder(ResponseContext context, int n = 1);

  int num_choices() const { return static_cast<int>(choices_.size()); }
  // Streaming: the events to send before any output (chat's role delta for
  // each choice; "" for completions).
  std::string Start();
  // The bytes to send for this chunk of choice `index`'s engine stream.
  // Streaming: its events (after the last choice's final chunk, through
  // [DONE]). Non-streaming: "" until every choice has finished, then the
  // whole body.
  std::string Consume(int index, const engine::RequestOutput& output);
  // Non-streaming, once finished: the response's HTTP status (200, or the
  // error's when a choice failed).
  int status() const { return status_; }
  bool finished(int index) const { return choices_[index].finished; }
  // Choice `index`'s final chunk's fields (zero, kNone, OK before it).
  const engine::Usage& usage(int index) const { return choices_[index].usage; }
  engine::FinishReason finish_reason(int index) const { return choices_[index].finish_reason; }
  const absl::Status& status(int index) const { return choices_[index].status; }
  // Every choice has had its final chunk.
  bool finished() const { return num_finished_ == num_choices(); }

 private:
  using Json = nlohmann::ordered_json;

  struct Choice {
    std::string text;         // non-streaming: the text so far
    Json logprobs;            // non-streaming: the logprobs so far
    int64_t text_offset = 0;  // completions' text_offset
    bool finished = false;
    engine::FinishReason finish_reason = engine::FinishReason::kNone;
    engine::Usage usage;
    absl::Status status;
  };

  Json ChunkHead() const;
  // One usage for the request: the prompt once, the completions summed.
  Json Usage() const;
  // Appends this output's logprobs to the choice's (non-streaming) or
  // returns them alone (streaming).
  Json Logprobs(Choice& choice, const engine::RequestOutput& output);
  // The request's end: the usage chunk, an error event, [DONE] (streaming);
  // the body or the error (non-streaming).
  std::string End();
  static std::string Event(const Json& chunk);
  // The engine ended the choice (end token, stop string, the constraint's
  // completion), not a limit or an abort.
  static bool EndedByItself(engine::FinishReason reason);
  Json ToolCall(int index, int k, const std::string& name, std::string arguments) const;
  // Choice `index`'s text as tool calls (named: one call whose arguments are
  // the text; required: the parsed list); null when the text is not a list
  // of calls. `with_index`: streaming deltas number the calls.
  Json ToolCalls(int index, const std::string& text, bool with_index) const;

  const ResponseContext context_;
  std::vector<Choice> choices_;
  int num_finished_ = 0;
  int status_ = 200;
};

// The JSON text of `value`, invalid UTF-8 replaced by U+FFFD.
std::string DumpJson(const nlohmann::ordered_json& value);

}  // namespace inferd::server::http

#endif  // INFERD_SERVER_HTTP_OPENAI_RESPONSE_H_
