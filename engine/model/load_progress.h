// engine/model/load_progress.h — progress of a weight load, reported while
// it runs: nothing for a load shorter than the interval (1 s), then one
// report per interval from a thread of its own, and a last one at 100% when
// the load succeeds. The engine never writes to stderr itself: the caller's
// sink formats the line (`inferd serve` through its log, in text or JSON).
//
//   inferd: loading weights 37% (0.78 / 2.08 GB, 1.2 GB/s) loaded_bytes=... total_bytes=...
//
// INFERD_LOAD_PROGRESS_INTERVAL_S (seconds, default 1) sets both the delay
// before the first report and the interval between reports; only tests set
// it, so that a load of a fraction of a second is reported.
#ifndef INFERD_ENGINE_MODEL_LOAD_PROGRESS_H_
#define INFERD_ENGINE_MODEL_LOAD_PROGRESS_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace inferd::engine {

struct LoadProgress {
  int64_t loaded_bytes = 0;
  int64_t total_bytes = 0;  // expected; loaded_bytes == total_bytes when done
  double seconds = 0;       // since the load started
  bool done = false;        // the last report: the load succeeded
  // Whole percent; below 100 until done (the total is an estimate).
  int Percent() const;
};

// Called on the reporter's thread, then (the last report) on the thread that
// calls Finish; never two at once.
using LoadProgressSink = std::function<void(const LoadProgress&)>;

// "loading weights 37% (0.78 / 2.08 GB, 1.2 GB/s)" (GB: 10^9 bytes).
std::string FormatLoadProgress(const LoadProgress& progress);

// 1 s, or $INFERD_LOAD_PROGRESS_INTERVAL_S when it is a number > 0 (at least 1 ms).
std::chrono::milliseconds LoadProgressInterval();

// Reports `loaded()` (a thread-safe counter, e.g. WeightStore::BytesLoaded)
// against `total_bytes` to `sink` while a load runs. A null sink starts no
// thread and reports nothing.
class LoadProgressReporter {
 public:
  LoadProgressReporter(int64_t total_bytes, std::function<int64_t()> loaded, LoadProgressSink sink,
                       std::chrono::milliseconds interval = LoadProgressInterval());
  // Finish(false) when not called.
  ~LoadProgressReporter();
  LoadProgressReporter(const LoadProgressReporter&) = delete;
  LoadProgressReporter& operator=(const LoadProgressReporter&) = delete;

  // Stops and joins the thread. When anything was reported and `succeeded`,
  // reports the final count as 100% (done); a failed load gets no last line
  // (its error follows). Idempotent.
  void Finish(bool succeeded);

 private:
  void Run();
  LoadProgress Snapshot() const;

  const int64_t total_bytes_;
  const std::function<int64_t()> loaded_;
  const LoadProgressSink sink_;
  const std::chrono::milliseconds interval_;
  const std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;      // guarded by mutex_
  bool reported_ = false;  // written by the thread; read after the join
  bool finished_ = false;
  std::thread thread_;
};

}  // namespace inferd::engine

#endif  // INFERD_ENGINE_MODEL_LOAD_PROGRESS_H_
