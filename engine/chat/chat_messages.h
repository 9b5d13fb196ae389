// engine/chat/chat_messages.h — an OpenAI-style `messages` list (and
// `tools`) checked and put in the form chat templates expect, as vLLM's
// OpenAI server hands them to HF templates.
//
// Accepted, per message:
//   role          "system", "user", "assistant" or "tool";
//   content       a string, or a list of text parts {"type": "text",
//                 "text": ...} joined with "\n" (vLLM's "string" content
//                 format); null or absent only on assistant messages (then
//                 ""); other part types (image_url, ...) are refused;
//   name          a string (optional);
//   tool_calls    assistant only: a list of {"id"?, "type"?: "function",
//                 "function": {"name", "arguments"}}; arguments given as a
//                 JSON string are parsed into the value templates expect
//                 (null or "" become {}); an empty list is dropped;
//   tool_call_id  tool only: a string (optional);
//   reasoning_content  assistant only: a string (optional).
// Other keys are dropped. Errors are INVALID_ARGUMENT naming the field, as
// "messages[2].role: ...". Key order is kept (ordered_json), as Python's
// dicts keep it: templates that print JSON print it in the client's order.
#ifndef INFERD_ENGINE_CHAT_CHAT_MESSAGES_H_
#define INFERD_ENGINE_CHAT_CHAT_MESSAGES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace inferd::engine {

using OrderedJson = nlohmann::ordered_json;

// Deepest nesting of lists and objects accepted in messages, tool-call
// arguments, tools and template keyword arguments.
inline constexpr int kMaxChatJsonDepth = 64;

// INVALID_ARGUMENT "<field>: nested deeper than 64 levels" past the bound:
// the JSON is printed (a recursive walk) and parsed again by Python.
absl::Status CheckDepth(const OrderedJson& value, const std::string& field);

// A non-empty list of messages in the form above.
absl::StatusOr<OrderedJson> NormalizeChatMessages(const OrderedJson& messages);

// `tools`: null, or a list of {"type"?: "function", "function": {"name": a
// string, ...}}; the tools reach the template unchanged.
absl::Status CheckChatTools(const OrderedJson& tools);

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_CHAT_CHAT_MESSAGES_H_
