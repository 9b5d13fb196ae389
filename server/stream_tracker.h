// server/stream_tracker.h — counts the Generate streams in flight, so that a
// drain can let them finish (bounded) before it closes the connections.
//
// Thread-safe. Reactors call Add() when created and Remove() in OnDone.
#ifndef INFERD_SERVER_STREAM_TRACKER_H_
#define INFERD_SERVER_STREAM_TRACKER_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace inferd::server {

class StreamTracker {
 public:
  void Add() {
    absl::MutexLock lock(&mu_);
    ++active_;
  }
  void Remove() {
    absl::MutexLock lock(&mu_);
    --active_;
  }
  int64_t active() {
    absl::MutexLock lock(&mu_);
    return active_;
  }
  // Blocks until no stream is in flight or `deadline` passes; true when none is.
  bool WaitUntilIdle(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return active_ == 0; };
    return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
  }

 private:
  absl::Mutex mu_;
  int64_t active_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace inferd::server

#endif  // INFERD_SERVER_STREAM_TRACKER_H_
