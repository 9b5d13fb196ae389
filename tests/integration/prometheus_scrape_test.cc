// tests/integration/prometheus_scrape_test.cc — a real Prometheus server
// (/usr/bin/prometheus, Debian package `prometheus`) scrapes the daemon every
// second; after a burst of requests, its HTTP query API must report what the
// clients observed. Skips when Prometheus is not installed; bounded well under
// a minute, and Prometheus is always stopped.
#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/http_get.h"
#include "tests/integration/inferd_server.h"
#include "tests/integration/subprocess.h"
#include "tests/integration/test_client.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kPrometheus[] = "/usr/bin/prometheus";

// A Prometheus server scraping one target, with its own config and storage in
// a temporary directory; stopped and removed on destruction.
class PrometheusServer {
 public:
  static std::unique_ptr<PrometheusServer> Start(int target_port, Clock::time_point deadline,
                                                 std::string* error) {
    char dir_template[] = "/tmp/inferd-prometheus-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) {
      *error = "mkdtemp failed";
      return nullptr;
    }
    const std::filesystem::path dir = dir_template;
    std::ofstream(dir / "prometheus.yml") << "global:\n"
                                             "  scrape_interval: 1s\n"
                                             "  evaluation_interval: 1s\n"
                                             "scrape_configs:\n"
                                             "  - job_name: inferd\n"
                                             "    scrape_interval: 1s\n"
                                             "    scrape_timeout: 1s\n"
                                             "    static_configs:\n"
                                             "      - targets: [\"127.0.0.1:"
                                          << target_port << "\"]\n";
    const int port = FreeLocalPort();
    std::optional<ChildProcess> process = ChildProcess::Start(
        {kPrometheus, "--config.file=" + (dir / "prometheus.yml").string(),
         "--storage.tsdb.path=" + (dir / "data").string(),
         "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"},
        error);
    if (!process.has_value()) {
      std::filesystem::remove_all(dir);
      return nullptr;
    }
    std::unique_ptr<PrometheusServer> server(new PrometheusServer(std::move(*process), dir, port));
    while (Clock::now() < deadline) {
      std::string ignored;
      std::optional<HttpResponse> ready = HttpGet(port, "/-/ready", &ignored);
      if (ready.has_value() && ready->status == 200) return server;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    *error = "prometheus did not become ready on port " + std::to_string(port);
    return nullptr;
  }

  ~PrometheusServer() {
    process_.Signal(SIGTERM);
    process_.Wait(std::chrono::seconds(10));  // kills it if still running then
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // The value of an instant query that yields one series; nullopt (and the
  // reason in *error) otherwise.
  std::optional<double> Query(const std::string& promql, std::string* error) const {
    std::optional<HttpResponse> response =
        HttpGet(port_, "/api/v1/query?query=" + UrlEncode(promql), error);
    if (!response.has_value()) return std::nullopt;
    const nlohmann::json body = nlohmann::json::parse(response->body, nullptr, false);
    if (response->status != 200 || body.is_discarded() || body.value("status", "") != "success") {
      *error = promql + ": HTTP " + std::to_string(response->status) + " " + response->body;
      return std::nullopt;
    }
    const nlohmann::json& result = body["data"]["result"];
    if (!result.is_array() || result.size() != 1) {
      *error = promql + ": expected one series, got " + result.dump();
      return std::nullopt;
    }
    return std::stod(result[0]["value"][1].get<std::string>());
  }

 private:
  PrometheusServer(ChildProcess process, std::filesystem::path dir, int port)
      : process_(std::move(process)), dir_(std::move(dir)), port_(port) {}

  ChildProcess process_;
  std::filesystem::path dir_;
  int port_;
};

double UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

TEST(PrometheusScrapeTest, RealPrometheusSeesWhatTheClientsObserved) {
  if (!std::filesystem::exists(kPrometheus)) {
    GTEST_SKIP() << kPrometheus << " not found: install the Debian package `prometheus` "
                 << "to run the real-scrape test";
  }
  INFERD_REQUIRE_SHARED(kModel);
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(50);
  std::string error;
  std::unique_ptr<InferdServer> inferd = InferdServer::Start(SharedPath(kModel), {}, &error);
  ASSERT_NE(inferd, nullptr) << error;
  ASSERT_GT(inferd->metrics_port(), 0);
  std::unique_ptr<PrometheusServer> prometheus =
      PrometheusServer::Start(inferd->metrics_port(), deadline, &error);
  ASSERT_NE(prometheus, nullptr) << error;

  // A burst: 8 requests at once, some ending on EOS, some on max_tokens.
  auto stub = inferd->NewStub();
  constexpr int kRequests = 8;
  std::vector<StreamResult> results(kRequests);
  std::vector<std::thread> clients;
  for (int i = 0; i < kRequests; ++i) {
    clients.emplace_back([&, i] {
      v1::GenerateRequest request = GreedyRequest({1, 403, 407, 261, 378, 300 + i}, 10 + 15 * i);
      request.set_ignore_eos(i % 2 == 0);
      results[i] = RunGenerate(*stub, request);
    });
  }
  for (std::thread& t : clients) t.join();
  const double done = UnixSeconds(std::chrono::system_clock::now());
  double prompt_tokens = 0, completion_tokens = 0;
  for (const StreamResult& r : results) {
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    prompt_tokens += r.usage.prompt_tokens();
    completion_tokens += r.usage.completion_tokens();
  }

  // Wait for a scrape that started after every client had its answer: the
  // daemon counts a request before its final chunk, so that scrape has it all.
  bool scraped = false;
  while (!scraped && Clock::now() < deadline) {
    std::optional<double> at = prometheus->Query("timestamp(inferd:num_requests_running)", &error);
    scraped = at.has_value() && *at > done;
    if (!scraped) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(scraped) << "no scrape after the burst within the deadline; last: " << error;

  auto expect_query = [&](const std::string& promql, double expected) {
    std::string query_error;
    std::optional<double> value = prometheus->Query(promql, &query_error);
    ASSERT_TRUE(value.has_value()) << query_error;
    EXPECT_EQ(*value, expected) << promql;
  };
  expect_query("up{job=\"inferd\"}", 1);
  expect_query("sum(inferd:request_success_total)", kRequests);
  expect_query("sum(inferd:request_failure_total)", 0);
  expect_query("inferd:prompt_tokens_total", prompt_tokens);
  expect_query("inferd:generation_tokens_total", completion_tokens);
  expect_query("inferd:time_to_first_token_seconds_count", kRequests);
  expect_query("inferd:e2e_request_latency_seconds_count", kRequests);
  expect_query("inferd:request_generation_tokens_sum", completion_tokens);
  expect_query("inferd:kv_cache_usage_perc", 0);
  expect_query("inferd:num_requests_running", 0);
  expect_query("inferd:num_requests_waiting", 0);
  expect_query("inferd:engine_healthy", 1);
}

}  // namespace
}  // namespace inferd::testing
