// server/drain.h — what SIGINT/SIGTERM does before the gRPC server shuts down
// (DESIGN §8: drain is the default):
//
//   1. new calls get UNAVAILABLE, readiness goes NOT_SERVING (at once);
//   2. the streams in flight get up to `timeout` to finish;
//   3. those still running are aborted: each gets a final chunk
//      (finish_reason ABORT, usage) and ends with UNAVAILABLE
//      kDrainAbortMessage; up to kAbortGrace more lets the reactors write
//      those chunks before the caller shuts the server down.
//
// The metrics endpoint keeps serving throughout. Each step is logged.
#ifndef INFERD_SERVER_DRAIN_H_
#define INFERD_SERVER_DRAIN_H_

#include "absl/time/time.h"
#include "engine/engine.h"
#include "server/inference_service.h"
#include "server/readiness.h"

namespace inferd::server {

inline constexpr char kDrainAbortMessage[] =
    "the server is draining and stopped this request after --drain-timeout";
inline constexpr absl::Duration kAbortGrace = absl::Seconds(2);

// `signal` (SIGINT/SIGTERM) started it. Returns when no stream is left, or
// kAbortGrace after the abort.
void Drain(int signal, absl::Duration timeout, InferenceService* service, Readiness* readiness,
           engine::Engine* engine);

}  // namespace inferd::server

#endif  // INFERD_SERVER_DRAIN_H_
