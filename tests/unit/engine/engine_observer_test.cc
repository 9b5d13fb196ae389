// The EngineObserver hooks on the real engine (stories260K): what it reports
// per request and per step equals what the clients read, the timestamps are
// ordered, errors and aborts are told apart, and a request is reported before
// its final chunk reaches the client. Skips when ../shared is absent.
#include "engine/engine_observer.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "engine/engine.h"
#include "gtest/gtest.h"
#include "tests/engine_test_util.h"
#include "tests/test_util.h"

namespace inferd::testing {
namespace {

using engine::EngineClock;
using engine::FinishReason;
using engine::Request;
using engine::RequestStats;
using engine::StepStats;

// Everything the engine reported, summed over steps. Thread-safe: the engine
// thread writes, the test reads.
class RecordingObserver final : public engine::EngineObserver {
 public:
  struct Totals {
    int64_t steps = 0;
    int64_t prompt_tokens = 0;
    int64_t generation_tokens = 0;
    int64_t preemptions = 0;
    int64_t ttft_count = 0;
    int64_t itl_count = 0;
    int64_t batched_tokens = 0;
    StepStats last;  // the spans are not kept
    std::vector<RequestStats> finished;
  };

  void OnEngineStart(const engine::ModelInfo& info) override {
    absl::MutexLock lock(&mu_);
    ++starts_;
    block_size_ = info.block_size;
    num_kv_blocks_ = info.num_kv_blocks;
  }
  void OnStep(const StepStats& stats) override {
    absl::MutexLock lock(&mu_);
    ++totals_.steps;
    totals_.prompt_tokens += stats.num_prompt_tokens;
    totals_.generation_tokens += stats.num_generation_tokens;
    totals_.preemptions += stats.num_preemptions;
    totals_.batched_tokens += stats.num_batched_tokens;
    totals_.ttft_count += static_cast<int64_t>(stats.time_to_first_token_s.size());
    totals_.itl_count += static_cast<int64_t>(stats.inter_token_latency_s.size());
    for (double v : stats.time_to_first_token_s) EXPECT_GE(v, 0.0);
    for (double v : stats.inter_token_latency_s) EXPECT_GE(v, 0.0);
    totals_.last = stats;
    totals_.last.time_to_first_token_s = {};
    totals_.last.inter_token_latency_s = {};
  }
  void OnRequestFinished(const RequestStats& stats) override {
    absl::MutexLock lock(&mu_);
    totals_.finished.push_back(stats);
  }

  Totals totals() const {
    absl::MutexLock lock(&mu_);
    return totals_;
  }
  int starts() const {
    absl::MutexLock lock(&mu_);
    return starts_;
  }
  int64_t num_kv_blocks() const {
    absl::MutexLock lock(&mu_);
    return num_kv_blocks_;
  }

 private:
  mutable absl::Mutex mu_;
  Totals totals_ ABSL_GUARDED_BY(mu_);
  int starts_ ABSL_GUARDED_BY(mu_) = 0;
  int32_t block_size_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t num_kv_blocks_ ABSL_GUARDED_BY(mu_) = 0;
};

// Prompt i has 2 + i tokens, so a RequestStats is matched to its request by
// num_prompt_tokens.
std::vector<int32_t> PromptOfLength(int n) {
  const std::vector<int32_t> story = {1,   403, 407, 261, 378, 385, 328, 432, 274, 287,
                                      272, 277, 264, 261, 370, 352, 266, 268, 388};
  return std::vector<int32_t>(story.begin(), story.begin() + n);
}

class EngineObserverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    INFERD_REQUIRE_SHARED("models/stories260K");
    observer_ = std::make_shared<RecordingObserver>();
    engine::EngineConfig config;
    config.model_dir = SharedPath("models/stories260K");
    config.kv_cache_memory_bytes = 64 << 20;
    config.observer = observer_;
    auto created = engine::Engine::Create(config);
    ASSERT_TRUE(created.ok()) << created.status();
    engine_ = *std::move(created);
  }

  std::shared_ptr<RecordingObserver> observer_;
  std::unique_ptr<engine::Engine> engine_;
};

