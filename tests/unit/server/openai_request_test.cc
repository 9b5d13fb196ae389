// tests/unit/server/openai_request_test.cc — OpenAI request bodies ->
// GenerateRequest (server/http/openai_request.h) and engine chunks -> OpenAI
// bodies and SSE events (server/http/openai_response.h), without a daemon.
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/http/http_error.h"
#include "server/http/openai_request.h"
#include "server/http/openai_response.h"

namespace inferd::server::http {
namespace {

using Json = nlohmann::ordered_json;

absl::StatusOr<OpenAiRequest> Parse(Endpoint endpoint, const std::string& body) {
  absl::StatusOr<OrderedJson> json = ParseJsonBody(body);
  if (!json.ok()) return json.status();
  return ParseOpenAiRequest(endpoint, *json, "m");
}

TEST(OpenAiRequestTest, CompletionFieldsMapToTheGenerateRequest) {
  auto r = Parse(Endpoint::kCompletions,
                 R"({"model": "m", "prompt": "hi", "temperature": 0, "top_p": 0.5, "top_k": -1,
                     "min_p": 0.1, "seed": -1, "stop": "x", "logprobs": 2, "n": 2,
                     "stream": true, "stream_options": {"include_usage": true},
                     "response_format": {"type": "json_object"}, "user": "u"})");
  ASSERT_TRUE(r.ok()) << r.status();
  const v1::GenerateRequest& g = r->generate;
  EXPECT_EQ(g.text(), "hi");
  EXPECT_EQ(g.max_tokens(), kDefaultCompletionMaxTokens);  // OpenAI's default: 16
  EXPECT_EQ(g.temperature(), 0.0f);
  EXPECT_EQ(g.top_p(), 0.5f);
  EXPECT_EQ(g.top_k(), 0);  // vLLM's -1: off
  EXPECT_FLOAT_EQ(g.min_p(), 0.1f);
  EXPECT_EQ(g.seed(), UINT64_MAX);  // any 64-bit seed
  ASSERT_EQ(g.stop_size(), 1);
  EXPECT_EQ(g.stop(0), "x");
  EXPECT_EQ(g.logprobs(), 2);
  EXPECT_TRUE(g.json_object());
  EXPECT_EQ(r->n, 2);
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_FALSE(g.has_add_special_tokens());
}

TEST(OpenAiRequestTest, PromptForms) {
  auto ids = Parse(Endpoint::kCompletions, R"({"prompt": [[1, 2, 3]]})");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->generate.token_ids().ids_size(), 3);
  auto one = Parse(Endpoint::kCompletions, R"({"prompt": ["a"]})");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->generate.text(), "a");
  for (const char* bad : {R"({"prompt": ["a", "b"]})", R"({"prompt": []})", R"({"prompt": [-1]})",
                          R"({"prompt": [1.5]})", R"({"prompt": {"a": 1}})"}) {
    auto r = Parse(Endpoint::kCompletions, bad);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(ParamOf(r.status()), "prompt") << bad;
  }
}

TEST(OpenAiRequestTest, ChatFields) {
  auto r = Parse(Endpoint::kChatCompletions,
                 R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 9,
                     "max_completion_tokens": 5, "logprobs": true, "top_logprobs": 3,
                     "tools": [{"type": "function"}], "tool_choice": "none",
                     "add_generation_prompt": false, "chat_template_kwargs": {"k": 1},
                     "response_format": {"type": "json_schema",
                                         "json_schema": {"name": "x", "schema": {"type": "string"}}}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->generate.max_tokens(), 5);  // max_completion_tokens wins
  EXPECT_EQ(r->top_logprobs, 3);
  EXPECT_EQ(r->generate.logprobs(), 3);
  EXPECT_FALSE(r->add_generation_prompt);
  EXPECT_EQ(r->chat_template_kwargs["k"], 1);
  EXPECT_TRUE(r->tools.is_array());
  EXPECT_EQ(r->generate.json_schema(), R"({"type":"string"})");
  EXPECT_TRUE(r->generate.has_add_special_tokens());
  EXPECT_FALSE(r->generate.add_special_tokens());  // the template writes them
  auto no_limit = Parse(Endpoint::kChatCompletions, R"({"messages": [{"role": "user"}]})");
  ASSERT_TRUE(no_limit.ok());
  EXPECT_FALSE(no_limit->generate.has_max_tokens());  // chat: the rest of the context
}

