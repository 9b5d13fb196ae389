// loadtest/inferload/load_runner.h — the run itself: sends each request when
// its schedule says (due time reached and, in a closed loop, a free slot),
// collects finished calls, draws the progress line, and stops when every
// request has been sent and has finished, or at the hard time bound (or on
// request, e.g. SIGINT), cancelling what is still in flight.
//
// One thread (the caller's) dispatches; the client's threads run the calls
// (load_client.h: gRPC or OpenAI HTTP). Sends are never early; how late the latest one was is
// reported (max_send_lag_s) so an overloaded client shows.
#ifndef INFERD_LOADTEST_INFERLOAD_LOAD_RUNNER_H_
#define INFERD_LOADTEST_INFERLOAD_LOAD_RUNNER_H_

#include <atomic>
#include <vector>

#include "loadtest/inferload/arrivals.h"
#include "loadtest/inferload/load_client.h"
#include "loadtest/inferload/progress_bar.h"
#include "loadtest/inferload/request_record.h"
#include "loadtest/inferload/workload.h"

namespace inferd::inferload {

struct RunResult {
  std::vector<RequestRecord> records;  // one per request sent, in finish order
  double duration_s = 0;               // start to the last call's end (or to the stop)
  bool stopped_early = false;          // the time bound or `stop` cut the run short
};

// Runs `requests` (request i per schedule.due_s[i]) through `client`, whose
// clock starts the run (record times, schedule times). `stop`, when set by
// another thread or a signal handler, ends the run like the time bound.
// `progress` is updated about ten times a second.
RunResult RunLoad(LoadClient& client, const std::vector<RequestSpec>& requests,
                  const ArrivalSchedule& schedule, double max_duration_s,
                  const std::atomic<bool>* stop, ProgressBar* progress);

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_LOAD_RUNNER_H_
