// server/stream_write_watchdog.h — aborts the Generate streams of clients
// that stopped reading (--stream-write-timeout).
//
// The engine never waits for a client: its chunks are merged in the
// request's OutputChannel while the reactor's one write is pending. A client
// that stops reading (a hung process, a full receive window) would still
// keep its stream, its request and its buffered output forever; this
// watchdog bounds that. Each open stream registers a check; a thread of the
// watchdog's own calls every check every PollInterval(timeout) with the time,
// without holding the watchdog's lock, so a check may start gRPC operations.
// A check returns true when it aborted its stream (its write had been
// pending for `timeout`); each such abort is reported once through
// `on_timeout` (a metric). Thread-safe.
#ifndef INFERD_SERVER_STREAM_WRITE_WATCHDOG_H_
#define INFERD_SERVER_STREAM_WRITE_WATCHDOG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace inferd::server {

class StreamWriteWatchdog {
 public:
  using Clock = std::chrono::steady_clock;
  // Aborts its stream and returns true when a write has been pending since
  // before `now - timeout`; otherwise does nothing and returns false.
  using Check = std::function<bool(Clock::time_point now, Clock::duration timeout)>;

  // `timeout` > 0. `on_timeout` (may be empty) runs on the watchdog thread
  // after each aborted stream.
  StreamWriteWatchdog(absl::Duration timeout, std::function<void()> on_timeout);
  ~StreamWriteWatchdog();  // stops the thread (returns within one poll)
  StreamWriteWatchdog(const StreamWriteWatchdog&) = delete;
  StreamWriteWatchdog& operator=(const StreamWriteWatchdog&) = delete;

  // Watches a stream until Unregister(key); the key is never 0.
  uint64_t Register(Check check);
  void Unregister(uint64_t key);

  // min(1 s, timeout / 4): a stalled stream is aborted within timeout + this.
  static absl::Duration PollInterval(absl::Duration timeout);

 private:
  void Run();

  const absl::Duration timeout_;
  const std::function<void()> on_timeout_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_key_ ABSL_GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, Check> checks_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: started after everything above exists
};

}  // namespace inferd::server

#endif  // INFERD_SERVER_STREAM_WRITE_WATCHDOG_H_
