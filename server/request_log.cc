// server/request_log.cc
#include "server/request_log.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/status_mapping.h"

namespace inferd::server {

namespace {

// Seconds rounded to microseconds: short lines, no false precision.
double Micros(double seconds) { return std::round(seconds * 1e6) / 1e6; }

}  // namespace

LogFields RequestLogFields(const RequestRecord& r) {
  return {{"request_id", r.request_id},
          {"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"cached_tokens", r.cached_tokens},
          {"finish_reason", engine::FinishReasonName(r.finish_reason)},
          {"status", GrpcCodeName(r.code)},
          {"ttft_s", r.ttft_s < 0 ? nlohmann::json() : nlohmann::json(Micros(r.ttft_s))},
          {"e2e_s", Micros(r.e2e_s)}};
}

RequestLog::RequestLog() : thread_([this] { Run(); }) {}

RequestLog::~RequestLog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void RequestLog::Add(RequestRecord record) {
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= kMaxQueued) {
    ++dropped_;
    return;
  }
  queue_.push_back(std::move(record));
}

void RequestLog::Run() {
  std::vector<RequestRecord> batch;
  while (true) {
    int64_t dropped = 0;
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](RequestLog* log) ABSL_EXCLUSIVE_LOCKS_REQUIRED(log->mu_) {
            return log->stopping_ || !log->queue_.empty();
          },
          this));
      std::swap(batch, queue_);
      std::swap(dropped, dropped_);
      stopping = stopping_;
    }
    if (dropped > 0) {
      LogWarning(absl::StrCat("request log queue full: ", dropped, " request lines dropped"),
                 {{"dropped", dropped}});
    }
    for (const RequestRecord& record : batch) LogInfo("request finished", RequestLogFields(record));
    batch.clear();
    if (stopping) return;
  }
}

}  // namespace inferd::server
