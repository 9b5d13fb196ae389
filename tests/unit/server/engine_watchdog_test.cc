// StallDetector: stalled only with work pending and no step for the whole
// timeout; busy (steps completing) and idle (nothing pending) never stall.
#include "server/engine_watchdog.h"

#include "gtest/gtest.h"

namespace inferd::server {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);
absl::Time At(double seconds) { return kT0 + absl::Seconds(seconds); }

TEST(StallDetectorTest, PendingWorkWithoutStepsStallsAfterTheTimeout) {
  StallDetector d(absl::Seconds(1));
  EXPECT_FALSE(d.Observe(5, 0, At(0)));  // idle
  EXPECT_FALSE(d.Observe(5, 1, At(0.25)));
  EXPECT_FALSE(d.Observe(5, 1, At(0.5)));
  EXPECT_FALSE(d.Observe(5, 1, At(0.75)));
  // One second after the engine was last seen making progress (idle at 0).
  EXPECT_TRUE(d.Observe(5, 1, At(1.0)));
  EXPECT_TRUE(d.Observe(5, 2, At(5.0)));
  EXPECT_EQ(d.last_progress(), At(0));
  // A step completes: recovered at once.
  EXPECT_FALSE(d.Observe(6, 2, At(5.25)));
  EXPECT_EQ(d.last_progress(), At(5.25));
}

TEST(StallDetectorTest, BusyEngineNeverStalls) {
  StallDetector d(absl::Seconds(1));
  for (int i = 0; i < 100; ++i) {
    // A full queue, and a step completed between every two polls.
    EXPECT_FALSE(d.Observe(i, 1024, At(0.9 * i))) << i;
  }
}

TEST(StallDetectorTest, IdleEngineNeverStalls) {
  StallDetector d(absl::Seconds(1));
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(d.Observe(7, 0, At(i)));
  // Work appears after a long idle time: the timeout counts from the last
  // poll that saw the engine idle (at 99), not from the start.
  EXPECT_FALSE(d.Observe(7, 1, At(99.5)));
  EXPECT_TRUE(d.Observe(7, 1, At(100.0)));
}

TEST(StallDetectorTest, WorkThatGoesAwayClearsTheStall) {
  StallDetector d(absl::Seconds(1));
  EXPECT_FALSE(d.Observe(3, 1, At(0)));
  EXPECT_TRUE(d.Observe(3, 1, At(2)));
  EXPECT_FALSE(d.Observe(3, 0, At(3)));  // aborted or cancelled
}

TEST(EngineWatchdogTest, PollsFourTimesPerTimeoutAtMostOnceASecond) {
  EXPECT_EQ(EngineWatchdog::PollInterval(absl::Seconds(60)), absl::Seconds(1));
  EXPECT_EQ(EngineWatchdog::PollInterval(absl::Seconds(4)), absl::Seconds(1));
  EXPECT_EQ(EngineWatchdog::PollInterval(absl::Seconds(1)), absl::Milliseconds(250));
}

}  // namespace
}  // namespace inferd::server
