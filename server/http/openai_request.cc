// server/http/openai_request.cc
#include "server/http/openai_request.h"

#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_fields.h"

namespace inferd::server::http {

namespace {

absl::Status FieldError(absl::string_view param, absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kParamPayload, absl::Cord(param));
  return status;
}

const char* TypeName(const OrderedJson& value) {
  switch (value.type()) {
    case OrderedJson::value_t::null:
      return "null";
    case OrderedJson::value_t::object:
      return "an object";
    case OrderedJson::value_t::array:
      return "an array";
    case OrderedJson::value_t::string:
      return "a string";
    case OrderedJson::value_t::boolean:
      return "a boolean";
    case OrderedJson::value_t::number_integer:
    case OrderedJson::value_t::number_unsigned:
      return "an integer";
    case OrderedJson::value_t::number_float:
      return "a number";
    default:
      return "an unsupported value";
  }
}

absl::Status WrongType(absl::string_view field, absl::string_view expected,
                       const OrderedJson& value) {
  return FieldError(field, absl::StrCat(field, ": expected ", expected, ", got ", TypeName(value)));
}

// Typed reads of the body's fields; an absent or null field is nullopt.
class Fields {
 public:
  explicit Fields(const OrderedJson& body) : body_(body) {}

  const OrderedJson* Find(const char* key) const {
    auto it = body_.find(key);
    if (it == body_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  absl::StatusOr<std::optional<double>> Number(const char* key) const {
    const OrderedJson* v = Find(key);
    if (v == nullptr) return std::optional<double>();
    if (!v->is_number()) return WrongType(key, "a number", *v);
    const double d = v->get<double>();
    if (!std::isfinite(d)) return FieldError(key, absl::StrCat(key, ": must be finite"));
    return std::optional<double>(d);
  }

  // An integer in [lo, hi]; a number with a fraction is refused.
  absl::StatusOr<std::optional<int64_t>> Integer(const char* key, int64_t lo, int64_t hi) const {
    const OrderedJson* v = Find(key);
    if (v == nullptr) return std::optional<int64_t>();
    int64_t value = 0;
    if (v->is_number_unsigned()) {
      const uint64_t u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(hi)) return OutOfRange(key, lo, hi, absl::StrCat(u));
      value = static_cast<int64_t>(u);
    } else if (v->is_number_integer()) {
      value = v->get<int64_t>();
    } else {
      return WrongType(key, "an integer", *v);
    }
    if (value < lo || value > hi) return OutOfRange(key, lo, hi, absl::StrCat(value));
    return std::optional<int64_t>(value);
  }

  absl::StatusOr<std::optional<bool>> Bool(const char* key) const {
    const OrderedJson* v = Find(key);
    if (v == nullptr) return std::optional<bool>();
    if (!v->is_boolean()) return WrongType(key, "a boolean", *v);
    return std::optional<bool>(v->get<bool>());
  }

 private:
  static absl::Status OutOfRange(const char* key, int64_t lo, int64_t hi, const std::string& got) {
    return FieldError(key, absl::StrCat(key, ": must be in [", lo, ", ", hi, "], got ", got));
  }

  const OrderedJson& body_;
};

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// The fields each endpoint accepts; anything else is refused by name.
const std::set<std::string>& KnownFields(Endpoint endpoint) {
  static const std::set<std::string>* completions = new std::set<std::string>{"model",
                                                                              "prompt",
                                                                              "max_tokens",
                                                                              "temperature",
                                                                              "top_p",
                                                                              "top_k",
                                                                              "min_p",
                                                                              "seed",
                                                                              "stop",
                                                                              "n",
                                                                              "stream",
                                                                              "stream_options",
                                                                              "logprobs",
                                                                              "presence_penalty",
                                                                              "frequency_penalty",
                                                                              "repetition_penalty",
                                                                              "ignore_eos",
                                                                              "priority",
                                                                              "stop_token_ids",
                                                                              "response_format",
                                                                              "user",
                                                                              "echo",
                                                                              "best_of",
                                                                              "suffix",
                                                                              "logit_bias",
                                                                              "add_special_tokens"};
  static const std::set<std::string>* chat = new std::set<std::string>{"model",
                                                                       "messages",
                                                                       "max_tokens",
                                                                       "max_completion_tokens",
                                                                       "temperature",
                                                                       "top_p",
                                                                       "top_k",
                                                                       "min_p",
                                                                       "seed",
                                                                       "stop",
                                                                       "n",
                                                                       "stream",
                                                                       "stream_options",
                                                                       "logprobs",
                                                                       "top_logprobs",
                                                                       "presence_penalty",
                                                                       "frequency_penalty",
                                                                       "repetition_penalty",
                                                                       "ignore_eos",
                                                                       "priority",
                                                                       "stop_token_ids",
                                                                       "response_format",
                                                                       "user",
                                                                       "logit_bias",
                                                                       "tools",
                                                                       "tool_choice",
                                                                       "parallel_tool_calls",
                                                                       "chat_template_kwargs",
                                                                       "add_generation_prompt"};
  return endpoint == Endpoint::kCompletions ? *completions : *chat;
}

// `prompt`: a string, a list of one string, token ids, or a list of one
// list of token ids.
absl::Status ReadPrompt(const OrderedJson& prompt, v1::GenerateRequest* out) {
  auto read_ids = [out](const OrderedJson& list, const std::string& field) -> absl::Status {
    if (list.empty()) return FieldError("prompt", absl::StrCat(field, ": the prompt is empty"));
    v1::TokenIds* ids = out->mutable_token_ids();
    for (size_t i = 0; i < list.size(); ++i) {
      const OrderedJson& id = list[i];
      if (!id.is_number_integer() ||
          (id.is_number_unsigned() ? id.get<uint64_t>() > static_cast<uint64_t>(kInt32Max)
                                   : (id.get<int64_t>() < 0 || id.get<int64_t>() > kInt32Max))) {
        return FieldError("prompt",
                          absl::StrCat(field, "[", i, "]: expected a token id (an integer in [0, ",
                                       kInt32Max, "]), got ", id.dump()));
      }
      ids->add_ids(static_cast<int32_t>(id.get<int64_t>()));
    }
    return absl::OkStatus();
  };
  if (prompt.is_string()) {
    out->set_text(prompt.get<std::string>());
    return absl::OkStatus();
  }
  if (!prompt.is_array()) {
    return WrongType("prompt", "a string, a list of strings or a list of token ids", prompt);
  }
  if (prompt.empty()) return FieldError("prompt", "prompt: the list is empty");
  if (prompt[0].is_number()) return read_ids(prompt, "prompt");
  if (prompt.size() > 1) {
    return FieldError("prompt", absl::StrCat("prompt: a list of ", prompt.size(),
                                             " prompts; more than one prompt per request is not "
                                             "supported yet"));
  }
  if (prompt[0].is_string()) {
    out->set_text(prompt[0].get<std::string>());
    return absl::OkStatus();
  }
  if (prompt[0].is_array()) return read_ids(prompt[0], "prompt[0]");
  return WrongType("prompt[0]", "a string or a list of token ids", prompt[0]);
}

// `stop`: a string or a list of strings.
absl::Status ReadStop(const OrderedJson& stop, v1::GenerateRequest* out) {
  if (stop.is_string()) {
    out->add_stop(stop.get<std::string>());
    return absl::OkStatus();
  }
  if (!stop.is_array()) return WrongType("stop", "a string or a list of strings", stop);
  for (size_t i = 0; i < stop.size(); ++i) {
    if (!stop[i].is_string()) {
      return WrongType(absl::StrCat("stop[", i, "]"), "a string", stop[i]);
    }
    out->add_stop(stop[i].get<std::string>());
  }
  return absl::OkStatus();
}

// `response_format`: {"type": "text" | "json_object" | "json_schema",
// "json_schema": {"name", "schema", "strict"}} -> the request's constraint.
absl::Status ReadResponseFormat(const OrderedJson& format, v1::GenerateRequest* out) {
  if (!format.is_object()) return WrongType("response_format", "an object", format);
  auto type = format.find("type");
  if (type == format.end() || !type->is_string()) {
    return FieldError("response_format",
                      "response_format.type: missing or not a string (text, json_object or "
                      "json_schema)");
  }
  const std::string kind = type->get<std::string>();
  if (kind == "text") return absl::OkStatus();
  if (kind == "json_object") {
    out->set_json_object(true);
    return absl::OkStatus();
  }
  if (kind == "json_schema") {
    auto spec = format.find("json_schema");
    if (spec == format.end() || !spec->is_object()) {
      return FieldError("response_format", "response_format.json_schema: missing or not an object");
    }
    auto schema = spec->find("schema");
    if (schema == spec->end() || !(schema->is_object() || schema->is_boolean())) {
      return FieldError("response_format",
                        "response_format.json_schema.schema: missing or not a JSON Schema object");
    }
    out->set_json_schema(schema->dump());
    return absl::OkStatus();
  }
  return FieldError("response_format",
                    absl::StrCat("response_format.type: \"", kind,
                                 "\" is not one of text, json_object, json_schema"));
}

// A tool's `function.parameters` (absent: any object).
absl::StatusOr<OrderedJson> ToolParameters(const OrderedJson& tools, size_t i) {
  const std::string where = absl::StrCat("tools[", i, "]");
  const OrderedJson& tool = tools[i];
  if (!tool.is_object()) return WrongType(where, "an object", tool);
  auto function = tool.find("function");
  if (function == tool.end() || !function->is_object()) {
    return FieldError("tools", absl::StrCat(where, ".function: missing or not an object"));
  }
  auto name = function->find("name");
  if (name == function->end() || !name->is_string()) {
    return FieldError("tools", absl::StrCat(where, ".function.name: missing or not a string"));
  }
  auto parameters = function->find("parameters");
  if (parameters == function->end() || parameters->is_null()) {
    return OrderedJson{{"type", "object"}};
  }
  if (!parameters->is_object()) {
    return WrongType(absl::StrCat(where, ".function.parameters"), "a JSON Schema object",
                     *parameters);
  }
  return *parameters;
}

// `tool_choice`: "none"; "required" (the output is a list of calls of the
// tools, as vLLM constrains it; one call with parallel_tool_calls false); {"type": "function",
// "function": {"name"}} (the output is that tool's arguments). Both constrain the output with a
// JSON Schema built from the tools' parameters. "auto" (the default when
// tools are given) needs the model's own tool-call format parsed: refused.
absl::Status ReadToolChoice(const OrderedJson* choice, bool parallel, OpenAiRequest* out) {
  const OrderedJson& tools = out->tools;
  if (!tools.is_null() && !tools.is_array()) return WrongType("tools", "a list of tools", tools);
  if (choice == nullptr || (choice->is_string() && choice->get<std::string>() == "auto")) {
    if (tools.is_null() || tools.empty()) return absl::OkStatus();
    return FieldError("tool_choice",
                      "tool_choice \"auto\" (the default when tools are given) is not supported "
                      "yet: send \"none\", \"required\" or {\"type\": \"function\", \"function\": "
                      "{\"name\": ...}}");
  }
  if (choice->is_string() && choice->get<std::string>() == "none") return absl::OkStatus();
  const bool required = choice->is_string() && choice->get<std::string>() == "required";
  std::string name;
  if (!required) {
    auto function = choice->is_object() ? choice->find("function") : choice->end();
    if (!choice->is_object() || function == choice->end() || !function->is_object() ||
        !function->contains("name") || !(*function)["name"].is_string()) {
      return FieldError(
          "tool_choice",
          absl::StrCat("tool_choice: expected \"none\", \"auto\", \"required\" "
                       "or {\"type\": \"function\", \"function\": {\"name\": "
                       "...}}, got ",
                       choice->dump(-1, ' ', false, OrderedJson::error_handler_t::replace)));
    }
    name = (*function)["name"].get<std::string>();
  }
  if (tools.is_null() || tools.empty()) {
    return FieldError("tool_choice", "tool_choice: calls a tool, but no tools are given");
  }
  OrderedJson schema;
  OrderedJson calls = OrderedJson::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    absl::StatusOr<OrderedJson> parameters = ToolParameters(tools, i);
    if (!parameters.ok()) return parameters.status();
    const std::string tool_name = tools[i]["function"]["name"].get<std::string>();
    if (!required && tool_name == name) schema = *parameters;
    calls.push_back(
        OrderedJson{{"type", "object"},
                    {"properties", {{"name", {{"const", tool_name}}}, {"parameters", *parameters}}},
                    {"required", {"name", "parameters"}},
                    {"additionalProperties", false}});
  }
  if (required) {
    out->tool_choice = ToolChoice::kRequired;
    schema =
        OrderedJson{{"type", "array"}, {"minItems", 1}, {"items", {{"anyOf", std::move(calls)}}}};
    if (!parallel) schema["maxItems"] = 1;  // parallel_tool_calls false: one call
  } else {
    if (schema.is_null()) {
      return FieldError("tool_choice",
                        absl::StrCat("tool_choice: no tool is named \"", name, "\""));
    }
    out->tool_choice = ToolChoice::kNamed;
    out->tool_name = name;
  }
  out->generate.set_json_schema(schema.dump(-1, ' ', false, OrderedJson::error_handler_t::replace));
  return absl::OkStatus();
}

template <class T>
absl::Status Take(absl::StatusOr<T> value, T* out) {
  if (!value.ok()) return value.status();
  *out = *std::move(value);
  return absl::OkStatus();
}

#define INFERD_RETURN_IF_ERROR(expr)                   \
  do {                                                 \
    if (absl::Status s_ = (expr); !s_.ok()) return s_; \
  } while (0)

// `model`, when given, must be the served model.
absl::Status CheckModel(const Fields& f, const std::string& served_model) {
  if (const OrderedJson* model = f.Find("model"); model != nullptr) {
    if (!model->is_string()) return WrongType("model", "a string", *model);
    if (model->get<std::string>() != served_model) {
      absl::Status status = absl::NotFoundError(
          absl::StrCat("The model `", model->get<std::string>(),
                       "` does not exist; this server serves `", served_model, "`"));
      status.SetPayload(kParamPayload, absl::Cord("model"));
      return status;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckKnown(const OrderedJson& body, const std::set<std::string>& known) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (known.count(it.key()) == 0) {
      return FieldError(it.key(), absl::StrCat("unknown field \"", it.key(),
                                               "\" (supported: ", absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TokenizeRequest> ParseTokenizeRequest(const OrderedJson& body,
                                                     const std::string& served_model) {
  INFERD_RETURN_IF_ERROR(
      CheckKnown(body, {"model", "prompt", "add_special_tokens", "return_token_strs"}));
  Fields f(body);
  INFERD_RETURN_IF_ERROR(CheckModel(f, served_model));
  TokenizeRequest out;
  const OrderedJson* prompt = f.Find("prompt");
  if (prompt == nullptr) return FieldError("prompt", "prompt: missing");
  if (!prompt->is_string()) return WrongType("prompt", "a string", *prompt);
  out.prompt = prompt->get<std::string>();
  std::optional<bool> flag;
  INFERD_RETURN_IF_ERROR(Take(f.Bool("add_special_tokens"), &flag));
  out.add_special_tokens = flag.value_or(true);
  INFERD_RETURN_IF_ERROR(Take(f.Bool("return_token_strs"), &flag));
  out.return_token_strs = flag.value_or(false);
  return out;
}

absl::StatusOr<std::vector<int32_t>> ParseDetokenizeRequest(const OrderedJson& body,
                                                            const std::string& served_model) {
  INFERD_RETURN_IF_ERROR(CheckKnown(body, {"model", "tokens"}));
  Fields f(body);
  INFERD_RETURN_IF_ERROR(CheckModel(f, served_model));
  const OrderedJson* tokens = f.Find("tokens");
  if (tokens == nullptr) return FieldError("tokens", "tokens: missing");
  if (!tokens->is_array()) return WrongType("tokens", "a list of token ids", *tokens);
  std::vector<int32_t> ids;
  for (size_t i = 0; i < tokens->size(); ++i) {
    const OrderedJson& id = (*tokens)[i];
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > kInt32Max) {
      return FieldError("tokens",
                        absl::StrCat("tokens[", i, "]: expected a token id, got ", id.dump()));
    }
    ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
  }
  return ids;
}

absl::StatusOr<OrderedJson> ParseJsonBody(absl::string_view body) {
  // Nesting first: nlohmann's values are destroyed and printed recursively.
  if (const std::optional<size_t> at =
          FindJsonNestingPast(std::string_view(body.data(), body.size()), kMaxJsonDepth)) {
    return absl::InvalidArgumentError(absl::StrCat("the request body nests JSON deeper than ",
                                                   kMaxJsonDepth, " levels (at byte ", *at, ")"));
  }
  OrderedJson parsed;
  try {
    parsed = OrderedJson::parse(body.begin(), body.end());
  } catch (const OrderedJson::exception& e) {
    // nlohmann's message: "[json.exception.parse_error.101] parse error at
    // line 1, column 2: syntax error while parsing value - ..."; the part
    // after the bracket is the useful one.
    std::string what = e.what();
    if (const size_t end = what.find("] ");
        what.rfind("[json.exception", 0) == 0 && end != std::string::npos) {
      what = what.substr(end + 2);
    }
    return absl::InvalidArgumentError(absl::StrCat("the request body is not valid JSON: ", what));
  }
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request body must be a JSON object, got ", TypeName(parsed)));
  }
  return parsed;
}

std::string ParamOf(const absl::Status& status) {
  auto param = status.GetPayload(kParamPayload);
  return param.has_value() ? std::string(*param) : std::string();
}

absl::StatusOr<OpenAiRequest> ParseOpenAiRequest(Endpoint endpoint, const OrderedJson& body,
                                                 const std::string& served_model) {
  const bool chat = endpoint == Endpoint::kChatCompletions;
  INFERD_RETURN_IF_ERROR(CheckKnown(body, KnownFields(endpoint)));
  OpenAiRequest out;
  out.endpoint = endpoint;
  v1::GenerateRequest& g = out.generate;
  Fields f(body);

  INFERD_RETURN_IF_ERROR(CheckModel(f, served_model));

  // The prompt.
  if (chat) {
    const OrderedJson* messages = f.Find("messages");
    if (messages == nullptr) return FieldError("messages", "messages: missing");
    if (!messages->is_array()) return WrongType("messages", "a list of messages", *messages);
    if (messages->empty()) return FieldError("messages", "messages: the list is empty");
    out.messages = *messages;
    if (const OrderedJson* tools = f.Find("tools"); tools != nullptr) out.tools = *tools;
    std::optional<bool> parallel;
    INFERD_RETURN_IF_ERROR(Take(f.Bool("parallel_tool_calls"), &parallel));
    INFERD_RETURN_IF_ERROR(ReadToolChoice(f.Find("tool_choice"), parallel.value_or(true), &out));
    std::optional<bool> add_generation_prompt;
    INFERD_RETURN_IF_ERROR(Take(f.Bool("add_generation_prompt"), &add_generation_prompt));
    out.add_generation_prompt = add_generation_prompt.value_or(true);
    if (const OrderedJson* kwargs = f.Find("chat_template_kwargs"); kwargs != nullptr) {
      if (!kwargs->is_object()) return WrongType("chat_template_kwargs", "an object", *kwargs);
      out.chat_template_kwargs = *kwargs;
    }
    // The rendered template carries its own special tokens.
    g.set_add_special_tokens(false);
  } else {
    const OrderedJson* prompt = f.Find("prompt");
    if (prompt == nullptr) return FieldError("prompt", "prompt: missing");
    INFERD_RETURN_IF_ERROR(ReadPrompt(*prompt, &g));
    std::optional<bool> add_special;
    INFERD_RETURN_IF_ERROR(Take(f.Bool("add_special_tokens"), &add_special));
    if (add_special.has_value()) g.set_add_special_tokens(*add_special);
  }

  // Lengths and sampling.
  std::optional<int64_t> max_tokens;
  INFERD_RETURN_IF_ERROR(Take(f.Integer("max_tokens", 1, kInt32Max), &max_tokens));
  if (chat) {
    std::optional<int64_t> max_completion_tokens;
    INFERD_RETURN_IF_ERROR(
        Take(f.Integer("max_completion_tokens", 1, kInt32Max), &max_completion_tokens));
    if (max_completion_tokens.has_value()) max_tokens = max_completion_tokens;
    if (max_tokens.has_value()) g.set_max_tokens(static_cast<int32_t>(*max_tokens));
  } else {
    g.set_max_tokens(static_cast<int32_t>(max_tokens.value_or(kDefaultCompletionMaxTokens)));
  }
  struct FloatField {
    const char* name;
    void (v1::GenerateRequest::*set)(float);
  };
  for (const FloatField& field :
       {FloatField{"temperature", &v1::GenerateRequest::set_temperature},
        FloatField{"top_p", &v1::GenerateRequest::set_top_p},
        FloatField{"min_p", &v1::GenerateRequest::set_min_p},
        FloatField{"presence_penalty", &v1::GenerateRequest::set_presence_penalty},
        FloatField{"frequency_penalty", &v1::GenerateRequest::set_frequency_penalty},
        FloatField{"repetition_penalty", &v1::GenerateRequest::set_repetition_penalty}}) {
    std::optional<double> value;
    INFERD_RETURN_IF_ERROR(Take(f.Number(field.name), &value));
    if (value.has_value()) (g.*field.set)(static_cast<float>(*value));
  }
  std::optional<int64_t> top_k;
  INFERD_RETURN_IF_ERROR(Take(f.Integer("top_k", -1, kInt32Max), &top_k));
  if (top_k.has_value())
    g.set_top_k(*top_k == -1 ? 0 : static_cast<int32_t>(*top_k));  // vLLM's -1: off
  std::optional<int64_t> seed;
  INFERD_RETURN_IF_ERROR(Take(
      f.Integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()),
      &seed));
  if (seed.has_value()) g.set_seed(static_cast<uint64_t>(*seed));
  if (const OrderedJson* stop = f.Find("stop"); stop != nullptr) {
    INFERD_RETURN_IF_ERROR(ReadStop(*stop, &g));
  }
  if (const OrderedJson* ids = f.Find("stop_token_ids"); ids != nullptr) {
    if (!ids->is_array()) return WrongType("stop_token_ids", "a list of token ids", *ids);
    for (size_t i = 0; i < ids->size(); ++i) {
      const OrderedJson& id = (*ids)[i];
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > kInt32Max) {
        return FieldError(
            "stop_token_ids",
            absl::StrCat("stop_token_ids[", i, "]: expected a token id, got ", id.dump()));
      }
      g.add_stop_token_ids(static_cast<int32_t>(id.get<int64_t>()));
    }
  }
  std::optional<bool> ignore_eos;
  INFERD_RETURN_IF_ERROR(Take(f.Bool("ignore_eos"), &ignore_eos));
  g.set_ignore_eos(ignore_eos.value_or(false));
  std::optional<int64_t> priority;
  INFERD_RETURN_IF_ERROR(Take(f.Integer("priority", -kInt32Max, kInt32Max), &priority));
  g.set_priority(static_cast<int32_t>(priority.value_or(0)));

  // Choices: one engine request each (openai_service.h).
  std::optional<int64_t> n;
  INFERD_RETURN_IF_ERROR(Take(f.Integer("n", 1, kMaxChoices), &n));
  out.n = static_cast<int32_t>(n.value_or(1));
  std::optional<int64_t> best_of;
  INFERD_RETURN_IF_ERROR(Take(f.Integer("best_of", 1, kInt32Max), &best_of));
  if (best_of.value_or(1) > 1) return FieldError("best_of", "best_of > 1 is not supported yet");
  std::optional<bool> echo;
  INFERD_RETURN_IF_ERROR(Take(f.Bool("echo"), &echo));
  if (echo.value_or(false)) return FieldError("echo", "echo is not supported yet");
  if (f.Find("suffix") != nullptr) return FieldError("suffix", "suffix is not supported");
  if (const OrderedJson* bias = f.Find("logit_bias"); bias != nullptr) {
    if (!bias->is_object()) return WrongType("logit_bias", "an object", *bias);
    if (!bias->empty()) return FieldError("logit_bias", "logit_bias is not supported yet");
  }

  // Logprobs: completions' integer, chat's boolean + top_logprobs.
  if (chat) {
    std::optional<bool> logprobs;
    INFERD_RETURN_IF_ERROR(Take(f.Bool("logprobs"), &logprobs));
    std::optional<int64_t> top;
    INFERD_RETURN_IF_ERROR(Take(f.Integer("top_logprobs", 0, 20), &top));
    if (top.has_value() && !logprobs.value_or(false)) {
      return FieldError("top_logprobs", "top_logprobs: needs logprobs set to true");
    }
    if (logprobs.value_or(false)) out.top_logprobs = static_cast<int32_t>(top.value_or(0));
  } else {
    std::optional<int64_t> logprobs;
    INFERD_RETURN_IF_ERROR(Take(f.Integer("logprobs", 0, 20), &logprobs));
    if (logprobs.has_value()) out.top_logprobs = static_cast<int32_t>(*logprobs);
  }
  if (out.top_logprobs.has_value()) g.set_logprobs(*out.top_logprobs);

  if (const OrderedJson* format = f.Find("response_format"); format != nullptr) {
    if (out.tool_choice != ToolChoice::kNone) {
      return FieldError("response_format",
                        "response_format: cannot be combined with a tool_choice that calls a "
                        "tool (the call's arguments are already constrained)");
    }
    INFERD_RETURN_IF_ERROR(ReadResponseFormat(*format, &g));
  }

  // Streaming.
  std::optional<bool> stream;
  INFERD_RETURN_IF_ERROR(Take(f.Bool("stream"), &stream));
  out.stream = stream.value_or(false);
  if (const OrderedJson* options = f.Find("stream_options"); options != nullptr) {
    if (!out.stream) {
      return FieldError("stream_options", "stream_options: only allowed with stream true");
    }
    if (!options->is_object()) return WrongType("stream_options", "an object", *options);
    for (auto it = options->begin(); it != options->end(); ++it) {
      if (it.key() != "include_usage" && it.key() != "continuous_usage_stats") {
        return FieldError("stream_options",
                          absl::StrCat("stream_options: unknown field \"", it.key(), "\""));
      }
    }
    std::optional<bool> include_usage;
    INFERD_RETURN_IF_ERROR(Take(Fields(*options).Bool("include_usage"), &include_usage));
    out.include_usage = include_usage.value_or(false);
  }
  if (const OrderedJson* user = f.Find("user"); user != nullptr && !user->is_string()) {
    return WrongType("user", "a string", *user);
  }
  return out;
}

}  // namespace inferd::server::http
