// StreamWriteWatchdog: every registered check is called each poll with the
// time and the timeout; a check that aborts its stream is counted once
// through on_timeout; unregistered checks are no longer called.
#include "server/stream_write_watchdog.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "gtest/gtest.h"

namespace inferd::server {
namespace {

using Clock = StreamWriteWatchdog::Clock;

TEST(StreamWriteWatchdogTest, PollIntervalIsAQuarterOfTheTimeoutAtMostOneSecond) {
  EXPECT_EQ(StreamWriteWatchdog::PollInterval(absl::Seconds(60)), absl::Seconds(1));
  EXPECT_EQ(StreamWriteWatchdog::PollInterval(absl::Seconds(2)), absl::Milliseconds(500));
}

TEST(StreamWriteWatchdogTest, StalledWriteIsAbortedOnceAfterTheTimeoutAndCounted) {
  std::atomic<int> timeouts{0};
  StreamWriteWatchdog watchdog(absl::Milliseconds(200), [&timeouts] { ++timeouts; });
  // A stream whose write started now and never completes: the check aborts
  // it once `timeout` has passed, as GenerateReactor's does.
  const Clock::time_point write_started = Clock::now();
  std::atomic<bool> aborted{false};
  std::atomic<int> calls{0};
  std::atomic<int64_t> seen_timeout_ms{0};
  const uint64_t stalled = watchdog.Register([&](Clock::time_point now, Clock::duration timeout) {
    ++calls;
    seen_timeout_ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
    if (aborted || now - write_started < timeout) return false;
    aborted = true;
    return true;
  });
  // A stream whose writes always complete: never aborted.
  std::atomic<int> healthy_calls{0};
  const uint64_t healthy = watchdog.Register([&](Clock::time_point, Clock::duration) {
    ++healthy_calls;
    return false;
  });
  EXPECT_NE(stalled, 0u);
  EXPECT_NE(stalled, healthy);
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
  while (!aborted && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(aborted);
  const double aborted_after_s =
      std::chrono::duration<double>(Clock::now() - write_started).count();
  EXPECT_GE(aborted_after_s, 0.2);
  EXPECT_LT(aborted_after_s, 0.2 + 0.05 + 1.0);  // timeout + one poll (+ scheduling slack)
  EXPECT_EQ(seen_timeout_ms, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // a few more polls
  EXPECT_EQ(timeouts, 1);
  EXPECT_GT(healthy_calls, 1);

  // Unregistered: no more calls.
  watchdog.Unregister(stalled);
  watchdog.Unregister(healthy);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));  // a poll in flight ends
  const int calls_after = calls;
  const int healthy_after = healthy_calls;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(calls, calls_after);
  EXPECT_EQ(healthy_calls, healthy_after);
}

}  // namespace
}  // namespace inferd::server
