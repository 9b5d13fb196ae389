// engine/chat/chat_messages.cc — see chat_messages.h.
#include "engine/chat/chat_messages.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace inferd::engine {

namespace {

const char* TypeName(const OrderedJson& v) {
  switch (v.type()) {
    case OrderedJson::value_t::null:
      return "null";
    case OrderedJson::value_t::object:
      return "an object";
    case OrderedJson::value_t::array:
      return "a list";
    case OrderedJson::value_t::string:
      return "a string";
    case OrderedJson::value_t::boolean:
      return "a boolean";
    case OrderedJson::value_t::binary:
      return "binary";
    case OrderedJson::value_t::discarded:
      return "discarded";
    default:
      return "a number";
  }
}

absl::Status Bad(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::Status WrongType(const std::string& field, const OrderedJson& v, const char* wanted) {
  return Bad(field, absl::StrCat("is ", TypeName(v), ", not ", wanted));
}

// obj[key] unless absent or null.
const OrderedJson* Find(const OrderedJson& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

// A string or a list of text parts; "" for null/absent where allowed.
absl::StatusOr<std::string> ReadContent(const OrderedJson* content, const std::string& field,
                                        bool may_be_null) {
  if (content == nullptr) {
    if (may_be_null) return std::string();
    return Bad(field, "missing (a string or a list of text parts)");
  }
  if (content->is_string()) return content->get<std::string>();
  if (!content->is_array()) return WrongType(field, *content, "a string or a list of text parts");
  std::vector<std::string> texts;
  for (size_t i = 0; i < content->size(); ++i) {
    const std::string part_field = absl::StrCat(field, "[", i, "]");
    const OrderedJson& part = (*content)[i];
    if (!part.is_object()) return WrongType(part_field, part, "an object");
    const OrderedJson* type = Find(part, "type");
    if (type == nullptr || !type->is_string()) {
      return Bad(part_field + ".type", "missing or not a string");
    }
    if (type->get<std::string>() != "text") {
      return Bad(part_field + ".type", absl::StrCat("\"", type->get<std::string>(),
                                                    "\" is not supported (text parts only)"));
    }
    const OrderedJson* text = Find(part, "text");
    if (text == nullptr || !text->is_string()) {
      return Bad(part_field + ".text", "missing or not a string");
    }
    texts.push_back(text->get<std::string>());
  }
  return absl::StrJoin(texts, "\n");
}

absl::StatusOr<OrderedJson> ReadToolCall(const OrderedJson& call, const std::string& field) {
  if (!call.is_object()) return WrongType(field, call, "an object");
  if (const OrderedJson* id = Find(call, "id"); id != nullptr && !id->is_string()) {
    return WrongType(field + ".id", *id, "a string");
  }
  if (const OrderedJson* type = Find(call, "type"); type != nullptr) {
    if (!type->is_string() || type->get<std::string>() != "function") {
      return Bad(field + ".type", "only \"function\" tool calls are supported");
    }
  }
  const OrderedJson* function = Find(call, "function");
  if (function == nullptr || !function->is_object()) {
    return Bad(field + ".function", "missing or not an object");
  }
  const OrderedJson* name = Find(*function, "name");
  if (name == nullptr || !name->is_string()) {
    return Bad(field + ".function.name", "missing or not a string");
  }
  // As given, but for the arguments: a JSON string becomes its value.
  OrderedJson out = call;
  OrderedJson& arguments = out["function"]["arguments"];
  if (arguments.is_null() ||
      (arguments.is_string() && arguments.get_ref<const std::string&>().empty())) {
    arguments = OrderedJson::object();
  } else if (arguments.is_string()) {
    const std::string text = arguments.get<std::string>();
    arguments = OrderedJson::parse(text, nullptr, /*allow_exceptions=*/false);
    if (arguments.is_discarded()) {
      return Bad(field + ".function.arguments", "is a string that is not valid JSON");
    }
    if (absl::Status s = CheckDepth(arguments, field + ".function.arguments"); !s.ok()) return s;
  }
  return out;
}

absl::StatusOr<OrderedJson> ReadMessage(const OrderedJson& message, const std::string& field) {
  if (!message.is_object()) return WrongType(field, message, "an object");
  const OrderedJson* role_value = Find(message, "role");
  if (role_value == nullptr || !role_value->is_string()) {
    return Bad(field + ".role", "missing or not a string");
  }
  const std::string role = role_value->get<std::string>();
  if (role != "system" && role != "user" && role != "assistant" && role != "tool") {
    return Bad(field + ".role",
               absl::StrCat("\"", role, "\" is not one of system, user, assistant, tool"));
  }
  const bool assistant = role == "assistant";
  OrderedJson out = OrderedJson::object();
  out["role"] = role;
  absl::StatusOr<std::string> content =
      ReadContent(Find(message, "content"), field + ".content", assistant);
  if (!content.ok()) return content.status();
  out["content"] = *std::move(content);
  if (const OrderedJson* name = Find(message, "name"); name != nullptr) {
    if (!name->is_string()) return WrongType(field + ".name", *name, "a string");
    out["name"] = *name;
  }
  if (const OrderedJson* calls = Find(message, "tool_calls"); calls != nullptr) {
    if (!assistant) return Bad(field + ".tool_calls", "only assistant messages have tool calls");
    if (!calls->is_array()) return WrongType(field + ".tool_calls", *calls, "a list");
    if (!calls->empty()) {
      OrderedJson list = OrderedJson::array();
      for (size_t i = 0; i < calls->size(); ++i) {
        absl::StatusOr<OrderedJson> call =
            ReadToolCall((*calls)[i], absl::StrCat(field, ".tool_calls[", i, "]"));
        if (!call.ok()) return call.status();
        list.push_back(*std::move(call));
      }
      out["tool_calls"] = std::move(list);
    }
  }
  if (const OrderedJson* id = Find(message, "tool_call_id"); id != nullptr) {
    if (role != "tool") return Bad(field + ".tool_call_id", "only tool messages have one");
    if (!id->is_string()) return WrongType(field + ".tool_call_id", *id, "a string");
    out["tool_call_id"] = *id;
  }
  if (const OrderedJson* reasoning = Find(message, "reasoning_content"); reasoning != nullptr) {
    if (!assistant) return Bad(field + ".reasoning_content", "only assistant messages have one");
    if (!reasoning->is_string()) {
      return WrongType(field + ".reasoning_content", *reasoning, "a string");
    }
    out["reasoning_content"] = *reasoning;
  }
  return out;
}

}  // namespace

// Iterative: the value may be nested past what a recursive walk survives.
absl::Status CheckDepth(const OrderedJson& root, const std::string& field) {
  std::vector<std::pair<const OrderedJson*, int>> stack = {{&root, 1}};
  while (!stack.empty()) {
    auto [value, depth] = stack.back();
    stack.pop_back();
    if (!value->is_structured()) continue;
    if (depth > kMaxChatJsonDepth) {
      return Bad(field, absl::StrCat("nested deeper than ", kMaxChatJsonDepth, " levels"));
    }
    for (const OrderedJson& child : *value) stack.emplace_back(&child, depth + 1);
  }
  return absl::OkStatus();
}

absl::StatusOr<OrderedJson> NormalizeChatMessages(const OrderedJson& messages) {
  if (!messages.is_array()) return WrongType("messages", messages, "a list");
  if (messages.empty()) return Bad("messages", "is empty");
  if (absl::Status s = CheckDepth(messages, "messages"); !s.ok()) return s;
  OrderedJson out = OrderedJson::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    absl::StatusOr<OrderedJson> message =
        ReadMessage(messages[i], absl::StrCat("messages[", i, "]"));
    if (!message.ok()) return message.status();
    out.push_back(*std::move(message));
  }
  return out;
}

absl::Status CheckChatTools(const OrderedJson& tools) {
  if (tools.is_null()) return absl::OkStatus();
  if (!tools.is_array()) return WrongType("tools", tools, "a list");
  if (absl::Status s = CheckDepth(tools, "tools"); !s.ok()) return s;
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string field = absl::StrCat("tools[", i, "]");
    const OrderedJson& tool = tools[i];
    if (!tool.is_object()) return WrongType(field, tool, "an object");
    if (const OrderedJson* type = Find(tool, "type"); type != nullptr) {
      if (!type->is_string() || type->get<std::string>() != "function") {
        return Bad(field + ".type", "only \"function\" tools are supported");
      }
    }
    const OrderedJson* function = Find(tool, "function");
    if (function == nullptr || !function->is_object()) {
      return Bad(field + ".function", "missing or not an object");
    }
    const OrderedJson* name = Find(*function, "name");
    if (name == nullptr || !name->is_string()) {
      return Bad(field + ".function.name", "missing or not a string");
    }
  }
  return absl::OkStatus();
}

}  // namespace inferd::engine
