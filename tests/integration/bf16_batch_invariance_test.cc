// tests/integration/bf16_batch_invariance_test.cc — DESIGN §5 under bf16: with
// `--dtype bf16 --kv-cache-dtype bf16` (tiny-llama's fp32 checkpoint rounded
// to bf16 at load, a bf16 KV cache) a request's tokens still do not depend on
// what else the server runs. 16 concurrent streams, each on a connection of
// its own (different prompts, staggered starts, max_tokens 8..200), each
// produce exactly the tokens they produce alone, greedy and seeded. The
// kernels widen bf16 weight panels once when 4+ rows share them and per row
// otherwise, so a decode alone (one row) and decodes together take different
// paths.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/concurrent_streams.h"
#include "tests/integration/inferd_server.h"
#include "tests/integration/test_client.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

constexpr char kTinyLlama[] = "models/tiny-llama";
constexpr int kNumRequests = 16;

const char* const kPrompts[kNumRequests] = {
    "Once upon a time", "The little dog",     "Lily and Ben were",   "One day, a girl named",
    "The sun was",      "Tom wanted to",      "There was a big red", "Mom said",
    "The bird flew",    "A boy had a toy",    "In the park,",        "The cat was very",
    "Sue liked to",     "It was a rainy day", "The old man",         "They went to the"};

// 8 .. 200, mixed so that short and long requests overlap.
int32_t MaxTokens(int i) { return 8 + (i * 7 % kNumRequests) * 192 / (kNumRequests - 1); }

class Bf16BatchInvarianceTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    if (server_ != nullptr) server_->Stop();
    server_.reset();
  }

  void SetUp() override {
    INFERD_REQUIRE_SHARED(kTinyLlama);
    if (server_ == nullptr) {
      std::string error;
      server_ = InferdServer::Start(SharedPath(kTinyLlama),
                                    {"--dtype", "bf16", "--kv-cache-dtype", "bf16"}, &error);
      ASSERT_NE(server_, nullptr) << error;
    }
    stub_ = server_->NewStub();
    // The server really runs bf16 weights and a bf16 cache, converted at load.
    const v1::GetModelInfoResponse info = GetModelInfo(*stub_);
    ASSERT_EQ(info.dtype(), "bf16");
    ASSERT_EQ(info.kv_cache_dtype(), "bf16");
    ASSERT_EQ(info.checkpoint_dtype(), "fp32");
  }

  std::vector<v1::GenerateRequest> Requests(bool sampled) {
    std::vector<v1::GenerateRequest> requests;
    for (int i = 0; i < kNumRequests; ++i) {
      v1::GenerateRequest request = GreedyRequest(Tokenize(*stub_, kPrompts[i]), MaxTokens(i));
      request.set_ignore_eos(true);  // every stream runs to its max_tokens
      if (sampled) {
        request.set_temperature(0.8f);
        request.set_top_p(0.95f);
        request.set_seed(1000 + i);
      }
      requests.push_back(request);
    }
    return requests;
  }

  void ExpectConcurrentEqualsAlone(const std::vector<v1::GenerateRequest>& requests) {
    std::vector<StreamResult> alone;
    for (const v1::GenerateRequest& request : requests) {
      alone.push_back(RunGenerate(*stub_, request));
      ASSERT_TRUE(alone.back().status.ok()) << alone.back().status.error_message();
    }
    std::vector<StreamResult> together(requests.size());
    std::atomic<int> streams_done{0};
    std::vector<std::thread> threads;
    for (size_t i = 0; i < requests.size(); ++i) {
      threads.emplace_back([&, i] {
        std::this_thread::sleep_for(std::chrono::microseconds(500 * i));  // staggered
        std::unique_ptr<v1::Inference::Stub> stub =
            v1::Inference::NewStub(NewDedicatedChannel(server_->address()));
        together[i] = RunGenerate(*stub, requests[i]);
        ++streams_done;
      });
    }
    // The streams must really share engine steps for the test to mean anything.
    int64_t max_running = 0;
    while (streams_done.load() < kNumRequests) {
      max_running = std::max(max_running, GetModelInfo(*stub_).engine().num_running());
    }
    for (std::thread& t : threads) t.join();
    EXPECT_GE(max_running, 2) << "the concurrent streams never ran in the same step";
    std::cout << "bf16: up to " << max_running << " of " << kNumRequests
              << " streams ran in one step\n";
    for (size_t i = 0; i < requests.size(); ++i) {
      SCOPED_TRACE("request " + std::to_string(i) + ": " + kPrompts[i]);
      ASSERT_TRUE(together[i].status.ok()) << together[i].status.error_message();
      EXPECT_EQ(static_cast<int32_t>(alone[i].ids.size()), requests[i].max_tokens());
      EXPECT_EQ(together[i].ids, alone[i].ids);
      EXPECT_EQ(together[i].text, alone[i].text);
      EXPECT_EQ(together[i].finish_reason, alone[i].finish_reason);
    }
    EXPECT_TRUE(WaitUntilIdle(*stub_));
  }

  inline static std::unique_ptr<InferdServer> server_;
  std::unique_ptr<v1::Inference::Stub> stub_;
};

TEST_F(Bf16BatchInvarianceTest, GreedyConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/false));
}

TEST_F(Bf16BatchInvarianceTest, SeededSamplingConcurrentEqualsAlone) {
  ExpectConcurrentEqualsAlone(Requests(/*sampled=*/true));
}

}  // namespace
}  // namespace inferd::testing
