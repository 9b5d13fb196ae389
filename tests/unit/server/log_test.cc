// The two stderr line formats (server/log.h) and the per-request fields.
#include "server/log.h"

#include "gtest/gtest.h"
#include "server/request_log.h"

namespace inferd::server {
namespace {

const absl::Time kNow = absl::FromUnixMillis(1735689600123);  // 2025-01-01T00:00:00.123Z

TEST(LogTest, JsonIsOneObjectWithTsLevelMsgThenTheFields) {
  const std::string line =
      FormatLogLine(LogFormat::kJson, LogLevel::kWarning, "say \"hi\"\n",
                    {{"n", 3}, {"ok", true}, {"s", "a b"}, {"none", nullptr}}, kNow);
  EXPECT_EQ(line, R"({"ts":"2025-01-01T00:00:00.123Z","level":"warning","msg":"say \"hi\"\n",)"
                  R"("n":3,"ok":true,"s":"a b","none":null})");
}

TEST(LogTest, JsonReplacesInvalidUtf8) {
  const std::string line =
      FormatLogLine(LogFormat::kJson, LogLevel::kInfo, "bad \xff", {{"v", "\xfe"}}, kNow);
  const nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
  ASSERT_TRUE(parsed.is_object()) << line;
}

TEST(LogTest, TextQuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, LogLevel::kInfo, "model loaded",
                          {{"arch", "Llama"}, {"reason", "the model"}, {"n", 2}, {"x", 0.5}}, kNow),
            R"(inferd: model loaded arch=Llama reason="the model" n=2 x=0.5)");
  EXPECT_EQ(FormatLogLine(LogFormat::kText, LogLevel::kError, "oops", {}, kNow),
            "inferd: error: oops");
}

TEST(RequestLogTest, FieldsNameEverythingButThePrompt) {
  RequestRecord record;
  record.request_id = "r1";
  record.prompt_tokens = 5;
  record.completion_tokens = 7;
  record.cached_tokens = 2;
  record.finish_reason = engine::FinishReason::kLength;
  record.code = grpc::StatusCode::OK;
  record.ttft_s = 0.0123456789;
  record.e2e_s = 0.5;
  EXPECT_EQ(FormatLogLine(LogFormat::kText, LogLevel::kInfo, "request finished",
                          RequestLogFields(record), kNow),
            "inferd: request finished request_id=r1 prompt_tokens=5 completion_tokens=7 "
            "cached_tokens=2 finish_reason=length status=OK ttft_s=0.012346 e2e_s=0.5");
  record.ttft_s = -1;  // no token was sent
  record.code = grpc::StatusCode::CANCELLED;
  const std::string line = FormatLogLine(LogFormat::kJson, LogLevel::kInfo, "request finished",
                                         RequestLogFields(record), kNow);
  EXPECT_NE(line.find(R"("status":"CANCELLED","ttft_s":null)"), std::string::npos) << line;
}

}  // namespace
}  // namespace inferd::server
