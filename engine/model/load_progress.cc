// engine/model/load_progress.cc — the load progress reporter's thread.
#include "engine/model/load_progress.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_format.h"

namespace inferd::engine {

int LoadProgress::Percent() const {
  if (done) return 100;
  if (total_bytes <= 0) return 0;
  const double percent =
      std::floor(100.0 * static_cast<double>(loaded_bytes) / static_cast<double>(total_bytes));
  return static_cast<int>(std::clamp(percent, 0.0, 99.0));
}

std::string FormatLoadProgress(const LoadProgress& progress) {
  constexpr double kGB = 1e9;
  const double rate = progress.seconds > 0 ? progress.loaded_bytes / progress.seconds : 0;
  return absl::StrFormat("loading weights %d%% (%.2f / %.2f GB, %.1f GB/s)", progress.Percent(),
                         progress.loaded_bytes / kGB, progress.total_bytes / kGB, rate / kGB);
}

std::chrono::milliseconds LoadProgressInterval() {
  constexpr std::chrono::milliseconds kDefault{1000};
  const char* value = std::getenv("INFERD_LOAD_PROGRESS_INTERVAL_S");
  if (value == nullptr || *value == '\0') return kDefault;
  char* end = nullptr;
  const double seconds = std::strtod(value, &end);
  if (*end != '\0' || !(seconds > 0) || seconds > 3600) return kDefault;
  return std::max(std::chrono::milliseconds{1},
                  std::chrono::milliseconds{static_cast<int64_t>(seconds * 1e3)});
}

LoadProgressReporter::LoadProgressReporter(int64_t total_bytes, std::function<int64_t()> loaded,
                                           LoadProgressSink sink,
                                           std::chrono::milliseconds interval)
    : total_bytes_(total_bytes),
      loaded_(std::move(loaded)),
      sink_(std::move(sink)),
      interval_(interval),
      start_(std::chrono::steady_clock::now()) {
  if (sink_) thread_ = std::thread([this] { Run(); });
}

LoadProgressReporter::~LoadProgressReporter() { Finish(false); }

void LoadProgressReporter::Finish(bool succeeded) {
  if (finished_) return;
  finished_ = true;
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
  if (succeeded && reported_) {
    LoadProgress last = Snapshot();
    last.total_bytes = last.loaded_bytes;
    last.done = true;
    sink_(last);
  }
}

void LoadProgressReporter::Run() {
  auto next = start_ + interval_;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_cv_.wait_until(lock, next, [this] { return stop_; })) {
    lock.unlock();  // a slow sink never holds up Finish's stop
    sink_(Snapshot());
    reported_ = true;
    lock.lock();
    // On the interval's grid; ticks a slow sink missed are skipped.
    next += interval_;
    if (const auto now = std::chrono::steady_clock::now(); next <= now) next = now + interval_;
  }
}

LoadProgress LoadProgressReporter::Snapshot() const {
  LoadProgress progress;
  progress.loaded_bytes = loaded_();
  progress.total_bytes = std::max(total_bytes_, progress.loaded_bytes);
  progress.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return progress;
}

}  // namespace inferd::engine
