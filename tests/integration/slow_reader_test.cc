// tests/integration/slow_reader_test.cc — clients that stop reading their
// stream (docs/reliability.md): the engine finishes their requests without
// waiting for them (their output merges in one pending chunk per stream),
// other clients keep their normal latency, the daemon's memory stays
// bounded, and after --stream-write-timeout each stalled stream is cancelled
// (its request aborted if still running) and counted in
// inferd:stream_write_timeouts_total.
//
// A slow reader is a real client with a small HTTP/2 receive window
// (NewDedicatedChannel) that stops asking for messages after the first
// chunk: the server's next write cannot complete.
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/concurrent_streams.h"
#include "tests/integration/fault_test_util.h"
#include "tests/integration/inferd_server.h"
#include "tests/integration/process_stats.h"
#include "tests/integration/test_client.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSlowReaders = 8;
constexpr int kReceiveWindow = 1024;  // bytes the slow client accepts unread
constexpr int32_t kSlowMaxTokens = 256;
constexpr int32_t kLogprobs = 20;  // ~200 bytes per token on the wire
constexpr int kNormalRequests = 24;
// The documented bound (docs/reliability.md): stalled streams add less than
// this to the daemon's resident memory.
constexpr int64_t kStallMemoryBudget = 32ll << 20;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Sequential 64-token greedy requests on their own connection: p50 e2e.
double NormalLatencyP50(const std::string& address, std::mt19937& rng) {
  auto stub = v1::Inference::NewStub(NewDedicatedChannel(address));
  std::vector<double> e2e;
  for (int i = 0; i < kNormalRequests; ++i) {
    v1::GenerateRequest request = GreedyRequest(RandomPrompt(rng, 32), 64);
    request.set_ignore_eos(true);
    const Clock::time_point start = Clock::now();
    const StreamResult r = RunGenerate(*stub, request, std::chrono::seconds(30));
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.ids.size(), 64u);
    e2e.push_back(SecondsSince(start));
  }
  return Percentile(e2e, 50);
}

StreamPlan SlowPlan(std::mt19937& rng, int32_t max_tokens) {
  StreamPlan plan;
  plan.request = GreedyRequest(RandomPrompt(rng, 16), max_tokens);
  plan.request.set_ignore_eos(true);
  plan.request.set_logprobs(kLogprobs);
  plan.stop_reading_after_chunks = 1;
  plan.deadline = std::chrono::seconds(120);
  return plan;
}

double StreamWriteTimeouts(int metrics_port) {
  std::optional<Exposition> metrics = ScrapeMetrics(metrics_port);
  return metrics.has_value() ? metrics->Sum("inferd:stream_write_timeouts_total") : -1;
}

