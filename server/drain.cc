// server/drain.cc
#include "server/drain.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/log.h"
#include "server/shutdown_signal.h"

namespace inferd::server {

namespace {

// Milliseconds are plenty for a log line.
double SecondsSince(absl::Time start) {
  return std::round(absl::ToDoubleSeconds(absl::Now() - start) * 1e3) / 1e3;
}

}  // namespace

void Drain(int signal, absl::Duration timeout, InferenceService* service, Readiness* readiness,
           engine::Engine* engine) {
  const absl::Time start = absl::Now();
  service->StopAdmitting();
  const char* name = ShutdownSignalName(signal);
  LogInfo(absl::StrCat(name, " received: draining"),
          {{"signal", name},
           {"streams", service->NumStreams()},
           {"drain_timeout_s", absl::ToDoubleSeconds(timeout)}});
  readiness->SetDraining();
  if (service->WaitForStreams(start + timeout)) {
    LogInfo("drain complete: every stream finished", {{"drain_s", SecondsSince(start)}});
    return;
  }
  LogWarning(
      "drain timeout: aborting the streams still in flight",
      {{"streams", service->NumStreams()}, {"drain_timeout_s", absl::ToDoubleSeconds(timeout)}});
  engine->AbortAll(absl::UnavailableError(kDrainAbortMessage));
  if (service->WaitForStreams(absl::Now() + kAbortGrace)) {
    LogInfo("drain complete: the aborted streams ended", {{"drain_s", SecondsSince(start)}});
  } else {
    LogWarning("streams still open after the abort: closing the connections",
               {{"streams", service->NumStreams()}});
  }
}

}  // namespace inferd::server
