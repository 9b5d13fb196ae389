// tests/integration/soak_test.cc — moderate load for a while
// (docs/reliability.md): INFERD_SOAK_SECONDS (default 120; 600 on demand),
// 8 streams at a time, most run to the end, some cancelled mid-stream, some
// cut by timeout_ms. The daemon's resident memory, open file descriptors and
// threads are sampled every 2 s; after a warm-up (the first fifth, at least
// 10 s) neither memory nor descriptors may grow beyond a documented
// tolerance. Labelled `slow`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
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

constexpr int kInFlight = 8;
constexpr int kRoundCalls = 200;  // calls per ConcurrentStreams (bounds the client's memory)
// The documented tolerances (docs/reliability.md), after the warm-up: the
// median of the last five RSS samples may exceed the median of the first
// five by at most this much; open descriptors may exceed their warm-up
// count by at most kFdTolerance at any sample.
constexpr int64_t kRssTolerance = 8ll << 20;
constexpr int64_t kFdTolerance = 2;

double SoakSeconds() {
  const char* env = std::getenv("INFERD_SOAK_SECONDS");
  if (env == nullptr || *env == '\0') return 120;
  char* end = nullptr;
  const double seconds = std::strtod(env, &end);
  if (end == env || *end != '\0' || !(seconds > 0)) {
    ADD_FAILURE() << "INFERD_SOAK_SECONDS must be a positive number of seconds, got \"" << env
                  << "\"";
    return 120;
  }
  return seconds;
}

StreamPlan MixedPlan(std::mt19937& rng) {
  std::uniform_int_distribution<int> prompt_len(8, 128);
  std::uniform_int_distribution<int> max_tokens(16, 160);
  std::uniform_int_distribution<int> percent(0, 99);
  StreamPlan plan;
  plan.request = GreedyRequest(RandomPrompt(rng, prompt_len(rng)), max_tokens(rng));
  plan.request.set_ignore_eos(true);
  plan.request.set_temperature(0.7f);
  plan.request.set_seed(rng());
  const int p = percent(rng);
  if (p < 15) {
    plan.cancel_after_chunks = 1 + p;  // 1..15 chunks
  } else if (p < 30) {
    plan.request.set_timeout_ms(static_cast<uint32_t>(5 + 4 * p));  // 65..121 ms
  }
  return plan;
}

int64_t Median5(const std::vector<int64_t>& values, bool last) {
  const size_t n = std::min<size_t>(5, values.size());
  std::vector<int64_t> window(last ? values.end() - n : values.begin(),
                              last ? values.end() : values.begin() + n);
  std::sort(window.begin(), window.end());
  return window[window.size() / 2];
}

TEST(SoakTest, ModerateLoadLeaksNeitherMemoryNorDescriptors) {
  const double duration_s = SoakSeconds();
  const double warmup_s = std::max(10.0, duration_s / 5);
  std::string error;
  auto server = InferdServer::Start(EmbeddedModelDir(),
                                    {"--max-num-seqs", "16", "--kv-cache-memory", "32MiB"}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto stub = server->NewStub();
  std::mt19937 rng(600);

  const Clock::time_point start = Clock::now();
  auto elapsed = [&start] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  std::vector<int64_t> rss;  // after the warm-up
  std::vector<int64_t> fds;
  int64_t max_threads = 0;
  int64_t calls = 0;
  int64_t ok = 0;
  int64_t cancelled = 0;
  int64_t deadline = 0;
  int64_t tokens = 0;
  int health_failures = 0;
  double next_sample = warmup_s;
  while (elapsed() < duration_s) {
    ConcurrentStreams streams(server->channel());
    for (int i = 0; i < kRoundCalls && elapsed() < duration_s; ++i) {
      ASSERT_TRUE(streams.WaitStalledOrDone(i + 1 - kInFlight, std::chrono::seconds(60)));
      streams.Start(MixedPlan(rng));
      if (elapsed() >= next_sample) {
        next_sample += 2;
        std::optional<ProcessStats> s = ReadProcessStats(server->pid());
        ASSERT_TRUE(s.has_value()) << "the daemon died";
        rss.push_back(s->rss_bytes);
        fds.push_back(s->open_fds);
        max_threads = std::max(max_threads, s->threads);
        health_failures += CheckHealth(server->channel(), "liveness") == kServing ? 0 : 1;
      }
    }
    ASSERT_TRUE(streams.WaitAll(std::chrono::seconds(60)));
    for (const StreamOutcome& o : streams.Outcomes()) {
      ++calls;
      tokens += o.tokens;
      switch (o.status.error_code()) {
        case grpc::StatusCode::OK:
          ++ok;
          break;
        case grpc::StatusCode::CANCELLED:
          ++cancelled;
          break;
        case grpc::StatusCode::DEADLINE_EXCEEDED:
          ++deadline;
          break;
        default:
          ADD_FAILURE() << "unexpected status " << o.status.error_code() << " "
                        << o.status.error_message();
      }
    }
  }
  const double ran_s = elapsed();
  EXPECT_TRUE(WaitUntilTablesEmpty(*stub));
  ASSERT_GE(rss.size(), 5u) << "too few samples: run for longer";
  const int64_t rss_first = Median5(rss, false);
  const int64_t rss_last = Median5(rss, true);
  const int64_t fds_warm = fds.front();
  const int64_t fds_max = *std::max_element(fds.begin(), fds.end());
  std::printf(
      "[soak] %.0f s (warm-up %.0f s): %lld calls (%lld OK, %lld cancelled, %lld deadline), "
      "%lld tokens, %.1f calls/s; liveness failures %d\n",
      ran_s, warmup_s, static_cast<long long>(calls), static_cast<long long>(ok),
      static_cast<long long>(cancelled), static_cast<long long>(deadline),
      static_cast<long long>(tokens), static_cast<double>(calls) / ran_s, health_failures);
  std::printf(
      "[soak] %zu samples after the warm-up: RSS median of the first 5 %s, of the last 5 %s "
      "(growth %+.1f MiB, tolerance %s), min %s, max %s\n",
      rss.size(), MiB(rss_first).c_str(), MiB(rss_last).c_str(),
      static_cast<double>(rss_last - rss_first) / (1 << 20), MiB(kRssTolerance).c_str(),
      MiB(*std::min_element(rss.begin(), rss.end())).c_str(),
      MiB(*std::max_element(rss.begin(), rss.end())).c_str());
  std::printf("[soak] open fds after the warm-up %lld, max %lld, last %lld; threads max %lld\n",
              static_cast<long long>(fds_warm), static_cast<long long>(fds_max),
              static_cast<long long>(fds.back()), static_cast<long long>(max_threads));
  EXPECT_GT(ok, 0);
  EXPECT_EQ(health_failures, 0);
  EXPECT_LE(rss_last, rss_first + kRssTolerance);
  EXPECT_LE(fds_max, fds_warm + kFdTolerance);
  std::fflush(stdout);
  EXPECT_EQ(server->Stop(), 0);
}

}  // namespace
}  // namespace inferd::testing
