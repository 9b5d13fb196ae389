// tests/integration/inferload_test.cc — `build/inferload` (a real process)
// against the real daemon on the embedded model (models/stories260K, context
// 512): every arrival source and workload runs to completion with small
// counts and writes the JSON other tools read; an unreachable server counts
// UNAVAILABLE errors; bad flags exit 2 naming the flag; --max-duration
// cancels what is in flight.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/inferd_server.h"
#include "tests/integration/subprocess.h"

namespace inferd::testing {
namespace {

using ::testing::HasSubstr;

std::string InferloadPath() { return std::string(INFERD_BINARY_DIR) + "/inferload"; }
std::string EmbeddedModel() { return std::string(INFERD_SOURCE_DIR) + "/models/stories260K"; }

// Nothing listens on port 1 of the loopback: connections are refused at once.
constexpr char kUnreachable[] = "127.0.0.1:1";

class InferloadTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    if (server_ != nullptr) server_->Stop();
    server_.reset();
  }

  void SetUp() override {
    if (!std::filesystem::exists(InferloadPath())) {
      GTEST_SKIP() << InferloadPath() << " not built (-DINFERD_BUILD_BENCHMARKS=OFF?)";
    }
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = ::testing::TempDir() + "/inferload-" + info->name() + "-" + std::to_string(::getpid());
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    ASSERT_TRUE(std::filesystem::create_directories(dir_, ec)) << dir_ << ": " << ec.message();
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  // The server, started on first use (one per test process).
  const std::string& Address() {
    if (server_ == nullptr) {
      std::string error;
      server_ = InferdServer::Start(EmbeddedModel(), {}, &error);
      EXPECT_NE(server_, nullptr) << error;
      if (server_ == nullptr) return empty_;
    }
    return server_->address();
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // Runs inferload with `args` (plus --no-progress and --json-out); the JSON
  // it wrote (null when none), the process result in *result.
  nlohmann::json Run(const std::string& addr, const std::vector<std::string>& args,
                     CommandResult* result) {
    const std::string json_path = dir_ + "/out.json";
    std::filesystem::remove(json_path);
    std::vector<std::string> argv = {InferloadPath(), "--addr",     addr,
                                     "--no-progress", "--json-out", json_path};
    argv.insert(argv.end(), args.begin(), args.end());
    *result = RunCommand(argv, std::chrono::seconds(30));
    EXPECT_FALSE(result->timed_out);
    std::ifstream in(json_path);
    if (!in) return nullptr;
    return nlohmann::json::parse(in, nullptr, false);
  }

  // A run that must succeed: exit 0, JSON written.
  nlohmann::json RunOk(const std::vector<std::string>& args) {
    CommandResult result;
    const nlohmann::json json = Run(Address(), args, &result);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_THAT(result.out, HasSubstr("inferload result"));
    EXPECT_TRUE(json.is_object()) << result.err;
    return json.is_object() ? json : nlohmann::json::object();
  }

  static std::unique_ptr<InferdServer> server_;
  std::string dir_;
  const std::string empty_;
};

std::unique_ptr<InferdServer> InferloadTest::server_;

// Every request completed, no errors, and the latency summaries are sane.
void ExpectCleanRun(const nlohmann::json& json, int64_t n) {
  ASSERT_TRUE(json.contains("completed")) << json.dump();
  EXPECT_EQ(json.at("completed"), n);
  EXPECT_EQ(json.at("sent"), n);
  EXPECT_TRUE(json.at("errors").is_object());
  EXPECT_TRUE(json.at("errors").empty()) << json.at("errors").dump();
  EXPECT_GT(json.at("duration_s").get<double>(), 0);
  EXPECT_GT(json.at("request_throughput").get<double>(), 0);
  EXPECT_GT(json.at("output_token_throughput").get<double>(), 0);
  EXPECT_GT(json.at("total_token_throughput").get<double>(), 0);
  for (const char* metric : {"ttft", "tpot", "itl", "e2e"}) {
    const nlohmann::json& s = json.at(metric);
    EXPECT_GT(s.at("mean").get<double>(), 0) << metric;
    EXPECT_LE(s.at("p50").get<double>(), s.at("p90").get<double>()) << metric;
    EXPECT_LE(s.at("p90").get<double>(), s.at("p99").get<double>()) << metric;
  }
  // TTFT <= e2e for every request, so for the medians too.
  EXPECT_LE(json.at("ttft").at("p50").get<double>(), json.at("e2e").at("p50").get<double>());
}

TEST_F(InferloadTest, PoissonRateRunCompletesEveryRequest) {
  const nlohmann::json json = RunOk({"--num-requests", "20", "--request-rate", "20", "--input-len",
                                     "32", "--output-len", "16", "--seed", "3"});
  ExpectCleanRun(json, 20);
  // ignore_eos: each request generates its max_tokens, drawn in [12, 20].
  EXPECT_GE(json.at("total_output_tokens").get<int64_t>(), 20 * 12);
  EXPECT_LE(json.at("total_output_tokens").get<int64_t>(), 20 * 20);
  EXPECT_EQ(json.at("config").at("arrival"), "rate");
  EXPECT_EQ(json.at("config").at("request_rate"), 20.0);
  EXPECT_EQ(json.at("model"), "stories260K");
}

TEST_F(InferloadTest, GammaBurstyRateRunCompletesEveryRequest) {
  const nlohmann::json json =
      RunOk({"--num-requests", "20", "--request-rate", "40", "--burstiness", "0.5", "--input-len",
             "24", "--output-len", "12", "--slo-ttft", "10", "--slo-tpot", "10"});
  ExpectCleanRun(json, 20);
  EXPECT_EQ(json.at("config").at("burstiness"), 0.5);
  // Generous SLOs: every request is good.
  EXPECT_EQ(json.at("good_requests"), 20);
  EXPECT_DOUBLE_EQ(json.at("goodput").get<double>(), json.at("request_throughput").get<double>());
}

TEST_F(InferloadTest, ClosedLoopConcurrencyRunCompletesEveryRequest) {
  const nlohmann::json json = RunOk(
      {"--num-requests", "20", "--concurrency", "4", "--input-len", "32", "--output-len", "16"});
  ExpectCleanRun(json, 20);
  EXPECT_EQ(json.at("config").at("concurrency"), 4);
}

TEST_F(InferloadTest, DefaultLengthsFitTheEmbeddedModelContext) {
  const nlohmann::json json = RunOk({"--num-requests", "12", "--concurrency", "6"});
  ExpectCleanRun(json, 12);
  EXPECT_EQ(json.at("config").at("model_context"), 512);
  EXPECT_EQ(json.at("config").at("input_len"), 128);  // min(256, 512/4)
  EXPECT_EQ(json.at("config").at("output_len"), 128);
}

TEST_F(InferloadTest, SharedPrefixWorkloadReportsCachedTokens) {
  const nlohmann::json json = RunOk({"--num-requests", "20", "--concurrency", "4", "--workload",
                                     "shared-prefix", "--num-prefixes", "2"});
  ExpectCleanRun(json, 20);
  const nlohmann::json& config = json.at("config");
  EXPECT_EQ(config.at("workload"), "shared-prefix");
  EXPECT_EQ(config.at("num_prefixes"), 2);
  EXPECT_EQ(config.at("prefix_len"), 256);  // min(512, 512/2)
  EXPECT_EQ(config.at("suffix_len"), 64);
  const nlohmann::json& cached = json.at("cached_tokens");
  for (const char* key : {"total", "mean", "hit_ratio"}) {
    ASSERT_TRUE(cached.at(key).is_number()) << key;
    EXPECT_GE(cached.at(key).get<double>(), 0) << key;
  }
  EXPECT_LE(cached.at("hit_ratio").get<double>(), 1.0);
  // Each prompt is a 256-token prefix plus a suffix of 48..80 tokens.
  EXPECT_GE(json.at("total_input_tokens").get<int64_t>(), 20 * (256 + 48));
}

TEST_F(InferloadTest, TraceReplayFollowsTheArrivalTimes) {
  std::string trace;
  for (int i = 0; i < 10; ++i) {
    const std::string prompt =
        i % 2 == 0 ? "\"prompt\": \"Once upon a time\"" : "\"prompt_len\": 20";
    trace +=
        "{\"arrival_s\": " + std::to_string(0.05 * i) + ", " + prompt + ", \"max_tokens\": 8}\n";
  }
  const std::string path = WriteFile("trace.jsonl", trace);
  const nlohmann::json json = RunOk({"--trace", path});
  ExpectCleanRun(json, 10);
  EXPECT_EQ(json.at("total_output_tokens"), 80);
  // The last request is sent 0.45 s after the first.
  EXPECT_GE(json.at("duration_s").get<double>(), 0.45);
  EXPECT_EQ(json.at("config").at("trace"), path);
}

TEST_F(InferloadTest, DatasetPromptsAreSentAsText) {
  const std::string path =
      WriteFile("prompts.jsonl",
                "{\"prompt\": \"Once upon a time\", \"max_tokens\": 5}\n"
                "{\"prompt\": \"The little dog\", \"output_len\": 6}\n"
                "{\"prompt\": \"Lily and Ben went to the park\", \"max_tokens\": 7}\n");
  const nlohmann::json json =
      RunOk({"--num-requests", "9", "--concurrency", "3", "--workload", path});
  ExpectCleanRun(json, 9);
  EXPECT_EQ(json.at("total_output_tokens"), 3 * (5 + 6 + 7));  // cycled three times
  EXPECT_EQ(json.at("config").at("dataset"), path);
}

TEST_F(InferloadTest, UnreachableServerCountsUnavailableAndExitsOne) {
  CommandResult result;
  const nlohmann::json json =
      Run(kUnreachable, {"--num-requests", "5", "--request-rate", "10"}, &result);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("UNAVAILABLE"));
  ASSERT_TRUE(json.is_object());
  EXPECT_EQ(json.at("completed"), 0);
  EXPECT_EQ(json.at("errors"), nlohmann::json({{"UNAVAILABLE", 5}}));
  EXPECT_TRUE(json.at("setup_error").is_string());
}

TEST_F(InferloadTest, BadFlagsExitTwoNamingTheFlag) {
  const std::string bad_trace = WriteFile("bad.jsonl",
                                          "{\"arrival_s\": 0, \"prompt\": \"a\"}\n"
                                          "{\"arrival_s\": \"later\", \"prompt\": \"b\"}\n");
  const struct {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"--num-requests", "5"}, "--request-rate"},
      {{"--num-requests", "5", "--request-rate", "2", "--concurrency", "2"}, "--concurrency"},
      {{"--num-requests", "5", "--concurrency", "2", "--burstiness", "0.5"}, "--burstiness"},
      {{"--concurrency", "2"}, "--num-requests"},
      {{"--num-requests", "5", "--concurrency", "0"}, "--concurrency"},
      {{"--num-requests", "5", "--request-rate", "fast"}, "--request-rate"},
      {{"--num-requests", "5", "--concurrency", "2", "--no-such-flag"}, "--no-such-flag"},
      {{"--num-requests", "5", "--concurrency", "2", "--workload", "shared-prefix", "--input-len",
        "8"},
       "--input-len"},
      {{"--num-requests", "5", "--concurrency", "2", "--prefix-len", "8"}, "--prefix-len"},
      {{"--trace", bad_trace, "--workload", "random"}, "--workload"},
      {{"--trace", bad_trace}, "bad.jsonl:2: field 'arrival_s'"},
      {{"--num-requests", "5", "--concurrency", "2", "--workload", dir_ + "/missing.jsonl"},
       "missing.jsonl"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {InferloadPath(), "--addr", kUnreachable};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const CommandResult result = RunCommand(argv, std::chrono::seconds(30));
    EXPECT_EQ(result.exit_code, 2) << c.message << ": " << result.err;
    EXPECT_THAT(result.err, HasSubstr(c.message));
  }
}

