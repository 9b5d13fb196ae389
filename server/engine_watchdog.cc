// server/engine_watchdog.cc
#include "server/engine_watchdog.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace inferd::server {

namespace {

// A monotonic clock as absl::Time: wall-clock jumps never look like a stall.
absl::Time MonotonicNow() {
  return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

}  // namespace

bool StallDetector::Observe(int64_t num_steps, int64_t num_pending, absl::Time now) {
  if (!seen_ || num_steps != last_steps_ || num_pending == 0) {
    seen_ = true;
    last_steps_ = num_steps;
    last_progress_ = now;
    return false;
  }
  return now - last_progress_ >= timeout_;
}

absl::Duration EngineWatchdog::PollInterval(absl::Duration timeout) {
  return std::min(absl::Seconds(1), timeout / 4);
}

EngineWatchdog::EngineWatchdog(const engine::Engine* engine, absl::Duration timeout,
                               OnChange on_change)
    : engine_(engine),
      timeout_(timeout),
      on_change_(std::move(on_change)),
      thread_([this] { Run(); }) {}

EngineWatchdog::~EngineWatchdog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void EngineWatchdog::Run() {
  const absl::Duration interval = PollInterval(timeout_);
  StallDetector detector(timeout_);
  bool stalled = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval)) return;
    }
    const engine::EngineStats stats = engine_->GetStats();
    const absl::Time now = MonotonicNow();
    const absl::Duration since_progress = now - detector.last_progress();
    const bool now_stalled =
        detector.Observe(stats.num_steps, stats.num_running + stats.num_waiting, now);
    if (now_stalled != stalled) {
      stalled = now_stalled;
      on_change_(stalled, stats, since_progress);
    }
  }
}

}  // namespace inferd::server
