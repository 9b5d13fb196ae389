// server/engine_watchdog.h — readiness fails when the engine stops making
// progress (DESIGN §8): requests are waiting or running, yet no engine step
// completed within the timeout (--watchdog-timeout). A busy server completes
// steps, so load, a full queue or long streams never trip it; an idle engine
// (nothing pending) is never stalled.
//
// StallDetector is the decision, a pure function of successive snapshots
// (time is an input). EngineWatchdog polls Engine::GetStats() on a thread of
// its own every PollInterval(timeout) and reports each change (stalled or
// not) once, through a callback on that thread.
#ifndef INFERD_SERVER_ENGINE_WATCHDOG_H_
#define INFERD_SERVER_ENGINE_WATCHDOG_H_

#include <cstdint>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/engine.h"

namespace inferd::server {

class StallDetector {
 public:
  explicit StallDetector(absl::Duration timeout) : timeout_(timeout) {}

  // Feeds one snapshot taken at `now`: the engine's completed steps and its
  // running + waiting requests. Returns whether the engine is stalled: work
  // pending, and the step count unchanged for `timeout` (counted from the
  // last step seen, or from when the work appeared).
  bool Observe(int64_t num_steps, int64_t num_pending, absl::Time now);
  // When the last step was seen (or the engine last seen idle).
  absl::Time last_progress() const { return last_progress_; }

 private:
  const absl::Duration timeout_;
  bool seen_ = false;
  int64_t last_steps_ = 0;
  absl::Time last_progress_;
};

class EngineWatchdog {
 public:
  // Called on the watchdog thread when the engine becomes stalled (true) or
  // makes progress again (false); `stats` is the snapshot that decided it,
  // `since_progress` the time from the last step seen before it to it (on
  // recovery: about how long the stall lasted).
  using OnChange = std::function<void(bool stalled, const engine::EngineStats& stats,
                                      absl::Duration since_progress)>;

  // Starts polling `engine` (not owned; it must outlive the watchdog).
  // `timeout` > 0.
  EngineWatchdog(const engine::Engine* engine, absl::Duration timeout, OnChange on_change);
  ~EngineWatchdog();  // stops polling (returns within one poll)
  EngineWatchdog(const EngineWatchdog&) = delete;
  EngineWatchdog& operator=(const EngineWatchdog&) = delete;

  // min(1 s, timeout / 4).
  static absl::Duration PollInterval(absl::Duration timeout);

 private:
  void Run();

  const engine::Engine* const engine_;
  const absl::Duration timeout_;
  const OnChange on_change_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started after everything above exists
};

}  // namespace inferd::server

#endif  // INFERD_SERVER_ENGINE_WATCHDOG_H_
