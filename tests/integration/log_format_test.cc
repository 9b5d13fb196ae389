// tests/integration/log_format_test.cc — the daemon's stderr lines
// (--log-format, --log-requests; README "Logs"): with json every line is one
// object with ts, level and msg; the start-up summary carries the KV cache
// shape; a finished request yields one line with its id and token counts and
// never its prompt. A bad --log-format exits 2 naming the flag.
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/inferd_server.h"
#include "tests/integration/lifecycle_util.h"
#include "tests/integration/test_client.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

TEST(LogFormatTest, JsonLinesSummaryAndRequestLines) {
  INFERD_REQUIRE_SHARED(kModel);
  InferdServerOptions options;
  options.stderr_path = ::testing::TempDir() + "/log_format_test_stderr.log";
  std::string error;
  auto server = InferdServer::Start(SharedPath(kModel), {"--log-format", "json", "--log-requests"},
                                    &error, options);
  ASSERT_NE(server, nullptr) << error;
  auto stub = server->NewStub();
  const std::string secret = "zebracorn";
  v1::GenerateRequest request;
  request.set_text("Once upon a time " + secret);
  request.set_max_tokens(8);
  request.set_ignore_eos(true);
  request.set_temperature(0);
  const StreamResult result = RunGenerate(*stub, request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  const int64_t num_kv_blocks = GetModelInfo(*stub).num_kv_blocks();
  ASSERT_EQ(server->Stop(), 0);

  const std::string log = ReadWholeFile(options.stderr_path);
  EXPECT_EQ(log.find(secret), std::string::npos) << "the prompt text was logged:\n" << log;
  const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  std::vector<nlohmann::ordered_json> lines;
  for (const std::string& line : Lines(log)) {
    nlohmann::ordered_json json = nlohmann::ordered_json::parse(line, nullptr, false);
    ASSERT_TRUE(json.is_object()) << "not a JSON object: " << line;
    ASSERT_TRUE(json.contains("ts") && json.contains("level") && json.contains("msg")) << line;
    EXPECT_TRUE(std::regex_match(json.at("ts").get<std::string>(), rfc3339)) << line;
    EXPECT_EQ(json.begin().key(), "ts") << line;
    lines.push_back(std::move(json));
  }
  auto find = [&](const std::string& msg) -> const nlohmann::ordered_json* {
    for (const nlohmann::ordered_json& line : lines) {
      if (line.at("msg") == msg) return &line;
    }
    return nullptr;
  };
  for (const char* msg : {"loading model", "readiness SERVING", "startup summary",
                          "SIGTERM received: draining", "readiness NOT_SERVING", "stopped"}) {
    EXPECT_NE(find(msg), nullptr) << "no \"" << msg << "\" line in\n" << log;
  }
  const nlohmann::ordered_json* summary = find("startup summary");
  ASSERT_NE(summary, nullptr);
  EXPECT_EQ(summary->at("num_kv_blocks"), num_kv_blocks);
  EXPECT_EQ(summary->at("block_size"), 16);
  EXPECT_EQ(summary->at("kv_cache_dtype"), "fp32");
  EXPECT_EQ(summary->at("model"), "stories260K");
  EXPECT_GT(summary->at("kv_cache_bytes").get<int64_t>(), 0);
  EXPECT_EQ(summary->at("grpc_address"), server->address());

  const nlohmann::ordered_json* finished = find("request finished");
  ASSERT_NE(finished, nullptr) << log;
  EXPECT_EQ(finished->at("level"), "info");
  EXPECT_EQ(finished->at("request_id"), result.request_id);
  EXPECT_EQ(finished->at("prompt_tokens"), result.usage.prompt_tokens());
  EXPECT_EQ(finished->at("completion_tokens"), 8);
  EXPECT_EQ(finished->at("cached_tokens"), result.usage.cached_tokens());
  EXPECT_EQ(finished->at("finish_reason"), "length");
  EXPECT_EQ(finished->at("status"), "OK");
  EXPECT_GE(finished->at("e2e_s").get<double>(), finished->at("ttft_s").get<double>());
  EXPECT_GE(finished->at("ttft_s").get<double>(), 0.0);
}

TEST(LogFormatTest, TextIsTheDefault) {
  INFERD_REQUIRE_SHARED(kModel);
  InferdServerOptions options;
  options.stderr_path = ::testing::TempDir() + "/log_format_text_stderr.log";
  std::string error;
  auto server = InferdServer::Start(SharedPath(kModel), {}, &error, options);
  ASSERT_NE(server, nullptr) << error;
  EXPECT_TRUE(RunGenerate(*server->NewStub(), GreedyRequest({1, 403}, 3)).status.ok());
  ASSERT_EQ(server->Stop(), 0);
  const std::vector<std::string> lines = Lines(ReadWholeFile(options.stderr_path));
  ASSERT_FALSE(lines.empty());
  for (const std::string& line : lines) EXPECT_EQ(line.rfind("inferd: ", 0), 0u) << line;
  EXPECT_EQ(lines.back(), "inferd: stopped exit_code=0");
  // Without --log-requests: no request lines.
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find("request finished"), std::string::npos) << line;
  }
}

TEST(LogFormatTest, BadLifecycleFlagsExitTwoNamingTheFlag) {
  INFERD_REQUIRE_SHARED(kModel);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--log-format", "bogus"},
                                             {"--drain-timeout", "-1"},
                                             {"--watchdog-timeout", "nan"},
                                             {"--debug-load-delay", "-2"}}) {
    std::vector<std::string> argv = {InferdPath(),  "serve", "--model",        SharedPath(kModel),
                                     "--port",      "0",     "--metrics-port", "-1",
                                     "--http-port", "-1"};
    argv.insert(argv.end(), args.begin(), args.end());
    const CommandResult result = RunCommand(argv);
    EXPECT_EQ(result.exit_code, 2) << args[0] << "\n" << result.err;
    EXPECT_NE(result.err.find(args[0]), std::string::npos) << result.err;
    EXPECT_EQ(result.out.find("inferd: listening"), std::string::npos) << result.out;
  }
}

}  // namespace
}  // namespace inferd::testing
