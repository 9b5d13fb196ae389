// tests/integration/cancellation_storm_test.cc — 1,000 streams ended by the
// client mid-stream, at random points, in four ways: TryCancel after k
// chunks, TryCancel after a random delay, a short gRPC deadline, a short
// timeout_ms. Afterwards the KV pool is completely free, the engine's
// request table and the server's stream table are empty, and the server
// still answers greedy requests exactly as before (docs/reliability.md).
#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/concurrent_streams.h"
#include "tests/integration/fault_test_util.h"
#include "tests/integration/inferd_server.h"
#include "tests/integration/process_stats.h"
#include "tests/integration/test_client.h"

namespace inferd::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kCalls = 1000;
constexpr int kMaxNumSeqs = 32;
constexpr int kInFlight = kMaxNumSeqs;  // all running: a cancel lands mid-stream, not in the queue
constexpr int kMaxContext = 512;        // stories260K

enum Kind { kCancelAfterChunks, kCancelAfterDelay, kGrpcDeadline, kTimeoutMs, kNumKinds };
constexpr std::array<const char*, kNumKinds> kKindNames = {
    "TryCancel after k chunks", "TryCancel after a delay", "gRPC deadline", "timeout_ms"};

// A request far longer than any cancel point: it is always cut short.
StreamPlan RandomPlan(std::mt19937& rng, Kind kind) {
  std::uniform_int_distribution<int> prompt_len(8, 64);
  std::uniform_int_distribution<int> chunks(1, 40);
  // Scaled under a sanitizer, where the first token comes later.
  const int scale = static_cast<int>(TimeScale());
  std::uniform_int_distribution<int> delay_ms(20 * scale, 300 * scale);
  std::bernoulli_distribution greedy(0.5);
  const std::vector<int32_t> prompt = RandomPrompt(rng, prompt_len(rng));
  StreamPlan plan;
  plan.request = GreedyRequest(prompt, kMaxContext - static_cast<int32_t>(prompt.size()));
  plan.request.set_ignore_eos(true);
  if (!greedy(rng)) {
    plan.request.set_temperature(0.8f);
    plan.request.set_seed(rng());
  }
  switch (kind) {
    case kCancelAfterChunks:
      plan.cancel_after_chunks = chunks(rng);
      break;
    case kCancelAfterDelay:
      plan.cancel_after = std::chrono::milliseconds(delay_ms(rng));
      break;
    case kGrpcDeadline:
      plan.deadline = std::chrono::milliseconds(delay_ms(rng));
      break;
    case kTimeoutMs:
      plan.request.set_timeout_ms(static_cast<uint32_t>(delay_ms(rng)));
      break;
    default:
      break;
  }
  return plan;
}

