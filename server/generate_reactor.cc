// server/generate_reactor.cc
#include "server/generate_reactor.h"

#include <optional>
#include <utility>

#include "server/proto_conversion.h"
#include "server/status_mapping.h"

namespace inferd::server {

namespace {

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

GenerateReactor::GenerateReactor(engine::Engine* engine, StreamTracker* streams,
                                 RequestLog* request_log)
    : engine_(engine),
      streams_(streams),
      request_log_(request_log),
      link_(std::make_shared<Link>()) {
  streams_->Add();
  absl::MutexLock lock(&link_->mu);
  link_->reactor = this;
}

absl::Status GenerateReactor::Submit(engine::Request request) {
  request_id_ = request.request_id;
  channel_ = std::make_shared<engine::OutputChannel>();
  channel_->SetNotify([link = link_] { OnNotify(link); });
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
  return status;
}

void GenerateReactor::Fail(grpc::Status status) {
  {
    absl::MutexLock lock(&link_->mu);
    if (finish_called_) return;
    finish_called_ = true;
  }
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
  if (!chunk->finished) return Action::kWrite;
  // The final chunk, then the request's status: OK, or the engine's error.
  final_status_ = ToGrpcStatus(chunk->status);
  record_.finish_reason = chunk->finish_reason;
  record_.prompt_tokens = chunk->usage.prompt_tokens;
  record_.completion_tokens = chunk->usage.completion_tokens;
  record_.cached_tokens = chunk->usage.cached_tokens;
  EndLocked();
  return Action::kWriteAndFinish;
}

void GenerateReactor::Perform(Action action) {
  if (action == Action::kNone) return;
  if (action == Action::kWrite) {
    StartWrite(&response_);
    return;
  }
  grpc::Status status;
  {
    absl::MutexLock lock(&link_->mu);
    status = final_status_;
  }
  if (action == Action::kWriteAndFinish) {
    StartWriteAndFinish(&response_, grpc::WriteOptions(), std::move(status));
  } else {
    Finish(std::move(status));
  }
}

void GenerateReactor::OnWriteDone(bool ok) {
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
  std::optional<RequestRecord> record;
  {
    absl::MutexLock lock(&link_->mu);
    link_->reactor = nullptr;
    if (request_log_ != nullptr && submitted_) {
      record = std::move(record_);
      record->e2e_s = Seconds((finish_called_ ? end_ : Clock::now()) - start_);
    }
  }
  if (record.has_value()) request_log_->Add(*std::move(record));
  StreamTracker* streams = streams_;
  delete this;
  streams->Remove();
}

}  // namespace inferd::server
