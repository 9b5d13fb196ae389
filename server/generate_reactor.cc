// server/generate_reactor.cc
#include "server/generate_reactor.h"

#include <optional>
#include <utility>

#include "server/proto_conversion.h"
#include "server/status_mapping.h"

namespace inferd::server {

GenerateReactor::GenerateReactor(engine::Engine* engine, StreamTracker* streams)
    : engine_(engine), streams_(streams), link_(std::make_shared<Link>()) {
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

GenerateReactor::Action GenerateReactor::NextActionLocked() {
  if (finish_called_ || write_in_flight_) return Action::kNone;
  if (cancelled_) {
    final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the call");
    finish_called_ = true;
    return Action::kFinish;
  }
  if (finish_after_write_) {
    finish_called_ = true;
    return Action::kFinish;
  }
  if (!submitted_ || channel_ == nullptr) return Action::kNone;
  std::optional<engine::RequestOutput> chunk = channel_->TryPop();
  if (!chunk.has_value()) return Action::kNone;
  if (!chunk->status.ok()) {
    final_status_ = ToGrpcStatus(chunk->status);
    if (chunk->token_ids.empty() && chunk->text.empty()) {
      finish_called_ = true;
      return Action::kFinish;
    }
    chunk->finished = false;  // the error ends the call, not a finish_reason
    ToProto(request_id_, *chunk, &response_);
    finish_after_write_ = true;
    write_in_flight_ = true;
    return Action::kWrite;
  }
  ToProto(request_id_, *chunk, &response_);
  write_in_flight_ = true;
  if (chunk->finished) {
    finish_called_ = true;
    final_status_ = grpc::Status::OK;
    return Action::kWriteAndFinish;
  }
  return Action::kWrite;
}

void GenerateReactor::Perform(Action action) {
  switch (action) {
    case Action::kNone:
      return;
    case Action::kWrite:
      StartWrite(&response_);
      return;
    case Action::kWriteAndFinish:
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
      return;
    case Action::kFinish: {
      grpc::Status status;
      {
        absl::MutexLock lock(&link_->mu);
        status = final_status_;
      }
      Finish(std::move(status));
      return;
    }
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
  {
    absl::MutexLock lock(&link_->mu);
    link_->reactor = nullptr;
  }
  StreamTracker* streams = streams_;
  delete this;
  streams->Remove();
}

}  // namespace inferd::server