TEST(CancellationStormTest, ThousandCancelsAndDeadlinesLeaveNothingBehind) {
  std::string error;
  auto server = InferdServer::Start(
      EmbeddedModelDir(),
      {"--max-num-seqs", std::to_string(kMaxNumSeqs), "--kv-cache-memory", "32MiB"}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto stub = server->NewStub();
  // A reference greedy continuation, compared after the storm.
  v1::GenerateRequest reference = GreedyRequest({1, 403, 407, 261}, 64);
  reference.set_ignore_eos(true);
  const StreamResult reference_before = RunGenerate(*stub, reference);
  ASSERT_TRUE(reference_before.status.ok()) << reference_before.status.error_message();
  const std::optional<ProcessStats> before = ReadProcessStats(server->pid());
  ASSERT_TRUE(before.has_value());

  std::mt19937 rng(1000);
  std::uniform_int_distribution<int> kind_of(0, kNumKinds - 1);
  std::vector<Kind> kinds;
  std::vector<size_t> plans_prompt_len;
  const Clock::time_point start = Clock::now();
  int total_mid_stream = 0;
  {
    ConcurrentStreams streams(server->channel());
    for (int i = 0; i < kCalls; ++i) {
      // At most kInFlight at once: wait for the oldest to make room.
      ASSERT_TRUE(streams.WaitStalledOrDone(i + 1 - kInFlight, std::chrono::seconds(60)))
          << "calls stopped ending after " << i << " were started";
      kinds.push_back(static_cast<Kind>(kind_of(rng)));
      const StreamPlan plan = RandomPlan(rng, kinds.back());
      plans_prompt_len.push_back(plan.request.token_ids().ids_size());
      streams.Start(plan);
    }
    ASSERT_TRUE(streams.WaitAll(std::chrono::seconds(60))) << streams.NumDone() << " done";
    const double storm_s = std::chrono::duration<double>(Clock::now() - start).count();

    // Per kind: how the calls ended, and how many ended mid-stream (after
    // tokens arrived).
    std::array<std::map<std::string, int>, kNumKinds> codes;
    std::array<int, kNumKinds> mid_stream{};
    std::array<int, kNumKinds> count{};
    int64_t tokens = 0;
    const std::vector<StreamOutcome> outcomes = streams.Outcomes();
    for (size_t i = 0; i < outcomes.size(); ++i) {
      const StreamOutcome& o = outcomes[i];
      const Kind kind = kinds[i];
      ++count[kind];
      tokens += o.tokens;
      const grpc::StatusCode code = o.status.error_code();
      codes[kind][code == grpc::StatusCode::OK                  ? "OK"
                  : code == grpc::StatusCode::CANCELLED         ? "CANCELLED"
                  : code == grpc::StatusCode::DEADLINE_EXCEEDED ? "DEADLINE_EXCEEDED"
                                                                : o.status.error_message()]++;
      // OK only for a request that ran to its end before its cancel came
      // (possible when few others run).
      const bool finished = code == grpc::StatusCode::OK &&
                            o.finish_reason == v1::FINISH_REASON_LENGTH &&
                            o.tokens == kMaxContext - static_cast<int>(plans_prompt_len[i]);
      EXPECT_TRUE(code == grpc::StatusCode::CANCELLED ||
                  code == grpc::StatusCode::DEADLINE_EXCEEDED || finished)
          << "call " << i << " (" << kKindNames[kind] << "): " << code << " "
          << o.status.error_message() << ", " << o.tokens << " tokens";
      if (code != grpc::StatusCode::OK && o.tokens > 0) {
        ++mid_stream[kind];
        ++total_mid_stream;
      }
    }
    std::printf("[cancellation] %d calls (at most %d at once) in %.2f s, %lld tokens streamed\n",
                kCalls, kInFlight, storm_s, static_cast<long long>(tokens));
    for (int k = 0; k < kNumKinds; ++k) {
      std::string by_code;
      for (const auto& [name, n] : codes[k]) by_code += " " + name + "=" + std::to_string(n);
      std::printf("[cancellation]   %-26s %4d calls, %4d mid-stream;%s\n", kKindNames[k], count[k],
                  mid_stream[k], by_code.c_str());
    }
    std::printf("[cancellation] ended mid-stream (after tokens arrived): %d of %d\n",
                total_mid_stream, kCalls);
    // Nearly all land mid-stream; the rest were cut before their first
    // token (or, rarely, came after the end), which must leave nothing
    // behind either.
    EXPECT_GE(total_mid_stream, kCalls * 95 / 100);
  }

  EXPECT_TRUE(WaitUntilTablesEmpty(*stub, std::chrono::seconds(10)));
  const v1::GetModelInfoResponse info = GetModelInfo(*stub);
  std::printf(
      "[cancellation] after: running %lld, waiting %lld, live requests %lld, open streams %lld, "
      "KV blocks free %lld of %lld, requests finished %lld\n",
      static_cast<long long>(info.engine().num_running()),
      static_cast<long long>(info.engine().num_waiting()),
      static_cast<long long>(info.engine().num_live_requests()),
      static_cast<long long>(info.num_open_streams()),
      static_cast<long long>(info.engine().num_kv_blocks_free()),
      static_cast<long long>(info.engine().num_kv_blocks_total()),
      static_cast<long long>(info.engine().num_requests_finished()));
  if (std::optional<Exposition> metrics = ScrapeMetrics(server->metrics_port())) {
    std::printf(
        "[cancellation] metrics: success{abort} %.0f, failure{DEADLINE_EXCEEDED} %.0f, "
        "failure{CANCELLED} %.0f, num_requests_running %.0f, kv_cache_usage_perc %.3f\n",
        metrics->Sum("inferd:request_success_total", {{"finished_reason", "abort"}}),
        metrics->Sum("inferd:request_failure_total", {{"code", "DEADLINE_EXCEEDED"}}),
        metrics->Sum("inferd:request_failure_total", {{"code", "CANCELLED"}}),
        metrics->Sum("inferd:num_requests_running"), metrics->Sum("inferd:kv_cache_usage_perc"));
    // Every request the engine took (the reference one included) is counted
    // exactly once: an abort (client cancel), a DEADLINE_EXCEEDED failure,
    // or (rarely) a request that finished first. A call cut before its
    // handler ran (a short deadline on a busy machine) never reached the
    // engine; one that streamed tokens did.
    const int64_t engine_finished = info.engine().num_requests_finished();
    EXPECT_EQ(metrics->Sum("inferd:request_success_total") +
                  metrics->Sum("inferd:request_failure_total", {{"code", "DEADLINE_EXCEEDED"}}),
              engine_finished);
    EXPECT_GE(engine_finished - 1, total_mid_stream);
    EXPECT_LE(engine_finished - 1, kCalls);
    std::printf("[cancellation] calls that reached the engine: %lld of %d\n",
                static_cast<long long>(engine_finished - 1), kCalls);
    EXPECT_EQ(metrics->Sum("inferd:num_requests_running"), 0);
    EXPECT_EQ(metrics->Sum("inferd:kv_cache_usage_perc"), 0);
  }
  const std::optional<ProcessStats> after = ReadProcessStats(server->pid());
  ASSERT_TRUE(after.has_value());
  std::printf("[cancellation] daemon: RSS %s -> %s, fds %lld -> %lld, threads %lld -> %lld\n",
              MiB(before->rss_bytes).c_str(), MiB(after->rss_bytes).c_str(),
              static_cast<long long>(before->open_fds), static_cast<long long>(after->open_fds),
              static_cast<long long>(before->threads), static_cast<long long>(after->threads));

  // The engine's state is intact: the same greedy continuation as before.
  const StreamResult reference_after = RunGenerate(*stub, reference);
  EXPECT_TRUE(reference_after.status.ok()) << reference_after.status.error_message();
  EXPECT_EQ(reference_after.ids, reference_before.ids);
  std::fflush(stdout);
  EXPECT_EQ(server->Stop(), 0);
}

}  // namespace
}  // namespace inferd::testing
