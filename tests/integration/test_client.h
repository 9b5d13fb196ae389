// tests/integration/test_client.h — client-side helpers shared by the
// integration tests: run a Generate stream to the end, poll until the engine
// is idle, run the offline `inferd generate --json` reference.
#ifndef INFERD_TESTS_INTEGRATION_TEST_CLIENT_H_
#define INFERD_TESTS_INTEGRATION_TEST_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "inferd/v1/inference.grpc.pb.h"
#include "nlohmann/json.hpp"

namespace inferd::testing {

// Everything one Generate call returned.
struct StreamResult {
  grpc::Status status;
  std::string request_id;  // from the first chunk
  std::vector<int32_t> ids;
  std::string text;
  v1::FinishReason finish_reason = v1::FINISH_REASON_UNSPECIFIED;
  v1::Usage usage;
  int num_chunks = 0;
};

// Runs the stream to the end (deadline `timeout`).
StreamResult RunGenerate(v1::Inference::Stub& stub, const v1::GenerateRequest& request,
                         std::chrono::milliseconds timeout = std::chrono::seconds(120));

// A greedy request on token ids.
v1::GenerateRequest GreedyRequest(const std::vector<int32_t>& prompt_ids, int32_t max_tokens);

std::vector<int32_t> Tokenize(v1::Inference::Stub& stub, const std::string& text);

v1::GetModelInfoResponse GetModelInfo(v1::Inference::Stub& stub);

// Polls GetModelInfo until no request runs or waits and every KV block is
// free; fails with the last counters after `timeout`.
::testing::AssertionResult WaitUntilIdle(
    v1::Inference::Stub& stub, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// `inferd generate --model model_dir <args> --json`; the parsed last line.
// Adds a test failure (and returns null) when it fails.
nlohmann::json RunOfflineGenerate(const std::string& model_dir,
                                  const std::vector<std::string>& args);

// "1,2,3".
std::string JoinIds(const std::vector<int32_t>& ids);

// "stop", "length", "stop_string", "abort" ("" for unspecified).
std::string FinishReasonName(v1::FinishReason reason);

// The model every integration test serves: ../shared/models/stories260K.
inline constexpr char kModel[] = "models/stories260K";

}  // namespace inferd::testing

#endif  // INFERD_TESTS_INTEGRATION_TEST_CLIENT_H_
