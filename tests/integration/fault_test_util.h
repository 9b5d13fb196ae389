// tests/integration/fault_test_util.h — shared by the overload and fault
// tests (overload_test, cancellation_storm_test, slow_reader_test,
// model_file_fault_test, soak_test): the embedded model they serve, random
// prompts, percentiles, a metrics scrape, and an idle check that covers the
// request tables.
#ifndef INFERD_TESTS_INTEGRATION_FAULT_TEST_UTIL_H_
#define INFERD_TESTS_INTEGRATION_FAULT_TEST_UTIL_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "inferd/v1/inference.grpc.pb.h"
#include "tests/integration/exposition.h"
#include "tests/integration/http_get.h"
#include "tests/integration/test_client.h"

namespace inferd::testing {

// A sanitizer pass (scripts/test.sh --sanitize=address|thread sets
// INFERD_SANITIZE) runs everything several times slower, and the daemon's
// resident memory then includes the sanitizer's shadow memory and quarantine:
// the tests scale their time bounds by TimeScale() and check their memory
// bounds only without a sanitizer.
inline bool Sanitized() {
  const char* kind = std::getenv("INFERD_SANITIZE");
  return kind != nullptr && *kind != '\0';
}
inline double TimeScale() { return Sanitized() ? 10 : 1; }

// The repository's embedded stories260K (context 512, vocabulary 512): fast
// enough that hundreds of requests run in seconds on two cores.
inline std::string EmbeddedModelDir() {
  return std::string(INFERD_SOURCE_DIR) + "/models/stories260K";
}

// BOS, then `length - 1` ids drawn uniformly from [3, vocab) (no BOS/EOS).
inline std::vector<int32_t> RandomPrompt(std::mt19937& rng, int length, int32_t vocab = 512) {
  std::uniform_int_distribution<int32_t> id(3, vocab - 1);
  std::vector<int32_t> prompt = {1};
  while (static_cast<int>(prompt.size()) < length) prompt.push_back(id(rng));
  return prompt;
}

// Linear interpolation between ranks (numpy's default); 0 when empty.
inline double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(rank);
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (rank - static_cast<double>(lo));
}

// GET /metrics, parsed; nullopt (and a test failure) when it fails.
inline std::optional<Exposition> ScrapeMetrics(int metrics_port) {
  std::string error;
  std::optional<HttpResponse> response = HttpGet(metrics_port, "/metrics", &error);
  if (!response.has_value() || response->status != 200) {
    ADD_FAILURE() << "scraping /metrics failed: " << error;
    return std::nullopt;
  }
  std::optional<Exposition> parsed = ParseExposition(response->body, &error);
  if (!parsed.has_value()) ADD_FAILURE() << "bad exposition: " << error;
  return parsed;
}

// Polls GetModelInfo until nothing runs or waits, every KV block is free,
// the engine's request table is empty and no Generate stream is open on the
// server; fails with the last snapshot after `timeout`.
inline ::testing::AssertionResult WaitUntilTablesEmpty(
    v1::Inference::Stub& stub, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  v1::GetModelInfoResponse info;
  while (true) {
    info = GetModelInfo(stub);
    const v1::EngineState& e = info.engine();
    // The GetModelInfo call is not a stream: 0 open streams means none.
    if (e.num_running() == 0 && e.num_waiting() == 0 && e.num_live_requests() == 0 &&
        e.num_kv_blocks_total() > 0 && e.num_kv_blocks_free() == e.num_kv_blocks_total() &&
        info.num_open_streams() == 0) {
      return ::testing::AssertionSuccess();
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ::testing::AssertionFailure()
         << "not idle after " << timeout.count() << " ms: engine {"
         << info.engine().ShortDebugString() << "} num_open_streams " << info.num_open_streams();
}

}  // namespace inferd::testing

#endif  // INFERD_TESTS_INTEGRATION_FAULT_TEST_UTIL_H_
