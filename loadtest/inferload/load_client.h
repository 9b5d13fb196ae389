// loadtest/inferload/load_client.h — what the load runner needs of a
// protocol: start one streaming request now, collect the records of those
// that finished, cancel everything in flight. Two implementations:
// StreamClient (gRPC Generate, stream_client.h) and HttpStreamClient (the
// OpenAI-compatible `POST /v1/completions` with `stream: true`,
// http_stream_client.h). Both stamp each chunk carrying tokens with the
// time it was read, so TTFT and ITL mean the same on either protocol.
//
// Every method is for one owning thread (the load runner); the clients run
// their calls on threads of their own.
#ifndef INFERD_LOADTEST_INFERLOAD_LOAD_CLIENT_H_
#define INFERD_LOADTEST_INFERLOAD_LOAD_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <vector>

#include "loadtest/inferload/request_record.h"
#include "loadtest/inferload/workload.h"

namespace inferd::inferload {

// Fields every request gets besides its prompt and max_tokens.
struct SamplingOptions {
  float temperature = 0;
  int32_t priority = 0;
};

class LoadClient {
 public:
  using Clock = std::chrono::steady_clock;

  // Record times are seconds since `start`.
  explicit LoadClient(Clock::time_point start) : start_(start) {}
  virtual ~LoadClient() = default;

  // Starts `spec` now (ignore_eos, so it generates max_tokens tokens).
  // `record` carries the caller's fields (index, due_s,
  // expected_prompt_len, max_tokens); the client fills in the rest.
  virtual void Start(const RequestSpec& spec, RequestRecord record) = 0;

  // Blocks until at least one call has finished or `deadline` passes, then
  // moves the records of all finished calls to `out`.
  virtual void WaitForFinished(Clock::time_point deadline, std::vector<RequestRecord>* out) = 0;

  // Calls started and not yet collected by WaitForFinished.
  virtual int64_t in_flight() const = 0;

  // Cancels every call in flight (each ends with CANCELLED, unless it was
  // already finishing); collect them with WaitForFinished.
  virtual void CancelAll() = 0;

  Clock::time_point start() const { return start_; }
  // Seconds since start().
  double Now() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  const Clock::time_point start_;
};

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_LOAD_CLIENT_H_
