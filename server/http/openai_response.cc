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

std::string OpenAiResponder::Start() {
  if (!context_.stream || context_.endpoint != Endpoint::kChatCompletions) return "";
  Json chunk = ChunkHead();
  chunk["choices"] = Json::array();
  for (int i = 0; i < num_choices(); ++i) {
    Json choice;
    choice["index"] = i;
    choice["delta"] = Json{{"role", "assistant"}, {"content", ""}};
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
  if (!output.text.empty() || !output.logprobs.empty() || output.finished) {
    Json chunk = ChunkHead();
    Json c;
    c["index"] = index;
    if (chat) {
      c["delta"] = output.text.empty() ? Json::object() : Json{{"content", output.text}};
    } else {
      c["text"] = output.text;
    }
    c["logprobs"] = std::move(logprobs);
    c["finish_reason"] = FinishReasonJson(output);
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
    if (chat) {
      c["message"] = Json{{"role", "assistant"}, {"content", choice.text}};
    } else {
      c["text"] = choice.text;
    }
    c["logprobs"] = choice.logprobs;
    const char* reason = FinishReasonOf(choice.finish_reason);
    c["finish_reason"] = reason == nullptr ? Json() : Json(reason);
    body["choices"].push_back(std::move(c));
  }
  body["usage"] = Usage();
  return DumpJson(body);
}

}  // namespace inferd::server::http
