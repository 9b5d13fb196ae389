// loadtest/inferload/arrivals.h — when each request is sent.
//
// Open loop (--request-rate R, --burstiness B), vLLM benchmark_serving's
// semantics: inter-arrival gaps are gamma distributed with shape B and mean
// 1/R (scale 1/(R*B)), so B = 1 is a Poisson process, B < 1 is burstier and
// B > 1 more uniform; the gap variance is 1/(R^2 * B). The first request is
// sent at t = 0, request i at the sum of the first i gaps. R = infinity sends
// every request at t = 0.
// Closed loop (--concurrency C): every request is due at t = 0 and at most C
// are in flight; a finished request lets the next one go.
// Trace replay (--trace): the times come from the trace file (trace.h).
#ifndef INFERD_LOADTEST_INFERLOAD_ARRIVALS_H_
#define INFERD_LOADTEST_INFERLOAD_ARRIVALS_H_

#include <cstdint>
#include <random>
#include <vector>

namespace inferd::inferload {

// What the dispatcher needs: request i may be sent once `due_s[i]` seconds
// have passed since the start and fewer than `max_in_flight` requests are in
// flight (0: no limit). `due_s` is non-decreasing.
struct ArrivalSchedule {
  std::vector<double> due_s;
  int max_in_flight = 0;
};

// `n` gamma inter-arrival gaps (seconds) with mean 1/rate and shape
// `burstiness` (> 0), drawn from `rng`. rate must be > 0; infinity gives
// zeros.
std::vector<double> GammaGaps(int64_t n, double rate, double burstiness, std::mt19937_64& rng);

// Open loop: due times 0, g1, g1+g2, ... (n requests, seeded).
ArrivalSchedule OpenLoopSchedule(int64_t n, double rate, double burstiness, uint64_t seed);

// Closed loop: n requests due at 0, at most `concurrency` in flight.
ArrivalSchedule ClosedLoopSchedule(int64_t n, int concurrency);

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_ARRIVALS_H_