TEST(SlowReaderTest, StalledStreamsDoNotBlockTheEngineAndAreAbortedAfterTheTimeout) {
  // Well past the second or so the engine needs for the slow requests (a few
  // under a sanitizer), so that they finish in the engine while their
  // streams hang.
  const int timeout_s = Sanitized() ? 20 : 5;
  std::string error;
  auto server = InferdServer::Start(EmbeddedModelDir(),
                                    {"--stream-write-timeout", std::to_string(timeout_s),
                                     "--max-num-seqs", "16", "--kv-cache-memory", "32MiB"},
                                    &error);
  ASSERT_NE(server, nullptr) << error;
  auto stub = server->NewStub();
  std::mt19937 rng(7);
  NormalLatencyP50(server->address(), rng);  // warm-up
  const double normal_before = NormalLatencyP50(server->address(), rng);
  const std::optional<ProcessStats> before = ReadProcessStats(server->pid());
  ASSERT_TRUE(before.has_value());
  const int64_t finished_before = GetModelInfo(*stub).engine().num_requests_finished();

  ConcurrentStreams slow(NewDedicatedChannel(server->address(), kReceiveWindow));
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < kSlowReaders; ++i) slow.Start(SlowPlan(rng, kSlowMaxTokens));
  ASSERT_TRUE(slow.WaitStalledOrDone(kSlowReaders, std::chrono::seconds(10)));

  // The engine finishes every slow request although nobody reads them: it
  // never waits for a client.
  ASSERT_TRUE(WaitUntilIdle(*stub, std::chrono::seconds(static_cast<int>(10 * TimeScale()))));
  const double engine_done_s = SecondsSince(start);
  const v1::GetModelInfoResponse stalled_info = GetModelInfo(*stub);
  const int64_t open_while_stalled = stalled_info.num_open_streams();
  EXPECT_EQ(stalled_info.engine().num_requests_finished() - finished_before, kSlowReaders);
  const std::optional<ProcessStats> stalled = ReadProcessStats(server->pid());
  ASSERT_TRUE(stalled.has_value());
  // Other clients: the same latency as before while the streams hang.
  const double normal_during = NormalLatencyP50(server->address(), rng);
  const int64_t open_after_normal = GetModelInfo(*stub).num_open_streams();

  // Then the write timeout cancels every stalled stream.
  ASSERT_TRUE(WaitUntilTablesEmpty(*stub, std::chrono::seconds(timeout_s + 10)));
  const double streams_closed_s = SecondsSince(start);
  const double timeouts = StreamWriteTimeouts(server->metrics_port());

  slow.ResumeReading();
  ASSERT_TRUE(slow.WaitAll(std::chrono::seconds(10)));
  int cancelled = 0;
  int tokens_read = 0;
  for (const StreamOutcome& o : slow.Outcomes()) {
    cancelled += o.status.error_code() == grpc::StatusCode::CANCELLED ? 1 : 0;
    tokens_read += o.tokens;
    EXPECT_LT(o.tokens, kSlowMaxTokens) << "a stalled client got its whole stream";
  }

  std::printf(
      "[slow-reader] %d clients stop reading after 1 chunk (receive window %d bytes; %d tokens "
      "x %d logprobs each); --stream-write-timeout %d s\n",
      kSlowReaders, kReceiveWindow, kSlowMaxTokens, kLogprobs, timeout_s);
  std::printf(
      "[slow-reader] engine finished all %d requests %.2f s after they started, with %lld of "
      "their streams still open (%lld after the normal client ran)\n",
      kSlowReaders, engine_done_s, static_cast<long long>(open_while_stalled),
      static_cast<long long>(open_after_normal));
  std::printf(
      "[slow-reader] normal client p50 e2e (64 tokens): %.2f ms before, %.2f ms while "
      "streams hang\n",
      normal_before * 1e3, normal_during * 1e3);
  std::printf(
      "[slow-reader] streams closed by the server %.2f s after the start; "
      "stream_write_timeouts_total %.0f; clients saw CANCELLED %d of %d, %d tokens read in all\n",
      streams_closed_s, timeouts, cancelled, kSlowReaders, tokens_read);
  std::printf("[slow-reader] daemon RSS before %s, while %d streams hang %s (budget +%s)\n",
              MiB(before->rss_bytes).c_str(), kSlowReaders, MiB(stalled->rss_bytes).c_str(),
              MiB(kStallMemoryBudget).c_str());

  EXPECT_EQ(open_while_stalled, kSlowReaders) << "the streams should hang past the engine's work";
  EXPECT_LT(normal_during, 1.5 * normal_before + 0.005 * TimeScale());
  EXPECT_GE(streams_closed_s, timeout_s);
  EXPECT_LT(streams_closed_s, timeout_s + 5);
  EXPECT_EQ(timeouts, kSlowReaders);
  EXPECT_EQ(cancelled, kSlowReaders);
  if (Sanitized()) {
    std::printf("[slow-reader] sanitizer build: the memory bound is not checked\n");
  } else {
    EXPECT_LT(stalled->rss_bytes, before->rss_bytes + kStallMemoryBudget);
  }
  // And the server goes on serving.
  const StreamResult after = RunGenerate(*stub, GreedyRequest({1, 403}, 8));
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
  std::fflush(stdout);
  EXPECT_EQ(server->Stop(), 0);
}

TEST(SlowReaderTest, StalledStreamStillGeneratingIsAbortedInTheEngine) {
  // tiny-llama (context 4096): 4000 tokens take many seconds on two cores, so
  // the write timeout lands while the request is still running.
  constexpr char kLongModel[] = "models/tiny-llama";
  constexpr int32_t kLongMaxTokens = 4000;
  INFERD_REQUIRE_SHARED(kLongModel);
  std::string error;
  auto server =
      InferdServer::Start(SharedPath(kLongModel), {"--stream-write-timeout", "1"}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto stub = server->NewStub();
  const int64_t steps_before = GetModelInfo(*stub).engine().num_steps();
  std::mt19937 rng(11);
  ConcurrentStreams slow(NewDedicatedChannel(server->address(), kReceiveWindow));
  StreamPlan plan = SlowPlan(rng, kLongMaxTokens);
  plan.request.clear_token_ids();
  plan.request.mutable_token_ids()->add_ids(1);
  plan.request.mutable_token_ids()->add_ids(450);
  const Clock::time_point start = Clock::now();
  slow.Start(plan);
  ASSERT_TRUE(slow.WaitStalledOrDone(1, std::chrono::seconds(10)));
  ASSERT_TRUE(WaitUntilTablesEmpty(*stub, std::chrono::seconds(10)));
  const double aborted_s = SecondsSince(start);
  const int64_t steps = GetModelInfo(*stub).engine().num_steps() - steps_before;
  const double timeouts = StreamWriteTimeouts(server->metrics_port());
  slow.ResumeReading();
  ASSERT_TRUE(slow.WaitAll(std::chrono::seconds(10)));
  const StreamOutcome outcome = slow.Outcomes()[0];
  std::printf(
      "[slow-reader] long request (max_tokens %d) stalled after 1 chunk: aborted %.2f s after "
      "its start, after %lld engine steps; client read %d tokens, status %d; "
      "stream_write_timeouts_total %.0f\n",
      kLongMaxTokens, aborted_s, static_cast<long long>(steps), outcome.tokens,
      static_cast<int>(outcome.status.error_code()), timeouts);
  EXPECT_LT(steps, kLongMaxTokens - 1) << "the request ran to the end instead of being aborted";
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(timeouts, 1);
  std::fflush(stdout);
  EXPECT_EQ(server->Stop(), 0);
}

}  // namespace
}  // namespace inferd::testing
