// loadtest/inferload/load_runner.cc
#include "loadtest/inferload/load_runner.h"

#include <algorithm>
#include <chrono>

#include "common/check.h"

namespace inferd::inferload {

namespace {

using Clock = LoadClient::Clock;

// The dispatcher wakes at least this often (progress line, stop requests).
constexpr auto kTick = std::chrono::milliseconds(100);

Clock::time_point At(Clock::time_point start, double seconds) {
  return start +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

RunResult RunLoad(LoadClient& client, const std::vector<RequestSpec>& requests,
                  const ArrivalSchedule& schedule, double max_duration_s,
                  const std::atomic<bool>* stop, ProgressBar* progress) {
  INFERD_CHECK_EQ(requests.size(), schedule.due_s.size());
  const Clock::time_point start = client.start();
  const Clock::time_point hard_stop = At(start, max_duration_s);
  RunResult result;
  const size_t n = requests.size();
  const int64_t limit = schedule.max_in_flight;
  size_t next = 0;
  int64_t errors = 0;
  size_t counted = 0;  // records already looked at for the error count

  auto draw = [&] {
    for (; counted < result.records.size(); ++counted) {
      errors += result.records[counted].ok() ? 0 : 1;
    }
    progress->Update({.total = static_cast<int64_t>(n),
                      .finished = static_cast<int64_t>(result.records.size()),
                      .in_flight = client.in_flight(),
                      .errors = errors,
                      .elapsed_s = client.Now()});
  };

  while (true) {
    const bool stopping = Clock::now() >= hard_stop || (stop != nullptr && stop->load());
    if (stopping) {
      result.stopped_early = next < n || client.in_flight() > 0;
      break;
    }
    // Send everything that is due and has a slot.
    while (next < n && (limit == 0 || client.in_flight() < limit) &&
           At(start, schedule.due_s[next]) <= Clock::now()) {
      RequestRecord record;
      record.index = static_cast<int64_t>(next);
      // Closed loop: due when a slot frees, i.e. now (no send lag to report).
      record.due_s = limit == 0 ? schedule.due_s[next] : client.Now();
      record.expected_prompt_len = requests[next].prompt_len;
      record.max_tokens = requests[next].max_tokens;
      client.Start(requests[next], std::move(record));
      ++next;
    }
    if (next == n && client.in_flight() == 0) break;
    Clock::time_point wake = std::min(hard_stop, Clock::now() + kTick);
    if (next < n && (limit == 0 || client.in_flight() < limit)) {
      wake = std::min(wake, At(start, schedule.due_s[next]));
    }
    client.WaitForFinished(wake, &result.records);
    draw();
  }
  if (client.in_flight() > 0) {
    client.CancelAll();
    while (client.in_flight() > 0) client.WaitForFinished(Clock::now() + kTick, &result.records);
  }
  draw();
  progress->Finish();

  double last_end = 0;
  for (const RequestRecord& record : result.records) last_end = std::max(last_end, record.end_s);
  result.duration_s = result.records.empty() ? client.Now() : last_end;
  return result;
}

}  // namespace inferd::inferload