void ExpectOrdered(const RequestStats& s) {
  EXPECT_NE(s.arrival, EngineClock::time_point{});
  EXPECT_LE(s.arrival, s.first_scheduled);
  EXPECT_LE(s.first_scheduled, s.first_token);
  EXPECT_LE(s.first_token, s.last_token);
  EXPECT_LE(s.last_token, s.finished);
}

TEST_F(EngineObserverTest, StartsOnceWithTheCacheSize) {
  EXPECT_EQ(observer_->starts(), 1);
  EXPECT_EQ(observer_->num_kv_blocks(), engine_->model_info().num_kv_blocks);
}

TEST_F(EngineObserverTest, FinishedStatsEqualWhatTheClientsRead) {
  // Concurrent: length limits, EOS allowed, a stop string, a stop token id.
  constexpr int kRequests = 8;
  std::vector<std::shared_ptr<engine::OutputChannel>> channels;
  for (int i = 0; i < kRequests; ++i) {
    Request r = Greedy("r" + std::to_string(i), PromptOfLength(2 + i), 10 + 9 * i);
    r.sampling.ignore_eos = (i % 2 == 0);
    if (i == 3) r.sampling.stop = {"Lily"};
    if (i == 5) r.sampling.stop_token_ids = {261};
    channels.push_back(SubmitOrDie(*engine_, std::move(r)));
  }
  std::map<int64_t, Collected> by_prompt_len;
  for (int i = 0; i < kRequests; ++i) by_prompt_len[2 + i] = Drain(*channels[i]);

  const RecordingObserver::Totals t = observer_->totals();
  ASSERT_EQ(t.finished.size(), static_cast<size_t>(kRequests));
  int64_t prompt_tokens = 0;
  int64_t generation_tokens = 0;
  int64_t later_samples = 0;
  for (const RequestStats& s : t.finished) {
    SCOPED_TRACE(::testing::Message() << "prompt of " << s.num_prompt_tokens << " tokens");
    ASSERT_EQ(by_prompt_len.count(s.num_prompt_tokens), 1u);
    const Collected& c = by_prompt_len[s.num_prompt_tokens];
    EXPECT_TRUE(c.status.ok()) << c.status;
    EXPECT_EQ(s.status_code, absl::StatusCode::kOk);
    EXPECT_EQ(s.finish_reason, c.finish_reason);
    EXPECT_EQ(s.num_prompt_tokens, c.usage.prompt_tokens);
    EXPECT_EQ(s.num_generation_tokens, c.usage.completion_tokens);
    EXPECT_EQ(s.num_generation_tokens, static_cast<int64_t>(c.ids.size()));
    EXPECT_EQ(s.num_cached_tokens, c.usage.cached_tokens);
    // A stop token is sampled but not part of the output.
    EXPECT_EQ(s.num_sampled_tokens,
              s.num_generation_tokens + (c.finish_reason == FinishReason::kStop ? 1 : 0));
    ExpectOrdered(s);
    prompt_tokens += c.usage.prompt_tokens;
    generation_tokens += c.usage.completion_tokens;
    later_samples += s.num_sampled_tokens - 1;
  }
  EXPECT_EQ(t.prompt_tokens, prompt_tokens);
  EXPECT_EQ(t.generation_tokens, generation_tokens);
  EXPECT_EQ(t.ttft_count, kRequests);
  EXPECT_EQ(t.itl_count, later_samples);
  EXPECT_GE(t.batched_tokens, prompt_tokens + generation_tokens - kRequests);
  // The step that ended the last request left nothing running or owned.
  EXPECT_EQ(t.last.num_running, 0);
  EXPECT_EQ(t.last.num_waiting, 0);
  EXPECT_EQ(t.last.num_kv_blocks_used, 0);
  EXPECT_EQ(t.last.num_kv_blocks_total, engine_->model_info().num_kv_blocks);
  // Every finish reason of the mix showed up.
  std::vector<FinishReason> reasons;
  for (const auto& [len, c] : by_prompt_len) reasons.push_back(c.finish_reason);
  EXPECT_NE(std::find(reasons.begin(), reasons.end(), FinishReason::kLength), reasons.end());
  EXPECT_NE(std::find(reasons.begin(), reasons.end(), FinishReason::kStopString), reasons.end());
  EXPECT_NE(std::find(reasons.begin(), reasons.end(), FinishReason::kStop), reasons.end());
}

