// server/generate_reactor.h — the server-streaming reactor of one Generate
// call: engine output channel -> GenerateResponse chunks on the wire.
//
// Flow: the engine thread pushes chunks into the request's OutputChannel and
// calls its notify hook; the hook (cheap, never blocking) pops the pending
// chunk and starts a write when none is in flight. OnWriteDone pops the next
// one. The final chunk (finish_reason, usage) is written like the others;
// once that write is done the call finishes with the request's status: OK,
// or the engine's error (DEADLINE_EXCEEDED, UNAVAILABLE at a drain timeout),
// which the client reads after that chunk. OnCancel (client cancelled or
// disconnected) and a failed write abort the request in the engine and
// finish with CANCELLED.
//
// Slow readers: while the client does not read, the one write in flight does
// not complete and the engine's chunks merge in the channel (bounded by the
// request's own output). With a StreamWriteWatchdog, a write pending for
// --stream-write-timeout aborts the request in the engine and cancels the
// call (TryCancel: the client sees CANCELLED), final chunk included.
//
// With a RequestLog, OnDone hands it one record of the call (ids, token
// counts, finish reason, status, TTFT and e2e as the reactor saw them); the
// notify hook can run on the engine thread, so nothing is formatted here.
//
// Lifetime: gRPC owns the reactor until OnDone, which deletes it. The notify
// hook can outlive it (the engine still pushes the abort's final chunk), so
// the hook holds a shared Link and finds the reactor through it; OnDone
// clears the link. All mutable state is guarded by Link::mu, and no gRPC
// operation is started while it is held. Invariant that keeps the reactor
// alive while a thread starts an operation outside the lock: that thread set
// write_in_flight_ or finish_called_ under the lock first, and OnDone cannot
// run before that write completes / before Finish is called (Finish is only
// ever called after every write completed, or by the thread that set
// finish_called_ while a write was stuck).
#ifndef INFERD_SERVER_GENERATE_REACTOR_H_
#define INFERD_SERVER_GENERATE_REACTOR_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/engine.h"
#include "engine/output_channel.h"
#include "engine/request.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"
#include "inferd/v1/inference.pb.h"
#include "server/request_log.h"
#include "server/stream_tracker.h"
#include "server/stream_write_watchdog.h"

namespace inferd::server {

class GenerateReactor final : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  // `engine`, `streams`, `request_log` and `write_watchdog` must outlive the
  // reactor (the server shuts down before they are destroyed). `engine` may
  // be null only when the call is failed at once (Fail, no Submit);
  // `request_log` may be null (no per-request lines), `write_watchdog` too
  // (no write timeout). The reactor counts itself in `streams` until OnDone.
  // `context` is the call's (gRPC keeps it until OnDone).
  GenerateReactor(engine::Engine* engine, StreamTracker* streams, RequestLog* request_log,
                  grpc::CallbackServerContext* context = nullptr,
                  StreamWriteWatchdog* write_watchdog = nullptr);

  // Submits the (validated) request. Returns the engine's error when it
  // refuses the request; the call is not finished then: the caller finishes
  // it with Fail. Call once, from the method handler.
  absl::Status Submit(engine::Request request);
  // Finishes the call at once with `status` (validation failed).
  void Fail(grpc::Status status);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Shared between the reactor and the channel's notify hook.
  struct Link {
    absl::Mutex mu;
    GenerateReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
  };
  enum class Action { kNone, kWrite, kFinish };
  using Clock = std::chrono::steady_clock;

  // Runs on the engine thread after every Push.
  static void OnNotify(const std::shared_ptr<Link>& link);
  // The StreamWriteWatchdog's check: when a write has been pending since
  // before now - timeout, aborts the request, cancels the call and returns
  // true.
  static bool AbortIfWriteStalled(const std::shared_ptr<Link>& link, Clock::time_point now,
                                  Clock::duration timeout);
  // Decides the next gRPC operation and updates the state for it.
  Action NextActionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(link_->mu);
  // Starts the operation chosen by NextActionLocked (lock not held).
  void Perform(Action action);
  // The call ends with final_status_: sets finish_called_ and the record's
  // end.
  void EndLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(link_->mu);

  engine::Engine* const engine_;
  StreamTracker* const streams_;
  RequestLog* const request_log_;
  grpc::CallbackServerContext* const context_;
  StreamWriteWatchdog* const write_watchdog_;
  // The write watchdog's key (0: not registered); set by Submit before it
  // takes Link::mu, read by OnDone under it.
  uint64_t write_watch_key_ = 0;
  const std::shared_ptr<Link> link_;
  std::shared_ptr<engine::OutputChannel> channel_;
  std::string request_id_;

  bool submitted_ ABSL_GUARDED_BY(link_->mu) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(link_->mu) = false;
  Clock::time_point write_started_ ABSL_GUARDED_BY(link_->mu);
  // The final chunk's write was started: once it is done, Finish.
  bool final_chunk_started_ ABSL_GUARDED_BY(link_->mu) = false;
  bool finish_called_ ABSL_GUARDED_BY(link_->mu) = false;
  bool cancelled_ ABSL_GUARDED_BY(link_->mu) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(link_->mu);
  // For the request log: the call as sent so far.
  RequestRecord record_ ABSL_GUARDED_BY(link_->mu);
  Clock::time_point start_ ABSL_GUARDED_BY(link_->mu);
  Clock::time_point end_ ABSL_GUARDED_BY(link_->mu);
  // The message being written; stable until OnWriteDone (or OnDone).
  v1::GenerateResponse response_;
};

}  // namespace inferd::server

#endif  // INFERD_SERVER_GENERATE_REACTOR_H_
