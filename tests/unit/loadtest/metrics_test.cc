// tests/unit/loadtest/metrics_test.cc — TTFT/TPOT/ITL/e2e, throughputs,
// goodput and error counts from hand-made request records (vLLM's
// definitions), the JSON report's contract fields, and the progress line.
#include "loadtest/inferload/metrics.h"

#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "loadtest/inferload/progress_bar.h"
#include "loadtest/inferload/report.h"

namespace inferd::inferload {
namespace {

using ::testing::HasSubstr;

// Sent at `send`, chunks (time, tokens), ended at `end`.
RequestRecord Completed(double send, std::vector<TokenChunk> chunks, double end, int prompt = 10,
                        int cached = 0) {
  RequestRecord r;
  r.send_s = send;
  r.due_s = send;
  r.chunks = std::move(chunks);
  for (const TokenChunk& c : r.chunks) r.output_tokens += c.tokens;
  r.end_s = end;
  r.has_usage = true;
  r.prompt_tokens = prompt;
  r.completion_tokens = r.output_tokens;
  r.cached_tokens = cached;
  return r;
}

Slo SloOf(std::optional<double> ttft_s, std::optional<double> tpot_s) {
  Slo slo;
  slo.ttft_s = ttft_s;
  slo.tpot_s = tpot_s;
  return slo;
}

RequestRecord Failed(int code) {
  RequestRecord r;
  r.status_code = code;
  return r;
}

std::vector<RequestRecord> Records() {
  return {
      // TTFT 0.1, e2e 0.5, 4 tokens: TPOT 0.4/3; ITL gaps 0.1 and 0.2 (the
      // two-token chunk counts once).
      Completed(0.0, {{0.1, 1}, {0.2, 1}, {0.4, 2}}, 0.5, 10, 4),
      // TTFT 0.3, e2e 0.4, 1 token: no TPOT.
      Completed(1.0, {{1.3, 1}}, 1.4, 20, 0),
      Failed(8),  // RESOURCE_EXHAUSTED
      Failed(8),
      Failed(14),  // UNAVAILABLE
  };
}

TEST(InferloadMetricsTest, LatenciesFollowVllmDefinitions) {
  const RunMetrics m = ComputeMetrics(Records(), 6, 2.0, {});
  EXPECT_EQ(m.num_requests, 6);
  EXPECT_EQ(m.sent, 5);
  EXPECT_EQ(m.completed, 2);
  EXPECT_EQ(m.ttft.count, 2);
  EXPECT_NEAR(m.ttft.mean, 0.2, 1e-12);
  EXPECT_EQ(m.tpot.count, 1);
  EXPECT_NEAR(m.tpot.mean, 0.4 / 3, 1e-12);
  EXPECT_EQ(m.itl.count, 2);
  EXPECT_NEAR(m.itl.min, 0.1, 1e-12);
  EXPECT_NEAR(m.itl.max, 0.2, 1e-12);
  EXPECT_EQ(m.e2e.count, 2);
  EXPECT_NEAR(m.e2e.mean, 0.45, 1e-12);
  EXPECT_NEAR(m.e2e.p50, 0.45, 1e-12);
}

TEST(InferloadMetricsTest, ThroughputsErrorsAndCachedTokens) {
  const RunMetrics m = ComputeMetrics(Records(), 5, 2.0, {});
  EXPECT_EQ(m.errors,
            (std::map<std::string, int64_t>{{"RESOURCE_EXHAUSTED", 2}, {"UNAVAILABLE", 1}}));
  EXPECT_EQ(m.total_output_tokens, 5);
  EXPECT_EQ(m.total_input_tokens, 30);
  EXPECT_DOUBLE_EQ(m.request_throughput, 1.0);
  EXPECT_DOUBLE_EQ(m.output_token_throughput, 2.5);
  EXPECT_DOUBLE_EQ(m.total_token_throughput, 17.5);
  EXPECT_EQ(m.total_cached_tokens, 4);
  EXPECT_DOUBLE_EQ(m.mean_cached_tokens, 2.0);
  EXPECT_DOUBLE_EQ(m.prefix_hit_ratio, 4.0 / 30.0);
}

TEST(InferloadMetricsTest, GoodputCountsRequestsMeetingEverySlo) {
  // No SLO: every completed request is good.
  EXPECT_EQ(ComputeMetrics(Records(), 5, 2.0, {}).good_requests, 2);
  // TTFT <= 0.2: only the first.
  RunMetrics m = ComputeMetrics(Records(), 5, 2.0, SloOf(0.2, std::nullopt));
  EXPECT_EQ(m.good_requests, 1);
  EXPECT_DOUBLE_EQ(m.goodput, 0.5);
  // TPOT <= 0.1: the first misses (0.133); the second has no TPOT and passes.
  m = ComputeMetrics(Records(), 5, 2.0, SloOf(std::nullopt, 0.1));
  EXPECT_EQ(m.good_requests, 1);
  m = ComputeMetrics(Records(), 5, 2.0, SloOf(0.2, 0.1));
  EXPECT_EQ(m.good_requests, 0);
}

TEST(InferloadMetricsTest, StatusCodeNames) {
  EXPECT_EQ(StatusCodeName(0), "OK");
  EXPECT_EQ(StatusCodeName(1), "CANCELLED");
  EXPECT_EQ(StatusCodeName(4), "DEADLINE_EXCEEDED");
  EXPECT_EQ(StatusCodeName(8), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(StatusCodeName(14), "UNAVAILABLE");
}

TEST(InferloadReportTest, JsonHasTheContractFields) {
  RunInfo info;
  info.model = "stories260K";
  const nlohmann::json json = ToJson(ComputeMetrics(Records(), 5, 2.0, {}), info);
  for (const char* key :
       {"completed", "errors", "duration_s", "request_throughput", "output_token_throughput",
        "total_token_throughput", "goodput", "cached_tokens", "config"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  for (const char* metric : {"ttft", "tpot", "itl", "e2e"}) {
    for (const char* stat : {"mean", "p50", "p90", "p99"}) {
      EXPECT_TRUE(json.at(metric).at(stat).is_number()) << metric << "." << stat;
    }
  }
  EXPECT_EQ(json.at("errors").at("RESOURCE_EXHAUSTED"), 2);
  // No errors: an empty object, not null.
  const nlohmann::json clean = ToJson(ComputeMetrics({Records()[0]}, 1, 1.0, {}), info);
  EXPECT_TRUE(clean.at("errors").is_object());
  EXPECT_TRUE(clean.at("errors").empty());
  EXPECT_EQ(clean.at("completed"), 1);
}

TEST(InferloadReportTest, TableShowsTheNumbers) {
  RunInfo info;
  info.arrivals = "poisson, 20 req/s";
  info.workload = "random";
  const std::string table = FormatTable(ComputeMetrics(Records(), 5, 2.0, {}), info);
  EXPECT_THAT(table, HasSubstr("poisson, 20 req/s"));
  EXPECT_THAT(table, HasSubstr("3 (RESOURCE_EXHAUSTED 2, UNAVAILABLE 1)"));
  EXPECT_THAT(table, HasSubstr("TTFT"));
  EXPECT_THAT(table, HasSubstr("E2E"));
}

TEST(InferloadReportTest, ProgressLine) {
  EXPECT_EQ(ProgressLine(
                {.total = 10, .finished = 5, .in_flight = 2, .errors = 1, .elapsed_s = 1.25}, 10),
            "[#####     ] 5/10 done, 2 in flight, 1 errors, 1.2 s");
  EXPECT_EQ(
      ProgressLine({.total = 4, .finished = 4, .in_flight = 0, .errors = 0, .elapsed_s = 0}, 4),
      "[####] 4/4 done, 0 in flight, 0 errors, 0.0 s");
}

}  // namespace
}  // namespace inferd::inferload