TEST(OpenAiRequestTest, ErrorsNameTheField) {
  struct Case {
    Endpoint endpoint;
    const char* body;
    absl::StatusCode code;
    const char* param;
    const char* message;
  };
  const Case cases[] = {
      {Endpoint::kCompletions, R"({"prompt": "a", "bogus": 1})", absl::StatusCode::kInvalidArgument,
       "bogus", "unknown field \"bogus\""},
      {Endpoint::kCompletions, R"({"prompt": "a", "model": "x"})", absl::StatusCode::kNotFound,
       "model", "does not exist"},
      {Endpoint::kCompletions, R"({"prompt": "a", "max_tokens": 1.5})",
       absl::StatusCode::kInvalidArgument, "max_tokens", "expected an integer, got a number"},
      {Endpoint::kCompletions, R"({"prompt": "a", "n": 129})", absl::StatusCode::kInvalidArgument,
       "n", "n: must be in [1, 128]"},
      {Endpoint::kCompletions, R"({"prompt": "a", "logprobs": 21})",
       absl::StatusCode::kInvalidArgument, "logprobs", "[0, 20]"},
      {Endpoint::kCompletions, R"({"prompt": "a", "stream_options": {}})",
       absl::StatusCode::kInvalidArgument, "stream_options", "only allowed with stream"},
      {Endpoint::kCompletions, R"({"prompt": "a", "echo": true})",
       absl::StatusCode::kInvalidArgument, "echo", "not supported"},
      {Endpoint::kCompletions, R"({"prompt": "a", "logit_bias": {"1": 2}})",
       absl::StatusCode::kInvalidArgument, "logit_bias", "not supported"},
      {Endpoint::kChatCompletions, R"({"messages": "hi"})", absl::StatusCode::kInvalidArgument,
       "messages", "expected a list of messages, got a string"},
      {Endpoint::kChatCompletions, R"({"messages": [{}], "top_logprobs": 2})",
       absl::StatusCode::kInvalidArgument, "top_logprobs", "needs logprobs"},
      {Endpoint::kChatCompletions,
       R"({"messages": [{}], "tools": [{"function": {"name": "f"}}], "tool_choice": "auto"})",
       absl::StatusCode::kInvalidArgument, "tool_choice", "tool_choice \"auto\""},
      {Endpoint::kChatCompletions,
       R"({"messages": [{}], "tools": [{"function": {"name": "f", "parameters": 1}}],
           "tool_choice": "required"})",
       absl::StatusCode::kInvalidArgument, "tools[0].function.parameters", "JSON Schema object"},
      {Endpoint::kChatCompletions, R"({"messages": [{}], "prompt": "a"})",
       absl::StatusCode::kInvalidArgument, "prompt", "unknown field"},
  };
  for (const Case& c : cases) {
    auto r = Parse(c.endpoint, c.body);
    EXPECT_EQ(r.status().code(), c.code) << c.body << " " << r.status();
    EXPECT_EQ(ParamOf(r.status()), c.param) << c.body;
    EXPECT_TRUE(absl::StrContains(r.status().message(), c.message))
        << c.body << ": " << r.status().message();
  }
}

TEST(OpenAiRequestTest, ToolChoiceConstrainsTheOutputToTheCalls) {
  const std::string tools =
      R"("tools": [{"type": "function", "function": {"name": "f",
                    "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}},
                   {"type": "function", "function": {"name": "g"}}])";
  auto named = Parse(Endpoint::kChatCompletions,
                     R"({"messages": [{}], )" + tools +
                         R"(, "tool_choice": {"type": "function", "function": {"name": "f"}}})");
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->tool_choice, ToolChoice::kNamed);
  EXPECT_EQ(named->tool_name, "f");
  EXPECT_EQ(Json::parse(named->generate.json_schema()),
            Json::parse(R"({"type": "object", "properties": {"a": {"type": "integer"}}})"));
  auto required = Parse(Endpoint::kChatCompletions, R"({"messages": [{}], )" + tools +
                                                        R"(, "tool_choice": "required",
                                                            "parallel_tool_calls": false})");
  ASSERT_TRUE(required.ok()) << required.status();
  EXPECT_EQ(required->tool_choice, ToolChoice::kRequired);
  const Json schema = Json::parse(required->generate.json_schema());
  EXPECT_EQ(schema["type"], "array");
  EXPECT_EQ(schema["maxItems"], 1);
  ASSERT_EQ(schema["items"]["anyOf"].size(), 2u);
  EXPECT_EQ(schema["items"]["anyOf"][1]["properties"]["name"]["const"], "g");
  EXPECT_EQ(schema["items"]["anyOf"][1]["properties"]["parameters"],
            Json::parse(R"({"type": "object"})"));
}

TEST(OpenAiRequestTest, BodiesThatAreNotJsonObjects) {
  EXPECT_TRUE(absl::StrContains(ParseJsonBody("{").status().message(), "not valid JSON"));
  EXPECT_TRUE(absl::StrContains(ParseJsonBody("1").status().message(), "must be a JSON object"));
  EXPECT_TRUE(absl::StrContains(ParseJsonBody("{\"a\": \"\xff\"}").status().message(), "UTF-8"));
  const std::string deep = "{\"a\": " + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_TRUE(absl::StrContains(ParseJsonBody(deep).status().message(), "deeper than 64"));
  // Brackets inside strings are not nesting.
  EXPECT_TRUE(ParseJsonBody("{\"a\": \"" + std::string(100, '[') + "\\\"\"}").ok());
}

