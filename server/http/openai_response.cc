// server/http/openai_response.cc
#include "server/http/openai_response.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/http/http_error.h"

namespace inferd::server::http {

namespace {

using Json = nlohmann::ordered_json;

const char* FinishReasonOf(engine::FinishReason reason) {
  switch (reason) {
    case engine::FinishReason::kStop:
    case engine::FinishReason::kStopString:
      return "stop";
    case engine::FinishReason::kLength:
      return "length";
    case engine::FinishReason::kAbort:
      return "abort";
    case engine::FinishReason::kNone:
      break;
  }
  return nullptr;
}

Json FinishReasonJson(const engine::RequestOutput& output) {
  const char* reason = output.finished ? FinishReasonOf(output.finish_reason) : nullptr;
  return reason == nullptr ? Json() : Json(reason);
}

Json Bytes(const std::string& bytes) {
  Json list = Json::array();
  for (unsigned char c : bytes) list.push_back(static_cast<int>(c));
  return list;
}

}  // namespace

std::string DumpJson(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

OpenAiResponder::OpenAiResponder(ResponseContext context, int n)
    : context_(std::move(context)), choices_(n) {}

Json OpenAiResponder::ChunkHead() const {
  const bool chat = context_.endpoint == Endpoint::kChatCompletions;
  Json head;
  head["id"] = context_.id;
  head["object"] =
      chat ? (context_.stream ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  head["created"] = context_.created;
  head["model"] = context_.model;
  return head;
}

Json OpenAiResponder::Usage() const {
  int64_t completion_tokens = 0;
  for (const Choice& choice : choices_) completion_tokens += choice.usage.completion_tokens;
  const engine::Usage& first = choices_[0].usage;
  Json usage;
  usage["prompt_tokens"] = first.prompt_tokens;
  usage["completion_tokens"] = completion_tokens;
  usage["total_tokens"] = first.prompt_tokens + completion_tokens;
  if (first.cached_tokens > 0) {
    usage["prompt_tokens_details"] = Json{{"cached_tokens", first.cached_tokens}};
  }
  return usage;
}

std::string OpenAiResponder::Event(const Json& chunk) {
  return absl::StrCat("data: ", DumpJson(chunk), "\n\n");
}

Json OpenAiResponder::Logprobs(Choice& choice, const engine::RequestOutput& output) {
  if (!context_.top_logprobs.has_value()) return Json();
  const engine::Tokenizer& tokenizer = *context_.tokenizer;
  const bool chat = context_.endpoint == Endpoint::kChatCompletions;
  Json part;
  if (chat) {
    part["content"] = Json::array();
  } else {
    part["tokens"] = Json::array();
    part["token_logprobs"] = Json::array();
    part["top_logprobs"] = Json::array();
    part["text_offset"] = Json::array();
  }
  for (const engine::TokenLogprob& lp : output.logprobs) {
    const std::string bytes = tokenizer.TokenBytes(lp.token_id);
    if (chat) {
      Json entry;
      entry["token"] = bytes;
      entry["logprob"] = lp.logprob;
      entry["bytes"] = Bytes(bytes);
      Json top = Json::array();
      for (const auto& [id, logprob] : lp.top) {
        const std::string top_bytes = tokenizer.TokenBytes(id);
        top.push_back(
            Json{{"token", top_bytes}, {"logprob", logprob}, {"bytes", Bytes(top_bytes)}});
      }
      entry["top_logprobs"] = std::move(top);
      part["content"].push_back(std::move(entry));
    } else {
      part["tokens"].push_back(bytes);
      part["token_logprobs"].push_back(lp.logprob);
      Json top = Json::object();
      for (const auto& [id, logprob] : lp.top) top[tokenizer.TokenBytes(id)] = logprob;
      part["top_logprobs"].push_back(std::move(top));
      part["text_offset"].push_back(choice.text_offset);
      choice.text_offset += static_cast<int64_t>(bytes.size());
    }
  }
  if (context_.stream) return part;
  if (choice.logprobs.is_null()) {
    choice.logprobs = std::move(part);
  } else {
    for (auto it = part.begin(); it != part.end(); ++it) {
      for (Json& item : *it) choice.logprobs[it.key()].push_back(std::move(item));
    }
  }
  return Json();
}

bool OpenAiResponder::EndedByItself(engine::FinishReason reason) {
  return reason == engine::FinishReason::kStop || reason == engine::FinishReason::kStopString;
}

Json OpenAiResponder::ToolCall(int index, int k, const std::string& name,
                               std::string arguments) const {
  Json call;
  call["id"] = absl::StrCat("call_", context_.id, "_", index, "_", k);
  call["type"] = "function";
  call["function"] = Json{{"name", name}, {"arguments", std::move(arguments)}};
  return call;
}

Json OpenAiResponder::ToolCalls(int index, const std::string& text, bool with_index) const {
  Json calls = Json::array();
  auto add = [&](Json call) {
    if (with_index) {
      Json indexed = Json{{"index", calls.size()}};
      for (auto it = call.begin(); it != call.end(); ++it) indexed[it.key()] = *it;
      call = std::move(indexed);
    }
    calls.push_back(std::move(call));
  };
  if (context_.tool_choice == ToolChoice::kNamed) {
    add(ToolCall(index, 0, context_.tool_name, text));
    return calls;
  }
  const Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array() || parsed.empty()) return Json();
  for (const Json& element : parsed) {
    auto name = element.find("name");
    if (!element.is_object() || name == element.end() || !name->is_string()) return Json();
    auto parameters = element.find("parameters");
    add(ToolCall(index, static_cast<int>(calls.size()), name->get<std::string>(),
                 DumpJson(parameters == element.end() ? Json::object() : *parameters)));
  }
  return calls;
}

std::string OpenAiResponder::Start() {
  if (!context_.stream || context_.endpoint != Endpoint::kChatCompletions) return "";
  Json chunk = ChunkHead();
  chunk["choices"] = Json::array();
  for (int i = 0; i < num_choices(); ++i) {
    Json choice;
    choice["index"] = i;
    choice["delta"] = Json{{"role", "assistant"}, {"content", ""}};
    if (context_.tool_choice == ToolChoice::kNamed) {
      // The call's id and name first; its arguments follow as they come.
      Json call = ToolCall(i, 0, context_.tool_name, "");
      call["index"] = 0;
      choice["delta"] = Json{{"role", "assistant"},
                             {"content", Json()},
                             {"tool_calls", Json::array({std::move(call)})}};
    }
    choice["logprobs"] = Json();
    choice["finish_reason"] = Json();
    chunk["choices"].push_back(std::move(choice));
  }
  if (context_.include_usage) chunk["usage"] = Json();
  return Event(chunk);
}

std::string OpenAiResponder::Consume(int index, const engine::RequestOutput& output) {
  Choice& choice = choices_[index];
  if (choice.finished) return "";
  const bool chat = context_.endpoint == Endpoint::kChatCompletions;
  if (output.finished) {
    choice.finished = true;
    choice.finish_reason = output.finish_reason;
    choice.usage = output.usage;
    choice.status = output.status;
    ++num_finished_;
  }
  Json logprobs = Logprobs(choice, output);
  if (!context_.stream) {
    absl::StrAppend(&choice.text, output.text);
    return finished() ? End() : "";
  }
  std::string events;
  const bool buffered = chat && context_.tool_choice == ToolChoice::kRequired;
  if (buffered) absl::StrAppend(&choice.text, output.text);  // parsed once complete
  if ((!output.text.empty() && !buffered) || !output.logprobs.empty() || output.finished) {
    Json chunk = ChunkHead();
    Json c;
    c["index"] = index;
    Json finish_reason = FinishReasonJson(output);
    if (chat && context_.tool_choice == ToolChoice::kNamed) {
      // The text is the named tool's arguments, streamed as they come.
      c["delta"] = output.text.empty()
                       ? Json::object()
                       : Json{{"tool_calls",
                               Json::array({Json{{"index", 0},
                                                 {"function", {{"arguments", output.text}}}}})}};
      if (output.finished && EndedByItself(output.finish_reason)) finish_reason = "tool_calls";
    } else if (chat && context_.tool_choice == ToolChoice::kRequired) {
      c["delta"] = Json::object();
      if (output.finished) {
        Json calls =
            EndedByItself(output.finish_reason) ? ToolCalls(index, choice.text, true) : Json();
        if (calls.is_null()) {
          c["delta"]["content"] = choice.text;
        } else {
          c["delta"]["tool_calls"] = std::move(calls);
          finish_reason = "tool_calls";
        }
      }
    } else if (chat) {
      c["delta"] = output.text.empty() ? Json::object() : Json{{"content", output.text}};
    } else {
      c["text"] = output.text;
    }
    c["logprobs"] = std::move(logprobs);
    c["finish_reason"] = std::move(finish_reason);
    chunk["choices"] = Json::array({std::move(c)});
    if (context_.include_usage) chunk["usage"] = Json();
    events = Event(chunk);
  }
  if (finished()) absl::StrAppend(&events, End());
  return events;
}

std::string OpenAiResponder::End() {
  absl::Status failed;
  for (const Choice& choice : choices_) {
    if (!choice.status.ok()) {
      failed = choice.status;
      break;
    }
  }
  if (context_.stream) {
    std::string events;
    if (context_.include_usage) {
      Json chunk = ChunkHead();
      chunk["choices"] = Json::array();
      chunk["usage"] = Usage();
      events = Event(chunk);
    }
    if (!failed.ok())
      absl::StrAppend(&events, "data: ", ErrorJson(ErrorFromStatus(failed)), "\n\n");
    absl::StrAppend(&events, "data: [DONE]\n\n");
    return events;
  }
  if (!failed.ok()) {
    const HttpError error = ErrorFromStatus(failed);
    status_ = error.status;
    return ErrorJson(error);
  }
  const bool chat = context_.endpoint == Endpoint::kChatCompletions;
  Json body = ChunkHead();
  body["choices"] = Json::array();
  for (int i = 0; i < num_choices(); ++i) {
    Choice& choice = choices_[i];
    Json c;
    c["index"] = i;
    const char* reason = FinishReasonOf(choice.finish_reason);
    if (chat) {
      Json calls = context_.tool_choice != ToolChoice::kNone && EndedByItself(choice.finish_reason)
                       ? ToolCalls(i, choice.text, false)
                       : Json();
      if (calls.is_null()) {
        c["message"] = Json{{"role", "assistant"}, {"content", choice.text}};
      } else {
        c["message"] = Json{{"role", "assistant"}, {"content", Json()}, {"tool_calls", calls}};
        reason = "tool_calls";
      }
    } else {
      c["text"] = choice.text;
    }
    c["logprobs"] = choice.logprobs;
    c["finish_reason"] = reason == nullptr ? Json() : Json(reason);
    body["choices"].push_back(std::move(c));
  }
  body["usage"] = Usage();
  return DumpJson(body);
}

}  // namespace inferd::server::http
