// tests/unit/loadtest/openai_stream_test.cc — inferload's OpenAI stream
// bytes: the request body carries the gRPC request's fields, the SSE reader
// splits events however the bytes are cut (LF, CRLF, CR, comments,
// multi-line data), chunk data is read for text, usage, errors and [DONE],
// and bytes that are not that stream are refused with a message naming the
// problem.
#include "loadtest/inferload/openai_stream.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace inferd::inferload {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CompletionRequestBodyTest, TokenIdsAndTheSamplingOfTheGrpcRequest) {
  RequestSpec spec;
  spec.token_ids = {1, 345, 6789};
  spec.max_tokens = 17;
  const nlohmann::json body =
      nlohmann::json::parse(CompletionRequestBody(spec, {.temperature = 0.5f, .priority = -2}));
  EXPECT_EQ(body.at("prompt"), nlohmann::json({1, 345, 6789}));
  EXPECT_EQ(body.at("max_tokens"), 17);
  EXPECT_EQ(body.at("ignore_eos"), true);
  EXPECT_EQ(body.at("temperature"), 0.5);
  EXPECT_EQ(body.at("priority"), -2);
  EXPECT_EQ(body.at("stream"), true);
  EXPECT_EQ(body.at("stream_options"), nlohmann::json({{"include_usage", true}}));
  EXPECT_FALSE(body.contains("model"));  // the server's own model
}

TEST(CompletionRequestBodyTest, TextPromptAndNoPriorityField) {
  RequestSpec spec;
  spec.text = "Once upon a \"time\"\n";
  spec.max_tokens = 3;
  const nlohmann::json body = nlohmann::json::parse(CompletionRequestBody(spec, {}));
  EXPECT_EQ(body.at("prompt"), "Once upon a \"time\"\n");
  EXPECT_EQ(body.at("temperature"), 0.0);
  EXPECT_FALSE(body.contains("priority"));
}

// Every event of `bytes` fed `step` bytes at a time.
std::vector<std::string> Events(const std::string& bytes, size_t step) {
  SseReader reader;
  std::vector<std::string> events;
  for (size_t i = 0; i < bytes.size(); i += step) {
    EXPECT_TRUE(reader.Feed(absl::string_view(bytes).substr(i, step), &events).ok());
  }
  return events;
}

TEST(SseReaderTest, EventsAreTheSameHoweverTheBytesAreCut) {
  const std::string bytes =
      "data: {\"a\":1}\n\n"
      ": a comment\r\n"
      "event: ignored\r\n"
      "data:{\"b\":2}\r\n\r\n"
      "data: one\rdata: two\r\r"
      "id: 7\n\n"  // no data: no event
      "data: [DONE]\n\n"
      "data: unfinished";
  for (size_t step : {1, 2, 3, 7, 1000}) {
    EXPECT_THAT(Events(bytes, step), ElementsAre("{\"a\":1}", "{\"b\":2}", "one\ntwo", "[DONE]"))
        << "step " << step;
  }
}

TEST(SseReaderTest, AnEndlessLineIsAnError) {
  SseReader reader;
  std::vector<std::string> events;
  const std::string chunk(1 << 16, 'x');
  absl::Status status;
  for (size_t fed = 0; status.ok() && fed <= SseReader::kMaxLineBytes + chunk.size();
       fed += chunk.size()) {
    status = reader.Feed(chunk, &events);
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("a line longer than"));
  EXPECT_TRUE(events.empty());
}

TEST(ReadCompletionEventTest, TextChunkUsageChunkAndDone) {
  absl::StatusOr<CompletionEvent> text = ReadCompletionEvent(
      R"({"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" the",)"
      R"("logprobs":null,"finish_reason":null}],"usage":null})");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_TRUE(text->has_text);
  EXPECT_FALSE(text->finished);
  EXPECT_FALSE(text->completion_tokens.has_value());

  absl::StatusOr<CompletionEvent> last =
      ReadCompletionEvent(R"({"choices":[{"index":0,"text":"","finish_reason":"length"}]})");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_FALSE(last->has_text);
  EXPECT_TRUE(last->finished);

  absl::StatusOr<CompletionEvent> usage = ReadCompletionEvent(
      R"({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,)"
      R"("prompt_tokens_details":{"cached_tokens":8}}})");
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->prompt_tokens, 12);
  EXPECT_EQ(usage->completion_tokens, 5);
  EXPECT_EQ(usage->cached_tokens, 8);

  absl::StatusOr<CompletionEvent> done = ReadCompletionEvent("[DONE]");
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->done);
}

TEST(ReadCompletionEventTest, ErrorObjectMapsItsType) {
  absl::StatusOr<CompletionEvent> event = ReadCompletionEvent(
      R"({"error":{"message":"the server is draining","type":"service_unavailable_error",)"
      R"("param":null,"code":null}})");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->error_code, static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(event->error_message, "the server is draining");
}

TEST(ReadCompletionEventTest, GarbageIsRefusedNamingTheProblem) {
  const struct {
    const char* data;
    const char* message;
  } cases[] = {
      {"", "not JSON"},
      {"{\"choices\": [", "not JSON"},
      {"[1, 2]", "not a JSON object"},
      {"{}", "no 'choices' array"},
      {R"({"choices": {}})", "no 'choices' array"},
      {R"({"choices": [3]})", "a choice is not an object"},
      {R"({"choices": [{"text": 5}]})", "choices[].text is not a string"},
      {R"({"choices": [{"finish_reason": 1}]})", "finish_reason is not a string"},
      {R"({"choices": [], "usage": 3})", "'usage' is not an object"},
      {R"({"choices": [], "usage": {"prompt_tokens": -1, "completion_tokens": 2}})",
       "usage.prompt_tokens is not a non-negative integer"},
      {R"({"choices": [], "usage": {"prompt_tokens": 1}})", "usage without"},
      {R"({"error": "boom"})", "'error' is not an object"},
      {R"({"error": {"type": "x"}})", "error.message is not a string"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<CompletionEvent> event = ReadCompletionEvent(c.data);
    ASSERT_FALSE(event.ok()) << c.data;
    EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument) << c.data;
    EXPECT_THAT(event.status().message(), HasSubstr(c.message)) << c.data;
    EXPECT_THAT(event.status().message(), HasSubstr("bad SSE event from the server")) << c.data;
  }
}

TEST(CodeForHttpStatusTest, AsTheServerMapsCodesToStatuses) {
  EXPECT_EQ(CodeForHttpStatus(400), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(CodeForHttpStatus(401), static_cast<int>(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(CodeForHttpStatus(404), static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_EQ(CodeForHttpStatus(429), static_cast<int>(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(CodeForHttpStatus(503), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(CodeForHttpStatus(504), static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(CodeForHttpStatus(500), static_cast<int>(absl::StatusCode::kInternal));
  EXPECT_EQ(CodeForHttpStatus(302), static_cast<int>(absl::StatusCode::kUnknown));
  EXPECT_EQ(CodeForErrorType("rate_limit_error"),
            static_cast<int>(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(CodeForErrorType("something new"), static_cast<int>(absl::StatusCode::kInternal));
}

}  // namespace
}  // namespace inferd::inferload
