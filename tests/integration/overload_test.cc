// tests/integration/overload_test.cc — a burst at 10x the server's capacity
// (docs/reliability.md): every request either completes or is refused at
// once with RESOURCE_EXHAUSTED; the daemon's resident memory stays within a
// documented bound; liveness never fails and readiness never drops (the
// engine keeps stepping); afterwards the request tables are empty and the
// median time to first token comes back within 1.5x of its value before.
//
// Capacity is what the engine holds at once: --max-num-seqs running plus
// --max-queue-len waiting. Each burst opens 10x that many streams over 8
// connections (as separate clients would; each under the server's
// --max-streams-per-connection, so none is queued by HTTP/2 flow control
// on the client) as fast as one client thread can; three bursts run back to
// back, each once the previous one ended. Figures go to stdout.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/concurrent_streams.h"
#include "tests/integration/fault_test_util.h"
#include "tests/integration/inferd_server.h"
#include "tests/integration/lifecycle_util.h"
#include "tests/integration/process_stats.h"
#include "tests/integration/test_client.h"

namespace inferd::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxNumSeqs = 16;
constexpr int kMaxQueueLen = 48;
constexpr int kCapacity = kMaxNumSeqs + kMaxQueueLen;
constexpr int kBurst = 10 * kCapacity;
constexpr int kConnections = 8;
constexpr int kBursts = 3;                // 1 under a sanitizer
constexpr int32_t kBurstMaxTokens = 384;  // + 32 prompt tokens <= the context of 512
// A refusal must come back this fast (times TimeScale()), and a health
// check within a Kubernetes probe's default timeout.
constexpr double kMaxRejectSeconds = 1.0;
constexpr double kHealthTimeoutSeconds = 1.0;
// The documented bound (docs/reliability.md): the bursts raise the daemon's
// peak resident memory over its resident memory before by less than the KV
// cache (its pages become resident as blocks are first used) plus 32 MiB
// (streams, gRPC buffers, the engine's workspace for larger batches).
constexpr int64_t kKvCacheBytes = 32ll << 20;
constexpr int64_t kBurstMemoryBudget = kKvCacheBytes + (32ll << 20);
// TTFT probes: distinct prompts (no prefix cache hits), two tokens each.
constexpr int kProbes = 30;
constexpr int kProbePromptLen = 128;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Sequential requests, one at a time: the median of their TTFTs.
double ProbeTtftP50(v1::Inference::Stub& stub, std::mt19937& rng, int n) {
  std::vector<double> ttfts;
  for (int i = 0; i < n; ++i) {
    v1::GenerateRequest request = GreedyRequest(RandomPrompt(rng, kProbePromptLen), 2);
    request.set_ignore_eos(true);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    const Clock::time_point start = Clock::now();
    auto reader = stub.Generate(&context, request);
    double ttft = -1;
    for (v1::GenerateResponse chunk; reader->Read(&chunk);) {
      if (ttft < 0 && chunk.token_ids_size() > 0) ttft = SecondsSince(start);
    }
    const grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << "probe " << i << ": " << status.error_message();
    if (ttft >= 0) ttfts.push_back(ttft);
  }
  return Percentile(ttfts, 50);
}

// Polls liveness and readiness on a connection of its own until stopped,
// each check bounded by 1 s (a Kubernetes probe's default timeout).
class HealthWatch {
 public:
  explicit HealthWatch(const std::string& address)
      : channel_(NewDedicatedChannel(address)), thread_([this] { Run(); }) {}
  ~HealthWatch() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int checks() const { return checks_; }
  int liveness_failures() const { return liveness_failures_; }
  int readiness_failures() const { return readiness_failures_; }
  double max_liveness_s() const { return max_liveness_s_; }

