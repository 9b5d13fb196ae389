// tests/integration/metrics_test.cc — the daemon's Prometheus endpoint
// (--metrics-port) scraped over HTTP: counters and histograms equal what the
// clients observed, a request is counted before its client sees the end,
// failures are counted by gRPC code, the flag's values, and the exported
// families are exactly those of deploy/metrics.txt.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/exposition.h"
#include "tests/integration/http_get.h"
#include "tests/integration/server_fixture.h"
#include "tests/integration/subprocess.h"

namespace inferd::testing {
namespace {

using MetricsTest = ServerTest;

constexpr char kModelName[] = "stories260K";
const std::vector<int32_t> kOnceUponATime = {1, 403, 407, 261, 378};

Exposition Scrape(const InferdServer& server) {
  std::string error;
  std::optional<HttpResponse> response = HttpGet(server.metrics_port(), "/metrics", &error);
  if (!response.has_value()) {
    ADD_FAILURE() << "scrape failed: " << error;
    return {};
  }
  EXPECT_EQ(response->status, 200);
  std::optional<Exposition> parsed = ParseExposition(response->body, &error);
  if (!parsed.has_value()) {
    ADD_FAILURE() << error;
    return {};
  }
  return *std::move(parsed);
}

// 12 requests at once: stop strings, length limits, EOS allowed.
std::vector<v1::GenerateRequest> Burst() {
  std::vector<v1::GenerateRequest> out;
  for (int i = 0; i < 12; ++i) {
    std::vector<int32_t> prompt = kOnceUponATime;
    for (int j = 0; j < i; ++j) prompt.push_back(300 + 17 * j);
    v1::GenerateRequest request = GreedyRequest(prompt, 8 + 11 * i);
    if (i % 3 == 0) {
      *request.add_stop() = "Lily";
    } else if (i % 3 == 1) {
      request.set_ignore_eos(true);
    }
    out.push_back(std::move(request));
  }
  return out;
}

std::vector<StreamResult> RunConcurrently(v1::Inference::Stub& stub,
                                          const std::vector<v1::GenerateRequest>& requests) {
  std::vector<StreamResult> results(requests.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < requests.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = RunGenerate(stub, requests[i]); });
  }
  for (std::thread& t : threads) t.join();
  return results;
}

TEST_F(MetricsTest, CountersAndHistogramsEqualWhatTheClientsObserved) {
  ASSERT_GT(server_->metrics_port(), 0);
  const Exposition before = Scrape(*server_);
  const std::vector<StreamResult> results = RunConcurrently(*stub_, Burst());
  std::map<std::string, int> by_reason;
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0, min_gaps = 0;
  for (const StreamResult& r : results) {
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    ++by_reason[FinishReasonName(r.finish_reason)];
    prompt_tokens += r.usage.prompt_tokens();
    completion_tokens += r.usage.completion_tokens();
    cached_tokens += r.usage.cached_tokens();
    min_gaps += std::max<int64_t>(r.usage.completion_tokens() - 1, 0);
  }
  const double n = static_cast<double>(results.size());
  EXPECT_GE(by_reason.size(), 2u) << "the burst should end in more than one way";

  const Exposition after = Scrape(*server_);
  auto delta = [&](const std::string& name, const MetricLabels& match = {}) {
    return after.Sum(name, match) - before.Sum(name, match);
  };
  EXPECT_EQ(delta("inferd:request_success_total"), n);
  for (const char* reason : {"stop", "length", "stop_string", "abort"}) {
    EXPECT_EQ(delta("inferd:request_success_total", {{"finished_reason", reason}}),
              by_reason[reason])
        << reason;
  }
  EXPECT_EQ(delta("inferd:request_failure_total"), 0);
  EXPECT_EQ(delta("inferd:prompt_tokens_total"), prompt_tokens);
  EXPECT_EQ(delta("inferd:generation_tokens_total"), completion_tokens);
  EXPECT_EQ(delta("inferd:prefix_cache_hits_total"), cached_tokens);
  EXPECT_GE(delta("inferd:prefix_cache_queries_total"), cached_tokens);
  for (const char* histogram :
       {"inferd:time_to_first_token_seconds", "inferd:e2e_request_latency_seconds",
        "inferd:request_queue_time_seconds", "inferd:request_prefill_time_seconds",
        "inferd:request_decode_time_seconds", "inferd:request_prompt_tokens",
        "inferd:request_generation_tokens"}) {
    const std::string count = std::string(histogram) + "_count";
    EXPECT_EQ(delta(count), n) << count;
    EXPECT_EQ(delta(std::string(histogram) + "_bucket", {{"le", "+Inf"}}), n) << histogram;
  }
  EXPECT_EQ(delta("inferd:request_prompt_tokens_sum"), prompt_tokens);
  EXPECT_EQ(delta("inferd:request_generation_tokens_sum"), completion_tokens);
  EXPECT_GE(delta("inferd:inter_token_latency_seconds_count"), min_gaps);
  EXPECT_GT(delta("inferd:iteration_tokens_total_count"), 0);
  EXPECT_GE(delta("inferd:iteration_tokens_total_sum"), completion_tokens);

  EXPECT_EQ(after.Sum("inferd:num_requests_running"), 0);
  EXPECT_EQ(after.Sum("inferd:num_requests_waiting"), 0);
  EXPECT_EQ(after.Sum("inferd:kv_cache_usage_perc"), 0);
  EXPECT_EQ(after.Sum("inferd:engine_healthy"), 1);
  for (const MetricSample& s : after.samples) {
    if (s.name.rfind("inferd:", 0) != 0) continue;
    EXPECT_EQ(s.labels.count("model_name") ? s.labels.at("model_name") : "", kModelName) << s.name;
  }
}

