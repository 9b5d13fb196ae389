// loadtest/inferload/progress_bar.cc
#include "loadtest/inferload/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_format.h"

namespace inferd::inferload {

std::string ProgressLine(const Progress& p, int bar_width) {
  const double fraction =
      p.total > 0 ? std::clamp(static_cast<double>(p.finished) / p.total, 0.0, 1.0) : 0.0;
  const int filled = static_cast<int>(fraction * bar_width);
  return absl::StrFormat("[%s%s] %d/%d done, %d in flight, %d errors, %.1f s",
                         std::string(filled, '#'), std::string(bar_width - filled, ' '), p.finished,
                         p.total, p.in_flight, p.errors, p.elapsed_s);
}

ProgressBar::ProgressBar(bool wanted) : enabled_(wanted && isatty(STDERR_FILENO) == 1) {}

void ProgressBar::Update(const Progress& progress) {
  if (!enabled_) return;
  absl::FPrintF(stderr, "\r%s\x1b[K", ProgressLine(progress, 30));
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (!enabled_ || !drawn_) return;
  absl::FPrintF(stderr, "\n");
  drawn_ = false;
}

}  // namespace inferd::inferload
