// loadtest/inferload/server_queries.cc
#include "loadtest/inferload/server_queries.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "loadtest/inferload/metrics.h"

namespace inferd::inferload {

namespace {

void SetDeadline(grpc::ClientContext* context, double timeout_s) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::duration_cast<std::chrono::system_clock::duration>(
                            std::chrono::duration<double>(timeout_s)));
}

absl::Status FromGrpc(const grpc::Status& status, const std::string& what,
                      const std::string& addr) {
  return absl::Status(
      static_cast<absl::StatusCode>(status.error_code()),
      absl::StrCat(what, " at ", addr, " failed: ", StatusCodeName(status.error_code()), ": ",
                   status.error_message()));
}

}  // namespace

absl::StatusOr<ServedModel> FetchServedModel(v1::Inference::Stub& stub, const std::string& addr,
                                             double timeout_s) {
  grpc::ClientContext context;
  SetDeadline(&context, timeout_s);
  v1::GetModelInfoResponse info;
  const grpc::Status status = stub.GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  if (!status.ok()) return FromGrpc(status, "GetModelInfo", addr);
  if (info.max_context() < 2) {
    return absl::FailedPreconditionError(absl::StrCat("the model at ", addr, " has a context of ",
                                                      info.max_context(), " tokens (need >= 2)"));
  }
  ServedModel model;
  model.name = info.model_name();
  model.limits.vocab_size = info.vocab_size();
  model.limits.max_context = info.max_context();
  model.limits.bos_id = info.bos_id();
  model.limits.eos_ids.assign(info.eos_ids().begin(), info.eos_ids().end());
  model.limits.adds_bos = info.adds_bos();
  return model;
}

TokenCounter RemoteTokenCounter(v1::Inference::Stub& stub, const std::string& addr,
                                double timeout_s) {
  return [&stub, addr, timeout_s](const std::string& text) -> absl::StatusOr<int> {
    grpc::ClientContext context;
    SetDeadline(&context, timeout_s);
    v1::TokenizeRequest request;
    request.set_text(text);
    v1::TokenizeResponse response;
    const grpc::Status status = stub.Tokenize(&context, request, &response);
    if (!status.ok()) return FromGrpc(status, "Tokenize", addr);
    return response.token_ids_size();
  };
}

}  // namespace inferd::inferload