TEST_F(InferloadTest, HelpListsTheFlags) {
  const CommandResult result = RunCommand({InferloadPath(), "--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr("usage: inferload"));
  EXPECT_THAT(result.out, HasSubstr("--request-rate"));
  EXPECT_THAT(result.out, HasSubstr("--max-duration"));
}

TEST_F(InferloadTest, MaxDurationCancelsTheCallsInFlight) {
  CommandResult result;
  const nlohmann::json json =
      Run(Address(),
          {"--num-requests", "100000", "--concurrency", "4", "--input-len", "8", "--output-len",
           "480", "--output-len-range", "0", "--max-duration", "1"},
          &result);
  ASSERT_TRUE(json.is_object()) << result.err;
  EXPECT_TRUE(json.at("stopped_by_max_duration").get<bool>());
  EXPECT_LT(json.at("duration_s").get<double>(), 5);
  const nlohmann::json& errors = json.at("errors");
  ASSERT_TRUE(errors.contains("CANCELLED")) << errors.dump();
  EXPECT_EQ(errors.size(), 1u) << errors.dump();
  const int64_t cancelled = errors.at("CANCELLED").get<int64_t>();
  EXPECT_GE(cancelled, 1);
  EXPECT_LE(cancelled, 4);
  EXPECT_EQ(json.at("completed").get<int64_t>() + cancelled, json.at("sent").get<int64_t>());
  EXPECT_LT(json.at("sent").get<int64_t>(), 100000);
}

}  // namespace
}  // namespace inferd::testing
