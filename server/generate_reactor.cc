// server/generate_reactor.cc
#include "server/generate_reactor.h"

#include <optional>
#include <utility>

#include "grpcpp/server_context.h"
#include "server/happens_before.h"
#include "server/proto_conversion.h"
#include "server/status_mapping.h"

namespace inferd::server {

namespace {

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

GenerateReactor::GenerateReactor(engine::Engine* engine, StreamTracker* streams,
                                 RequestLog* request_log, grpc::CallbackServerContext* context,
                                 StreamWriteWatchdog* write_watchdog)
    : engine_(engine),
      streams_(streams),
      request_log_(request_log),
      context_(context),
      write_watchdog_(context != nullptr ? write_watchdog : nullptr),
      link_(std::make_shared<Link>()) {
  streams_->Add();
  absl::MutexLock lock(&link_->mu);
  link_->reactor = this;
}

absl::Status GenerateReactor::Submit(engine::Request request) {
  request_id_ = request.request_id;
  channel_ = std::make_shared<engine::OutputChannel>();
  channel_->SetNotify([link = link_] { OnNotify(link); });
  if (write_watchdog_ != nullptr) {
    write_watch_key_ =
        write_watchdog_->Register([link = link_](Clock::time_point now, Clock::duration timeout) {
          return AbortIfWriteStalled(link, now, timeout);
        });
  }
  {
    absl::MutexLock lock(&link_->mu);
    submitted_ = true;
    start_ = Clock::now();
    record_.request_id = request.request_id;
    record_.prompt_tokens = static_cast<int32_t>(request.prompt_ids.size());
  }
  absl::Status status = engine_->Submit(std::move(request), channel_);
  if (!status.ok()) {
    absl::MutexLock lock(&link_->mu);
    submitted_ = false;
  }
  HappensBefore(this);  // the handler returns the reactor to gRPC
  return status;
}

void GenerateReactor::Fail(grpc::Status status) {
  {
    absl::MutexLock lock(&link_->mu);
    if (finish_called_) return;
    finish_called_ = true;
  }
  HappensBefore(this);
  Finish(std::move(status));
}

void GenerateReactor::OnNotify(const std::shared_ptr<Link>& link) {
  GenerateReactor* reactor = nullptr;
  Action action = Action::kNone;
  {
    absl::MutexLock lock(&link->mu);
    reactor = link->reactor;
    if (reactor == nullptr) return;  // the call is over; drop the output
    action = reactor->NextActionLocked();
  }
  reactor->Perform(action);
}

void GenerateReactor::EndLocked() {
  finish_called_ = true;
  end_ = Clock::now();
  record_.code = final_status_.error_code();
}

GenerateReactor::Action GenerateReactor::NextActionLocked() {
  if (finish_called_ || write_in_flight_) return Action::kNone;
  if (final_chunk_started_) {  // written (or failed): the call ends with its status
    EndLocked();
    return Action::kFinish;
  }
  if (cancelled_) {
    final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the call");
    record_.finish_reason = engine::FinishReason::kAbort;
    EndLocked();
    return Action::kFinish;
  }
  if (!submitted_ || channel_ == nullptr) return Action::kNone;
  std::optional<engine::RequestOutput> chunk = channel_->TryPop();
  if (!chunk.has_value()) return Action::kNone;
  if (!chunk->token_ids.empty()) {
    if (record_.ttft_s < 0) record_.ttft_s = Seconds(Clock::now() - start_);
    record_.completion_tokens += static_cast<int32_t>(chunk->token_ids.size());
  }
  ToProto(request_id_, *chunk, &response_);
  write_in_flight_ = true;
  write_started_ = Clock::now();
  if (!chunk->finished) return Action::kWrite;
  // The final chunk, then (once written) the request's status: OK, or the
  // engine's error.
  final_status_ = ToGrpcStatus(chunk->status);
  record_.finish_reason = chunk->finish_reason;
  record_.prompt_tokens = chunk->usage.prompt_tokens;
  record_.completion_tokens = chunk->usage.completion_tokens;
  record_.cached_tokens = chunk->usage.cached_tokens;
  final_chunk_started_ = true;
  return Action::kWrite;
}

bool GenerateReactor::AbortIfWriteStalled(const std::shared_ptr<Link>& link, Clock::time_point now,
                                          Clock::duration timeout) {
  GenerateReactor* reactor = nullptr;
  bool abort = false;
  grpc::Status status;
  {
    absl::MutexLock lock(&link->mu);
    reactor = link->reactor;
    if (reactor == nullptr || !reactor->write_in_flight_ || reactor->finish_called_ ||
        now - reactor->write_started_ < timeout) {
      return false;
    }
    // Finish is now this thread's to call, so gRPC keeps the reactor (and
    // its context) alive until it does.
    reactor->cancelled_ = true;
    abort = reactor->submitted_ && !reactor->final_chunk_started_;
    if (!reactor->final_chunk_started_) {
      reactor->record_.finish_reason = engine::FinishReason::kAbort;
    }
    reactor->final_status_ =
        grpc::Status(grpc::StatusCode::CANCELLED,
                     "the client read nothing for --stream-write-timeout: stream aborted");
    reactor->EndLocked();
    status = reactor->final_status_;
  }
  if (abort) reactor->engine_->Abort(reactor->request_id_);
  // Fails the stuck write; the client sees CANCELLED. gRPC may run
  // OnWriteDone and OnCancel inline: they find finish_called_ set.
  HappensBefore(reactor);
  reactor->context_->TryCancel();
  reactor->Finish(std::move(status));
  return true;
}

void GenerateReactor::Perform(Action action) {
  if (action == Action::kNone) return;
  if (action == Action::kWrite) {
    HappensBefore(this);
    StartWrite(&response_);
    return;
  }
  grpc::Status status;
  {
    absl::MutexLock lock(&link_->mu);
    status = final_status_;
  }
  HappensBefore(this);
  Finish(std::move(status));
}

void GenerateReactor::OnWriteDone(bool ok) {
  HappensAfter(this);
  Action action = Action::kNone;
  bool abort = false;
  {
    absl::MutexLock lock(&link_->mu);
    write_in_flight_ = false;
    if (!ok && !cancelled_) {  // the client is gone
      cancelled_ = true;
      abort = submitted_;
    }
    action = NextActionLocked();
  }
  if (abort) engine_->Abort(request_id_);
  Perform(action);
}

void GenerateReactor::OnCancel() {
  HappensAfter(this);
  Action action = Action::kNone;
  bool abort = false;
  {
    absl::MutexLock lock(&link_->mu);
    cancelled_ = true;
    abort = submitted_;
    action = NextActionLocked();
  }
  if (abort) engine_->Abort(request_id_);
  Perform(action);
}

void GenerateReactor::OnDone() {
  HappensAfter(this);
  std::optional<RequestRecord> record;
  uint64_t write_watch_key = 0;
  {
    absl::MutexLock lock(&link_->mu);
    link_->reactor = nullptr;
    write_watch_key = write_watch_key_;  // set in Submit before it took the lock
    if (request_log_ != nullptr && submitted_) {
      record = std::move(record_);
      record->e2e_s = Seconds((finish_called_ ? end_ : Clock::now()) - start_);
    }
  }
  if (write_watch_key != 0) write_watchdog_->Unregister(write_watch_key);
  if (record.has_value()) request_log_->Add(*std::move(record));
  StreamTracker* streams = streams_;
  delete this;
  streams->Remove();
}

}  // namespace inferd::server
