// loadtest/inferload/openai_stream.cc
#include "loadtest/inferload/openai_stream.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace inferd::inferload {

namespace {

using Json = nlohmann::json;

absl::Status Bad(absl::string_view what, absl::string_view data) {
  constexpr size_t kQuoteBytes = 80;
  const absl::string_view head = data.substr(0, kQuoteBytes);
  return absl::InvalidArgumentError(absl::StrCat(
      "bad SSE event from the server: ", what, " (", head.size(), " of ", data.size(), " bytes: ",
      Json(std::string(head)).dump(-1, ' ', false, Json::error_handler_t::replace), ")"));
}

// A non-negative integer field of `object`, if there.
absl::StatusOr<std::optional<int64_t>> Count(const Json& object, const char* field,
                                             absl::string_view data) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::optional<int64_t>();
  if (!it->is_number_unsigned()) {
    return Bad(absl::StrCat("usage.", field, " is not a non-negative integer"), data);
  }
  return std::optional<int64_t>(it->get<int64_t>());
}

}  // namespace

std::string CompletionRequestBody(const RequestSpec& spec, const SamplingOptions& sampling) {
  Json body = Json::object();
  if (spec.text.has_value()) {
    body["prompt"] = *spec.text;
  } else {
    body["prompt"] = spec.token_ids;
  }
  body["max_tokens"] = spec.max_tokens;
  body["ignore_eos"] = true;
  body["temperature"] = sampling.temperature;
  if (sampling.priority != 0) body["priority"] = sampling.priority;
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::Status SseReader::Feed(absl::string_view bytes, std::vector<std::string>* events) {
  for (const char c : bytes) {
    if (c == '\n' && after_cr_) {  // the LF of a CRLF: the line already ended
      after_cr_ = false;
      continue;
    }
    after_cr_ = c == '\r';
    if (c == '\n' || c == '\r') {
      EndLine(events);
      continue;
    }
    if (line_.size() >= kMaxLineBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad SSE stream from the server: a line longer than ", kMaxLineBytes, " bytes"));
    }
    line_.push_back(c);
  }
  return absl::OkStatus();
}

void SseReader::EndLine(std::vector<std::string>* events) {
  if (line_.empty()) {  // a blank line ends the event
    if (has_data_) events->push_back(std::move(data_));
    data_.clear();
    has_data_ = false;
    return;
  }
  absl::string_view line = line_;
  const size_t colon = line.find(':');
  const absl::string_view field = line.substr(0, colon);
  absl::string_view value = colon == absl::string_view::npos ? "" : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value.data(), value.size());
    has_data_ = true;
  }
  // A comment (empty field) or another field (event, id, retry): skipped.
  line_.clear();
}

absl::StatusOr<CompletionEvent> ReadCompletionEvent(absl::string_view data) {
  CompletionEvent event;
  if (data == "[DONE]") {
    event.done = true;
    return event;
  }
  const Json json = Json::parse(data.begin(), data.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Bad("not JSON", data);
  if (!json.is_object()) return Bad("not a JSON object", data);
  if (auto error = json.find("error"); error != json.end()) {
    if (!error->is_object()) return Bad("'error' is not an object", data);
    auto message = error->find("message");
    auto type = error->find("type");
    if (message == error->end() || !message->is_string()) {
      return Bad("error.message is not a string", data);
    }
    event.error_message = message->get<std::string>();
    event.error_code =
        CodeForErrorType(type != error->end() && type->is_string() ? type->get<std::string>() : "");
    return event;
  }
  auto choices = json.find("choices");
  if (choices == json.end() || !choices->is_array()) return Bad("no 'choices' array", data);
  for (const Json& choice : *choices) {
    if (!choice.is_object()) return Bad("a choice is not an object", data);
    auto text = choice.find("text");
    if (text != choice.end()) {
      if (!text->is_string()) return Bad("choices[].text is not a string", data);
      if (!text->get_ref<const std::string&>().empty()) event.has_text = true;
    }
    auto finish = choice.find("finish_reason");
    if (finish != choice.end() && !finish->is_null()) {
      if (!finish->is_string()) return Bad("choices[].finish_reason is not a string", data);
      event.finished = true;
    }
  }
  auto usage = json.find("usage");
  if (usage != json.end() && !usage->is_null()) {
    if (!usage->is_object()) return Bad("'usage' is not an object", data);
    absl::StatusOr<std::optional<int64_t>> prompt = Count(*usage, "prompt_tokens", data);
    if (!prompt.ok()) return prompt.status();
    absl::StatusOr<std::optional<int64_t>> completion = Count(*usage, "completion_tokens", data);
    if (!completion.ok()) return completion.status();
    if (!prompt->has_value() || !completion->has_value()) {
      return Bad("usage without prompt_tokens and completion_tokens", data);
    }
    event.prompt_tokens = *prompt;
    event.completion_tokens = *completion;
    auto details = usage->find("prompt_tokens_details");
    if (details != usage->end() && details->is_object()) {
      absl::StatusOr<std::optional<int64_t>> cached = Count(*details, "cached_tokens", data);
      if (!cached.ok()) return cached.status();
      event.cached_tokens = cached->value_or(0);
    }
  }
  return event;
}

int CodeForHttpStatus(int status) {
  switch (status) {
    case 400:
    case 413:
    case 431:
      return static_cast<int>(absl::StatusCode::kInvalidArgument);
    case 401:
      return static_cast<int>(absl::StatusCode::kUnauthenticated);
    case 403:
      return static_cast<int>(absl::StatusCode::kPermissionDenied);
    case 404:
    case 405:
      return static_cast<int>(absl::StatusCode::kNotFound);
    case 429:
      return static_cast<int>(absl::StatusCode::kResourceExhausted);
    case 503:
      return static_cast<int>(absl::StatusCode::kUnavailable);
    case 504:
      return static_cast<int>(absl::StatusCode::kDeadlineExceeded);
    default:
      return static_cast<int>(status >= 500 && status < 600 ? absl::StatusCode::kInternal
                                                            : absl::StatusCode::kUnknown);
  }
}

int CodeForErrorType(absl::string_view type) {
  if (type == "invalid_request_error") return static_cast<int>(absl::StatusCode::kInvalidArgument);
  if (type == "authentication_error") return static_cast<int>(absl::StatusCode::kUnauthenticated);
  if (type == "not_found_error") return static_cast<int>(absl::StatusCode::kNotFound);
  if (type == "rate_limit_error") return static_cast<int>(absl::StatusCode::kResourceExhausted);
  if (type == "service_unavailable_error") return static_cast<int>(absl::StatusCode::kUnavailable);
  if (type == "timeout_error") return static_cast<int>(absl::StatusCode::kDeadlineExceeded);
  return static_cast<int>(absl::StatusCode::kInternal);
}

}  // namespace inferd::inferload
