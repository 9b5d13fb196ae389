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

OpenAiResponder::OpenAiResponder(ResponseContext context) : context_(std::move(context)) {}

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
  Json usage;
  usage["prompt_tokens"] = usage_.prompt_tokens;
  usage["completion_tokens"] = usage_.completion_tokens;
  usage["total_tokens"] = usage_.prompt_tokens + usage_.completion_tokens;
  if (usage_.cached_tokens > 0) {
    usage["prompt_tokens_details"] = Json{{"cached_tokens", usage_.cached_tokens}};
  }
  return usage;
}

std::string OpenAiResponder::Event(const Json& chunk) {
  return absl::StrCat("data: ", DumpJson(chunk), "\n\n");
}

Json OpenAiResponder::Logprobs(const engine::RequestOutput& output) {
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
      part["text_offset"].push_back(text_offset_);
      text_offset_ += static_cast<int64_t>(bytes.size());
    }
  }
  if (context_.stream) return part;
  if (logprobs_.is_null()) {
    logprobs_ = std::move(part);
  } else {
    for (auto it = part.begin(); it != part.end(); ++it) {
      for (Json& item : *it) logprobs_[it.key()].push_back(std::move(item));
    }
  }
  return Json();
}

std::string OpenAiResponder::Start() {
  if (!context_.stream || context_.endpoint != Endpoint::kChatCompletions) return "";
  Json chunk = ChunkHead();
  Json choice;
  choice["index"] = 0;
  choice["delta"] = Json{{"role", "assistant"}, {"content", ""}};
  choice["logprobs"] = Json();
  choice["finish_reason"] = Json();
  chunk["choices"] = Json::array({std::move(choice)});
  if (context_.include_usage) chunk["usage"] = Json();
  return Event(chunk);
}

std::string OpenAiResponder::Consume(const engine::RequestOutput& output) {
  if (finished_) return "";
  const bool chat = context_.endpoint == Endpoint::kChatCompletions;
  if (output.finished) {
    finished_ = true;
    usage_ = output.usage;
  }
  Json logprobs = Logprobs(output);
  if (context_.stream) {
    std::string events;
    if (!output.text.empty() || !output.logprobs.empty() || output.finished) {
      Json chunk = ChunkHead();
      Json choice;
      choice["index"] = 0;
      if (chat) {
        choice["delta"] = output.text.empty() ? Json::object() : Json{{"content", output.text}};
      } else {
        choice["text"] = output.text;
      }
      choice["logprobs"] = std::move(logprobs);
      choice["finish_reason"] = FinishReasonJson(output);
      chunk["choices"] = Json::array({std::move(choice)});
      if (context_.include_usage) chunk["usage"] = Json();
      events = Event(chunk);
    }
    if (!output.finished) return events;
    if (context_.include_usage) {
      Json chunk = ChunkHead();
      chunk["choices"] = Json::array();
      chunk["usage"] = Usage();
      absl::StrAppend(&events, Event(chunk));
    }
    if (!output.status.ok()) {
      absl::StrAppend(&events, "data: ", ErrorJson(ErrorFromStatus(output.status)), "\n\n");
    }
    absl::StrAppend(&events, "data: [DONE]\n\n");
    return events;
  }
  absl::StrAppend(&text_, output.text);
  if (!output.finished) return "";
  if (!output.status.ok()) {
    const HttpError error = ErrorFromStatus(output.status);
    status_ = error.status;
    return ErrorJson(error);
  }
  Json body = ChunkHead();
  Json choice;
  choice["index"] = 0;
  if (chat) {
    choice["message"] = Json{{"role", "assistant"}, {"content", text_}};
  } else {
    choice["text"] = text_;
  }
  choice["logprobs"] = logprobs_;
  choice["finish_reason"] = FinishReasonJson(output);
  body["choices"] = Json::array({std::move(choice)});
  body["usage"] = Usage();
  return DumpJson(body);
}

}  // namespace inferd::server::http
