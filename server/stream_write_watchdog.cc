// server/stream_write_watchdog.cc
#include "server/stream_write_watchdog.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace inferd::server {

absl::Duration StreamWriteWatchdog::PollInterval(absl::Duration timeout) {
  return std::min(absl::Seconds(1), timeout / 4);
}

StreamWriteWatchdog::StreamWriteWatchdog(absl::Duration timeout, std::function<void()> on_timeout)
    : timeout_(timeout), on_timeout_(std::move(on_timeout)), thread_([this] { Run(); }) {}

StreamWriteWatchdog::~StreamWriteWatchdog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

uint64_t StreamWriteWatchdog::Register(Check check) {
  absl::MutexLock lock(&mu_);
  const uint64_t key = next_key_++;
  checks_.emplace(key, std::move(check));
  return key;
}

void StreamWriteWatchdog::Unregister(uint64_t key) {
  absl::MutexLock lock(&mu_);
  checks_.erase(key);
}

void StreamWriteWatchdog::Run() {
  const absl::Duration interval = PollInterval(timeout_);
  const Clock::duration timeout = absl::ToChronoNanoseconds(timeout_);
  std::vector<Check> checks;
  while (true) {
    checks.clear();
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval)) return;
      checks.reserve(checks_.size());
      for (const auto& [key, check] : checks_) checks.push_back(check);
    }
    // Outside the lock: a check may cancel its call, and gRPC may run the
    // stream's reactions (and its Unregister) inline.
    const Clock::time_point now = Clock::now();
    for (const Check& check : checks) {
      if (check(now, timeout) && on_timeout_) on_timeout_();
    }
  }
}

}  // namespace inferd::server
