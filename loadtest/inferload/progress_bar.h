// loadtest/inferload/progress_bar.h — the one-line progress display on stderr
// while a run is going: a bar of finished requests, then counts and time.
// Redrawn in place ("\r", clear to end of line); disabled (every call a no-op)
// when stderr is not a terminal or with --no-progress.
#ifndef INFERD_LOADTEST_INFERLOAD_PROGRESS_BAR_H_
#define INFERD_LOADTEST_INFERLOAD_PROGRESS_BAR_H_

#include <cstdint>
#include <string>

namespace inferd::inferload {

struct Progress {
  int64_t total = 0;
  int64_t finished = 0;  // completed + failed
  int64_t in_flight = 0;
  int64_t errors = 0;
  double elapsed_s = 0;
};

// The line drawn for `progress`, `bar_width` cells of bar (no control codes).
std::string ProgressLine(const Progress& progress, int bar_width);

class ProgressBar {
 public:
  // Enabled when `wanted` and stderr is a terminal.
  explicit ProgressBar(bool wanted);
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void Update(const Progress& progress);
  // Ends the line so later output starts on a fresh one.
  void Finish();

  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  bool drawn_ = false;
};

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_PROGRESS_BAR_H_