TEST_F(MetricsTest, HistogramsUseVllmBuckets) {
  const Exposition e = Scrape(*server_);
  auto bounds = [&](const std::string& histogram) {
    std::vector<std::string> out;
    for (const MetricSample& s : e.Find(histogram + "_bucket")) out.push_back(s.labels.at("le"));
    return out;
  };
  EXPECT_EQ(
      bounds("inferd:time_to_first_token_seconds"),
      (std::vector<std::string>{"0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1",
                                "0.25",  "0.5",   "0.75", "1",    "2.5",  "5",    "7.5",  "10",
                                "20",    "40",    "80",   "160",  "640",  "2560", "+Inf"}));
  const std::vector<std::string> per_token = {
      "0.01", "0.025", "0.05", "0.075", "0.1", "0.15", "0.2", "0.3", "0.4", "0.5",
      "0.75", "1",     "2.5",  "5",     "7.5", "10",   "20",  "40",  "80",  "+Inf"};
  EXPECT_EQ(bounds("inferd:inter_token_latency_seconds"), per_token);
  EXPECT_EQ(bounds("inferd:request_time_per_output_token_seconds"), per_token);
  const std::vector<std::string> latency = {
      "0.3", "0.5", "0.8", "1",  "1.5", "2",   "2.5", "5",   "10",   "15",   "20",
      "30",  "40",  "50",  "60", "120", "240", "480", "960", "1920", "7680", "+Inf"};
  for (const char* h :
       {"inferd:e2e_request_latency_seconds", "inferd:request_queue_time_seconds",
        "inferd:request_prefill_time_seconds", "inferd:request_decode_time_seconds"}) {
    EXPECT_EQ(bounds(h), latency) << h;
  }
  // stories260K: a 512-token context; the default --max-num-batched-tokens 2048.
  const std::vector<std::string> counts = {"1",  "2",   "5",   "10",  "20",
                                           "50", "100", "200", "500", "+Inf"};
  EXPECT_EQ(bounds("inferd:request_prompt_tokens"), counts);
  EXPECT_EQ(bounds("inferd:request_generation_tokens"), counts);
  EXPECT_EQ(bounds("inferd:iteration_tokens_total"),
            (std::vector<std::string>{"1", "8", "16", "32", "64", "128", "256", "512", "1024",
                                      "2048", "+Inf"}));
}