TEST_F(EngineObserverTest, RequestIsReportedBeforeItsFinalChunkIsPushed) {
  // The channel's notify hook runs on the engine thread right after each
  // push: when it sees the final chunk, the observer must already hold the
  // request and every token of it.
  struct AtFinalPush {
    absl::Notification seen;
    RecordingObserver::Totals totals;  // written before `seen` is notified
  };
  int64_t generation_tokens = 0;
  for (int i = 0; i < 4; ++i) {
    auto channel = std::make_shared<engine::OutputChannel>();
    auto at_final = std::make_shared<AtFinalPush>();
    channel->SetNotify([raw = channel.get(), at_final, observer = observer_] {
      if (!at_final->seen.HasBeenNotified() && raw->finished_pushed()) {
        at_final->totals = observer->totals();
        at_final->seen.Notify();
      }
    });
    Request r = Greedy("seq" + std::to_string(i), PromptOfLength(3 + i), 5 + 7 * i);
    r.sampling.ignore_eos = true;
    ASSERT_TRUE(engine_->Submit(std::move(r), channel).ok());
    const Collected c = Drain(*channel);
    generation_tokens += c.usage.completion_tokens;
    ASSERT_TRUE(at_final->seen.WaitForNotificationWithTimeout(absl::Seconds(10)));
    const RecordingObserver::Totals& t = at_final->totals;
    EXPECT_EQ(t.finished.size(), static_cast<size_t>(i + 1));
    EXPECT_EQ(t.generation_tokens, generation_tokens);
    EXPECT_EQ(t.last.num_running, 0);
    EXPECT_EQ(t.last.num_kv_blocks_used, 0);
  }
}

TEST_F(EngineObserverTest, DeadlineIsAFailureAndAbortASuccess) {
  Request late = Greedy("late", PromptOfLength(4), 50);
  late.deadline = absl::Now() - absl::Seconds(1);
  const Collected failed = RunOne(*engine_, std::move(late));
  EXPECT_EQ(failed.status.code(), absl::StatusCode::kDeadlineExceeded);

  Request longer = Greedy("long", PromptOfLength(6), 400);
  longer.sampling.ignore_eos = true;
  auto channel = SubmitOrDie(*engine_, std::move(longer));
  Collected aborted;
  engine::RequestOutput first = channel->WaitPop();  // streaming has started
  aborted.ids = first.token_ids;
  if (!first.finished) {
    engine_->Abort("long");
    Collected rest = Drain(*channel);
    aborted.ids.insert(aborted.ids.end(), rest.ids.begin(), rest.ids.end());
    aborted.finish_reason = rest.finish_reason;
    aborted.status = rest.status;
  }
  EXPECT_EQ(aborted.finish_reason, FinishReason::kAbort);
  EXPECT_TRUE(aborted.status.ok());

  const RecordingObserver::Totals t = observer_->totals();
  ASSERT_EQ(t.finished.size(), 2u);
  const RequestStats& d = t.finished[0];
  EXPECT_EQ(d.status_code, absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(d.num_sampled_tokens, 0);
  EXPECT_EQ(d.first_scheduled, EngineClock::time_point{});  // expired while waiting
  EXPECT_EQ(d.first_token, EngineClock::time_point{});
  EXPECT_LE(d.arrival, d.finished);
  const RequestStats& a = t.finished[1];
  EXPECT_EQ(a.status_code, absl::StatusCode::kOk);
  EXPECT_EQ(a.finish_reason, FinishReason::kAbort);
  EXPECT_EQ(a.num_generation_tokens, static_cast<int64_t>(aborted.ids.size()));
  ExpectOrdered(a);
  EXPECT_EQ(t.generation_tokens, a.num_generation_tokens);
  EXPECT_EQ(t.prompt_tokens, a.num_prompt_tokens);  // the expired one never ran
}

}  // namespace
}  // namespace inferd::testing