 private:
  std::optional<HealthStatus> Check(const std::string& service, double* seconds) {
    auto stub = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<int64_t>(kHealthTimeoutSeconds * TimeScale() * 1e3)));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    const Clock::time_point start = Clock::now();
    const bool ok = stub->Check(&context, request, &response).ok();
    *seconds = SecondsSince(start);
    if (!ok) return std::nullopt;
    return response.status();
  }
  void Run() {
    while (!stop_) {
      double seconds = 0;
      if (Check("liveness", &seconds) != kServing) ++liveness_failures_;
      if (seconds > max_liveness_s_) max_liveness_s_ = seconds;
      if (Check("", &seconds) != kServing) ++readiness_failures_;
      ++checks_;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::atomic<bool> stop_{false};
  std::atomic<int> checks_{0};
  std::atomic<int> liveness_failures_{0};
  std::atomic<int> readiness_failures_{0};
  std::atomic<double> max_liveness_s_{0};
  std::thread thread_;  // last
};

// Samples the daemon's resident memory every 20 ms until stopped.
class RssWatch {
 public:
  explicit RssWatch(pid_t pid) : pid_(pid), thread_([this] { Run(); }) {}
  ~RssWatch() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t max_rss() const { return max_rss_; }

 private:
  void Run() {
    while (!stop_) {
      if (std::optional<ProcessStats> s = ReadProcessStats(pid_); s.has_value()) {
        if (s->rss_bytes > max_rss_) max_rss_ = s->rss_bytes;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  const pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> max_rss_{0};
  std::thread thread_;  // last
};

TEST(OverloadTest, BurstAtTenTimesCapacityCompletesOrIsRefusedQuickly) {
  std::string error;
  auto server =
      InferdServer::Start(EmbeddedModelDir(),
                          {"--max-num-seqs", std::to_string(kMaxNumSeqs), "--max-queue-len",
                           std::to_string(kMaxQueueLen), "--kv-cache-memory",
                           std::to_string(kKvCacheBytes), "--watchdog-timeout", "2"},
                          &error);
  ASSERT_NE(server, nullptr) << error;
  auto stub = server->NewStub();
  std::mt19937 rng(9);

  ProbeTtftP50(*stub, rng, 8);  // warm-up: workspaces, allocator, connections
  // The median of three windows' medians: one window caught in a quiet or a
  // busy moment of the (shared, 2-core) machine does not set the baseline.
  std::vector<double> windows_before;
  for (int i = 0; i < 3; ++i) windows_before.push_back(ProbeTtftP50(*stub, rng, kProbes));
  const double ttft_before = Percentile(windows_before, 50);
  std::printf("[overload] TTFT p50 before the bursts: %.2f ms (windows %.2f, %.2f, %.2f ms)\n",
              ttft_before * 1e3, windows_before[0] * 1e3, windows_before[1] * 1e3,
              windows_before[2] * 1e3);
  const std::optional<ProcessStats> before = ReadProcessStats(server->pid());
  ASSERT_TRUE(before.has_value());

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < kConnections; ++i) channels.push_back(NewDedicatedChannel(server->address()));
  for (const auto& channel : channels) {  // connect first: the burst measures the server
    ASSERT_TRUE(
        channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5)));
  }
  HealthWatch health(server->address());
  RssWatch rss(server->pid());
  int completed = 0;
  int rejected = 0;
  int other = 0;
  std::vector<double> reject_s;
  std::vector<double> completed_ttft;
  const int bursts = Sanitized() ? 1 : kBursts;
  for (int burst = 1; burst <= bursts; ++burst) {
    const Clock::time_point burst_start = Clock::now();
    ConcurrentStreams streams(channels);
    for (int i = 0; i < kBurst; ++i) {
      StreamPlan plan;
      plan.request = GreedyRequest(RandomPrompt(rng, 32), kBurstMaxTokens);
      plan.request.set_ignore_eos(true);
      streams.Start(plan);
    }
    const double send_s = SecondsSince(burst_start);
    ASSERT_TRUE(streams.WaitAll(std::chrono::seconds(120))) << streams.NumDone() << " done";
    const double burst_s = SecondsSince(burst_start);
    int burst_completed = 0;
    int burst_rejected = 0;
    for (const StreamOutcome& o : streams.Outcomes()) {
      if (o.status.ok() && o.finish_reason == v1::FINISH_REASON_LENGTH &&
          o.tokens == kBurstMaxTokens) {
        ++burst_completed;
        completed_ttft.push_back(o.ttft_s);
      } else if (o.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED && o.tokens == 0) {
        ++burst_rejected;
        reject_s.push_back(o.e2e_s);
      } else {
        ++other;
        ADD_FAILURE() << "neither completed nor refused: status " << o.status.error_code() << " "
                      << o.status.error_message() << ", " << o.tokens << " tokens, finish "
                      << FinishReasonName(o.finish_reason);
      }
    }
    completed += burst_completed;
    rejected += burst_rejected;
    std::printf(
        "[overload] burst %d: %d streams over %d connections sent in %.3f s, all ended in %.2f "
        "s: %d completed, %d refused\n",
        burst, kBurst, kConnections, send_s, burst_s, burst_completed, burst_rejected);
    // The queue bound counts waiting requests only: at least that many are
    // admitted (more when running slots free up while the burst arrives).
    EXPECT_GE(burst_completed, kMaxQueueLen) << "the engine should finish what it queued";
    EXPECT_GT(burst_rejected, 0) << "a burst of 10x capacity should overflow the queue";
  }
  health.Stop();
  rss.Stop();
  const std::optional<ProcessStats> after = ReadProcessStats(server->pid());
  ASSERT_TRUE(after.has_value());

  const double max_reject_s =
      reject_s.empty() ? 0 : *std::max_element(reject_s.begin(), reject_s.end());
  std::printf(
      "[overload] capacity %d (max_num_seqs %d + max_queue_len %d); %d bursts of %d streams "
      "(%d tokens each)\n",
      kCapacity, kMaxNumSeqs, kMaxQueueLen, bursts, kBurst, kBurstMaxTokens);
  std::printf(
      "[overload] completed %d, refused RESOURCE_EXHAUSTED %d (p50 %.1f ms, p99 %.1f ms, max "
      "%.1f ms), other %d; completed TTFT p50 %.1f ms, max %.1f ms\n",
      completed, rejected, Percentile(reject_s, 50) * 1e3, Percentile(reject_s, 99) * 1e3,
      max_reject_s * 1e3, other, Percentile(completed_ttft, 50) * 1e3,
      Percentile(completed_ttft, 100) * 1e3);
  std::printf(
      "[overload] health checks %d: liveness failures %d (slowest answer %.1f ms), readiness "
      "failures %d\n",
      health.checks(), health.liveness_failures(), health.max_liveness_s() * 1e3,
      health.readiness_failures());
  std::printf(
      "[overload] daemon memory: RSS before %s, peak during the bursts %s (VmHWM %s), after %s; "
      "budget +%s (KV cache + 32 MiB); threads %lld -> %lld; fds %lld -> %lld\n",
      MiB(before->rss_bytes).c_str(), MiB(rss.max_rss()).c_str(), MiB(after->hwm_bytes).c_str(),
      MiB(after->rss_bytes).c_str(), MiB(kBurstMemoryBudget).c_str(),
      static_cast<long long>(before->threads), static_cast<long long>(after->threads),
      static_cast<long long>(before->open_fds), static_cast<long long>(after->open_fds));

  EXPECT_EQ(completed + rejected, bursts * kBurst);
  EXPECT_LT(max_reject_s, kMaxRejectSeconds * TimeScale());
  EXPECT_GT(health.checks(), 0);
  EXPECT_EQ(health.liveness_failures(), 0);
  EXPECT_EQ(health.readiness_failures(), 0);
  if (Sanitized()) {
    std::printf("[overload] sanitizer build: the memory bound is not checked\n");
  } else {
    EXPECT_LT(std::max(rss.max_rss(), after->rss_bytes), before->rss_bytes + kBurstMemoryBudget);
  }

  // Nothing left behind: no request, no stream, every KV block free.
  EXPECT_TRUE(WaitUntilTablesEmpty(*stub));
  // Every refusal is counted once, as the client saw it.
  if (std::optional<Exposition> metrics = ScrapeMetrics(server->metrics_port())) {
    EXPECT_EQ(metrics->Sum("inferd:request_failure_total", {{"code", "RESOURCE_EXHAUSTED"}}),
              rejected);
  }

  // TTFT comes back: windows of kProbes sequential probes, half a second
  // apart, until one's median is within 1.5x of the value before plus 0.5
  // ms (x10 sanitized) of scheduling jitter (up to 10 windows: other load on
  // the machine may come and go meanwhile). The slack matters where TTFT is
  // under 2 ms (a release build: 1.65 ms here, where one run in about 30
  // failed the bare 1.5x after all ten windows); a server that kept a
  // backlog or a slow path would be tens of ms over.
  const double ttft_bound = 1.5 * ttft_before + 0.0005 * TimeScale();
  double ttft_after = 0;
  int windows = 0;
  while (windows < 10) {
    if (windows > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ttft_after = ProbeTtftP50(*stub, rng, kProbes);
    ++windows;
    std::printf(
        "[overload] TTFT p50 after the bursts, window %d: %.2f ms (before: %.2f ms, bound %.2f "
        "ms)\n",
        windows, ttft_after * 1e3, ttft_before * 1e3, ttft_bound * 1e3);
    if (ttft_after <= ttft_bound) break;
  }
  EXPECT_LE(ttft_after, ttft_bound);
  std::fflush(stdout);
  EXPECT_EQ(server->Stop(), 0);
}

}  // namespace
}  // namespace inferd::testing
