// tests/unit/loadtest/jsonl_files_test.cc — the JSONL inputs of inferload:
// traces (--trace) and datasets (--workload FILE.jsonl), good and bad lines.
// Every rejection names the file, the line number and the field.
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loadtest/inferload/dataset.h"
#include "loadtest/inferload/trace.h"

namespace inferd::inferload {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<std::vector<TraceEntry>> Trace(const std::string& text) {
  std::istringstream in(text);
  return ParseTrace(in, "t.jsonl");
}

absl::StatusOr<std::vector<DatasetEntry>> Dataset(const std::string& text) {
  std::istringstream in(text);
  return ParseDataset(in, "d.jsonl");
}

TEST(InferloadTraceTest, ParsesGoodLinesSortedAndRelativeToTheFirst) {
  const auto entries = Trace(
      "{\"arrival_s\": 2.5, \"prompt\": \"Once\", \"max_tokens\": 8}\n"
      "\n"
      "{\"arrival_s\": 0.5, \"prompt_len\": 12, \"output_len\": 4, \"note\": \"ignored\"}\n"
      "{\"arrival_s\": 0.5, \"prompt\": \"upon\"}\n");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  const TraceEntry& first = (*entries)[0];
  EXPECT_EQ(first.arrival_s, 0);
  EXPECT_EQ(first.prompt_len, 12);
  EXPECT_FALSE(first.prompt.has_value());
  EXPECT_EQ(first.output_len, 4);
  EXPECT_EQ(first.line, 3);                 // blank lines still count
  EXPECT_EQ((*entries)[1].prompt, "upon");  // equal times keep the file order
  EXPECT_FALSE((*entries)[1].output_len.has_value());
  EXPECT_EQ((*entries)[2].arrival_s, 2.0);
  EXPECT_EQ((*entries)[2].output_len, 8);
  EXPECT_EQ((*entries)[2].line, 1);
}

TEST(InferloadTraceTest, TimestampsAreTakenRelativeToTheEarliest) {
  const auto entries = Trace(
      "{\"timestamp\": 1700000010.25, \"prompt_len\": 4}\n"
      "{\"timestamp\": 1700000010.0, \"prompt_len\": 4}\n");
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ((*entries)[0].arrival_s, 0);
  EXPECT_DOUBLE_EQ((*entries)[1].arrival_s, 0.25);
}

TEST(InferloadTraceTest, RejectsBadLinesNamingFileLineAndField) {
  const struct {
    std::string text;
    std::string message;
  } cases[] = {
      {"{\"arrival_s\": 0, \"prompt\": \"a\"}\nnot json\n", "t.jsonl:2: not valid JSON"},
      {"[1, 2]\n", "t.jsonl:1: expected a JSON object"},
      {"{\"prompt\": \"a\"}\n", "t.jsonl:1: field 'arrival_s': missing"},
      {"{\"arrival_s\": \"soon\", \"prompt\": \"a\"}\n",
       "t.jsonl:1: field 'arrival_s': expected a number"},
      {"{\"arrival_s\": -1, \"prompt\": \"a\"}\n", "t.jsonl:1: field 'arrival_s': must be >= 0"},
      {"{\"arrival_s\": 1, \"timestamp\": 1, \"prompt\": \"a\"}\n",
       "t.jsonl:1: field 'arrival_s': give either"},
      {"{\"arrival_s\": 1}\n", "t.jsonl:1: field 'prompt': missing"},
      {"{\"arrival_s\": 1, \"prompt\": 5}\n", "t.jsonl:1: field 'prompt': expected a string"},
      {"{\"arrival_s\": 1, \"prompt\": \"a\", \"prompt_len\": 3}\n",
       "t.jsonl:1: field 'prompt': give either"},
      {"{\"arrival_s\": 1, \"prompt_len\": 0}\n",
       "t.jsonl:1: field 'prompt_len': expected an integer in"},
      {"{\"arrival_s\": 1, \"prompt_len\": 2.5}\n",
       "t.jsonl:1: field 'prompt_len': expected an integer"},
      {"{\"arrival_s\": 1, \"prompt_len\": 3, \"max_tokens\": 0}\n",
       "t.jsonl:1: field 'max_tokens': expected an integer in"},
      {"{\"arrival_s\": 1, \"prompt_len\": 3, \"output_len\": \"4\"}\n",
       "t.jsonl:1: field 'output_len': expected an integer"},
      {"{\"arrival_s\": 1, \"prompt_len\": 3, \"output_len\": 4, \"max_tokens\": 4}\n",
       "t.jsonl:1: field 'max_tokens': give either"},
      {"\n\n", "t.jsonl: no requests"},
  };
  for (const auto& c : cases) {
    const auto entries = Trace(c.text);
    ASSERT_FALSE(entries.ok()) << c.text;
    EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(entries.status().message()), HasSubstr(c.message)) << c.text;
  }
}

TEST(InferloadTraceTest, MissingFileIsNotFound) {
  const auto entries = LoadTrace("/nonexistent/trace.jsonl");
  ASSERT_FALSE(entries.ok());
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(entries.status().message()), HasSubstr("/nonexistent/trace.jsonl"));
}

TEST(InferloadDatasetTest, ParsesPromptsAndOptionalOutputLengths) {
  const auto entries = Dataset(
      "{\"prompt\": \"Once upon a time\", \"max_tokens\": 16}\n"
      "{\"prompt\": \"The cat\", \"output_len\": 3, \"id\": 7}\n"
      "  \n"
      "{\"prompt\": \"Lily\"}\n");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].prompt, "Once upon a time");
  EXPECT_EQ((*entries)[0].output_len, 16);
  EXPECT_EQ((*entries)[1].output_len, 3);
  EXPECT_FALSE((*entries)[2].output_len.has_value());
  EXPECT_EQ((*entries)[2].line, 4);
}

TEST(InferloadDatasetTest, RejectsBadLinesNamingFileLineAndField) {
  const struct {
    std::string text;
    std::string message;
  } cases[] = {
      {"{\"prompt\": \"a\"}\n{\"text\": \"b\"}\n", "d.jsonl:2: field 'prompt': missing"},
      {"{\"prompt\": \"\"}\n", "d.jsonl:1: field 'prompt': must not be empty"},
      {"{\"prompt\": [\"a\"]}\n", "d.jsonl:1: field 'prompt': expected a string"},
      {"{\"prompt\": \"a\", \"max_tokens\": -3}\n", "d.jsonl:1: field 'max_tokens'"},
      {"{\"prompt\": \"a\", \"max_tokens\": 99999999999}\n", "d.jsonl:1: field 'max_tokens'"},
      {"{\"prompt\": \"a\"\n", "d.jsonl:1: not valid JSON"},
      {"", "d.jsonl: no prompts"},
  };
  for (const auto& c : cases) {
    const auto entries = Dataset(c.text);
    ASSERT_FALSE(entries.ok()) << c.text;
    EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(entries.status().message()), HasSubstr(c.message)) << c.text;
  }
}

}  // namespace
}  // namespace inferd::inferload