TEST(OpenAiRequestTest, ErrorObjectShape) {
  const HttpError e = ErrorFromStatus(absl::UnavailableError("draining"));
  EXPECT_EQ(e.status, 503);
  EXPECT_EQ(Json::parse(ErrorJson(e)),
            Json::parse(R"({"error": {"message": "draining", "type": "service_unavailable_error",
                                      "param": null, "code": null}})"));
  EXPECT_EQ(ErrorFromStatus(absl::ResourceExhaustedError("queue")).status, 429);
  EXPECT_EQ(ErrorFromStatus(absl::InvalidArgumentError("x")).status, 400);
}

ResponseContext Context(Endpoint endpoint, bool stream = false, bool include_usage = false) {
  ResponseContext c;
  c.endpoint = endpoint;
  c.id = "c";
  c.created = 7;
  c.model = "m";
  c.stream = stream;
  c.include_usage = include_usage;
  return c;
}

engine::RequestOutput Output(std::string text, bool finished) {
  engine::RequestOutput out;
  out.text = std::move(text);
  out.finished = finished;
  if (finished) {
    out.finish_reason = engine::FinishReason::kStopString;
    out.usage.prompt_tokens = 4;
    out.usage.completion_tokens = 2;
  }
  return out;
}

TEST(OpenAiResponderTest, CompletionBody) {
  OpenAiResponder r(Context(Endpoint::kCompletions));
  EXPECT_EQ(r.Consume(0, Output("a", false)), "");
  const Json body = Json::parse(r.Consume(0, Output("b", true)));
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(body, Json::parse(R"({"id": "c", "object": "text_completion", "created": 7,
      "model": "m", "choices": [{"index": 0, "text": "ab", "logprobs": null,
      "finish_reason": "stop"}], "usage": {"prompt_tokens": 4, "completion_tokens": 2,
      "total_tokens": 6}})"));
}

TEST(OpenAiResponderTest, ChatStreamEventsWithUsage) {
  OpenAiResponder r(Context(Endpoint::kChatCompletions, true, true), 2);
  std::string events =
      r.Start() + r.Consume(1, Output("x", true)) + r.Consume(0, Output("y", false));
  EXPECT_FALSE(r.finished());
  events += r.Consume(0, Output("", true));
  EXPECT_TRUE(r.finished());
  std::vector<std::string> payloads;
  while (!events.empty()) {
    ASSERT_TRUE(absl::StartsWith(events, "data: ")) << events;
    const size_t end = events.find("\n\n");
    ASSERT_NE(end, std::string::npos);
    payloads.push_back(events.substr(6, end - 6));
    events.erase(0, end + 2);
  }
  ASSERT_EQ(payloads.size(), 6u);
  EXPECT_EQ(payloads.back(), "[DONE]");
  const Json first = Json::parse(payloads[0]);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"].size(), 2u);
  EXPECT_EQ(first["choices"][1]["delta"], Json::parse(R"({"role": "assistant", "content": ""})"));
  EXPECT_TRUE(first["usage"].is_null());
  const Json one = Json::parse(payloads[1]);
  EXPECT_EQ(one["choices"][0]["index"], 1);
  EXPECT_EQ(one["choices"][0]["delta"]["content"], "x");
  EXPECT_EQ(one["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(Json::parse(payloads[3])["choices"][0]["delta"], Json::object());
  const Json usage = Json::parse(payloads[4]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"], Json::parse(R"({"prompt_tokens": 4, "completion_tokens": 4,
                                           "total_tokens": 8})"));
}

TEST(OpenAiResponderTest, FailedRequestEndsWithAnErrorEventOrObject) {
  engine::RequestOutput aborted = Output("z", true);
  aborted.finish_reason = engine::FinishReason::kAbort;
  aborted.status = absl::UnavailableError("the server is draining");
  OpenAiResponder stream(Context(Endpoint::kCompletions, true));
  const std::string events = stream.Consume(0, aborted);
  EXPECT_TRUE(absl::StrContains(events, R"("finish_reason":"abort")")) << events;
  EXPECT_TRUE(absl::StrContains(events, "data: {\"error\":{\"message\":\"the server is draining\""))
      << events;
  EXPECT_TRUE(absl::EndsWith(events, "data: [DONE]\n\n"));
  OpenAiResponder whole(Context(Endpoint::kCompletions));
  const Json body = Json::parse(whole.Consume(0, aborted));
  EXPECT_EQ(whole.status(), 503);
  EXPECT_EQ(body["error"]["type"], "service_unavailable_error");
}

}  // namespace
}  // namespace inferd::server::http