TEST_F(MetricsTest, RequestIsCountedBeforeItsClientSeesTheEnd) {
  const Exposition start = Scrape(*server_);
  int64_t completion_tokens = 0;
  for (int i = 0; i < 5; ++i) {
    v1::GenerateRequest request = GreedyRequest(kOnceUponATime, 3 + 5 * i);
    request.set_ignore_eos(true);
    const StreamResult r = RunGenerate(*stub_, request);
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    completion_tokens += r.usage.completion_tokens();
    // No waiting: the scrape right after the stream ended already counts it.
    const Exposition now = Scrape(*server_);
    EXPECT_EQ(now.Sum("inferd:request_success_total") - start.Sum("inferd:request_success_total"),
              i + 1);
    EXPECT_EQ(
        now.Sum("inferd:generation_tokens_total") - start.Sum("inferd:generation_tokens_total"),
        completion_tokens);
    EXPECT_EQ(now.Sum("inferd:time_to_first_token_seconds_count") -
                  start.Sum("inferd:time_to_first_token_seconds_count"),
              i + 1);
    EXPECT_EQ(now.Sum("inferd:num_requests_running"), 0);
    EXPECT_EQ(now.Sum("inferd:kv_cache_usage_perc"), 0);
  }
}

TEST_F(MetricsTest, FailuresAreCountedByGrpcCode) {
  const Exposition before = Scrape(*server_);
  // Refused by the server's validation: never reaches the engine.
  const StreamResult invalid = RunGenerate(*stub_, GreedyRequest({1, 99999}, 5));
  EXPECT_EQ(invalid.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Fails in the engine: a 1 ms deadline on 400 tokens.
  v1::GenerateRequest slow = GreedyRequest(kOnceUponATime, 400);
  slow.set_ignore_eos(true);
  slow.set_timeout_ms(1);
  const StreamResult late = RunGenerate(*stub_, slow);
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);

  const Exposition after = Scrape(*server_);
  auto failures = [&](const Exposition& e, const char* code) {
    return e.Sum("inferd:request_failure_total", {{"code", code}});
  };
  EXPECT_EQ(failures(after, "INVALID_ARGUMENT") - failures(before, "INVALID_ARGUMENT"), 1);
  EXPECT_EQ(failures(after, "DEADLINE_EXCEEDED") - failures(before, "DEADLINE_EXCEEDED"), 1);
  EXPECT_EQ(after.Sum("inferd:request_failure_total") - before.Sum("inferd:request_failure_total"),
            2);
  EXPECT_EQ(after.Sum("inferd:request_success_total") - before.Sum("inferd:request_success_total"),
            0);
  // Every gRPC code is a series from the start.
  EXPECT_EQ(after.Find("inferd:request_failure_total").size(), 16u);
  EXPECT_EQ(after.Sum("inferd:kv_cache_usage_perc"), 0);
}

TEST_F(MetricsTest, CacheConfigAndSpeculativeSeriesExist) {
  const v1::GetModelInfoResponse info = GetModelInfo(*stub_);
  const Exposition e = Scrape(*server_);
  const std::vector<MetricSample> config = e.Find("inferd:cache_config_info");
  ASSERT_EQ(config.size(), 1u);
  EXPECT_EQ(config[0].value, 1);
  EXPECT_EQ(config[0].labels.at("block_size"), "16");
  EXPECT_EQ(config[0].labels.at("num_blocks"), std::to_string(info.engine().num_kv_blocks_total()));
  EXPECT_EQ(config[0].labels.at("prefix_caching"), "true");
  for (const char* counter :
       {"inferd:spec_decode_num_drafts_total", "inferd:spec_decode_num_draft_tokens_total",
        "inferd:spec_decode_num_accepted_tokens_total"}) {
    ASSERT_EQ(e.Find(counter).size(), 1u) << counter;
    EXPECT_EQ(e.Sum(counter), 0) << counter;
  }
  std::set<std::string> positions;
  for (const MetricSample& s : e.Find("inferd:spec_decode_num_accepted_tokens_per_pos_total")) {
    positions.insert(s.labels.at("position"));
    EXPECT_EQ(s.value, 0);
  }
  EXPECT_EQ(positions.size(), 16u);
  EXPECT_EQ(positions.count("0"), 1u);
  EXPECT_EQ(positions.count("15"), 1u);
}

TEST(MetricsPortTest, MinusOneDisablesAndBadValuesAreRefused) {
  INFERD_REQUIRE_SHARED(kModel);
  std::string error;
  auto server = InferdServer::Start(SharedPath(kModel), {"--metrics-port", "-1"}, &error);
  ASSERT_NE(server, nullptr) << error;
  EXPECT_EQ(server->metrics_port(), -1);
  auto stub = server->NewStub();
  EXPECT_TRUE(RunGenerate(*stub, GreedyRequest(kOnceUponATime, 4)).status.ok());

  for (const char* bad : {"70000", "-2"}) {
    const CommandResult r = RunCommand({InferdPath(), "serve", "--model", SharedPath(kModel),
                                        "--port", "0", "--metrics-port", bad, "--http-port", "-1"});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("--metrics-port"), std::string::npos) << r.err;
  }
}

TEST(MetricsPortTest, BusyMetricsPortFailsTheStart) {
  INFERD_REQUIRE_SHARED(kModel);
  std::string error;
  auto first = InferdServer::Start(SharedPath(kModel), {}, &error);
  ASSERT_NE(first, nullptr) << error;
  const CommandResult second = RunCommand(
      {InferdPath(), "serve", "--model", SharedPath(kModel), "--host", "127.0.0.1", "--port", "0",
       "--metrics-port", std::to_string(first->metrics_port()), "--http-port", "-1"});
  EXPECT_EQ(second.exit_code, 1);
  // Found by the trial bind before anything listens (server/listen_preflight.h).
  EXPECT_NE(second.err.find("--metrics-port " + std::to_string(first->metrics_port()) +
                            ": cannot listen on 127.0.0.1:"),
            std::string::npos)
      << second.err;
  EXPECT_NE(second.err.find("Address already in use"), std::string::npos) << second.err;
  EXPECT_EQ(second.out.find("listening on"), std::string::npos) << second.out;
  EXPECT_EQ(second.out.find("inferd: serving"), std::string::npos);
}

// deploy/metrics.txt (`NAME TYPE [LABELS]` a line) is what dashboards and
// rules are checked against: the daemon must export exactly those inferd:
// families, with those types and at least those labels besides model_name.
TEST_F(MetricsTest, ExportsExactlyTheFamiliesOfDeployMetricsTxt) {
  const std::filesystem::path catalog_path =
      std::filesystem::path(INFERD_SOURCE_DIR) / "deploy" / "metrics.txt";
  if (!std::filesystem::exists(catalog_path)) {
    GTEST_SKIP() << catalog_path << " not found";
  }
  std::map<std::string, std::string> listed_types;
  std::map<std::string, std::vector<std::string>> listed_labels;
  std::ifstream in(catalog_path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string name, type, labels;
    if (!(words >> name) || name[0] == '#') continue;
    words >> type >> labels;
    listed_types[name] = type;
    std::istringstream split(labels);
    for (std::string label; std::getline(split, label, ',');) listed_labels[name].push_back(label);
  }
  ASSERT_FALSE(listed_types.empty());

  const Exposition e = Scrape(*server_);
  std::map<std::string, std::string> exported;
  for (const auto& [family, type] : e.types) {
    if (family.rfind("inferd:", 0) == 0) exported[family] = type;
  }
  for (const auto& [name, type] : listed_types) {
    auto it = exported.find(name);
    if (it == exported.end()) {
      ADD_FAILURE() << name << " (" << type << ") is in deploy/metrics.txt but not exported";
      continue;
    }
    EXPECT_EQ(it->second, type) << name;
    const std::string series = type == "histogram" ? name + "_count" : name;
    const std::vector<MetricSample> samples = e.Find(series);
    ASSERT_FALSE(samples.empty()) << series;
    for (const MetricSample& s : samples) {
      EXPECT_EQ(s.labels.count("model_name"), 1u) << series;
      for (const std::string& label : listed_labels[name]) {
        EXPECT_EQ(s.labels.count(label), 1u) << series << " lacks label " << label;
      }
    }
  }
  for (const auto& [name, type] : exported) {
    EXPECT_EQ(listed_types.count(name), 1u)
        << name << " (" << type << ") is exported but not in deploy/metrics.txt";
  }
}

}  // namespace
}  // namespace inferd::testing
