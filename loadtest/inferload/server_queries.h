// loadtest/inferload/server_queries.h — the unary calls inferload makes
// before a run: GetModelInfo (the limits the workload adapts to) and Tokenize
// (the token length of text prompts). Errors carry the gRPC code and name the
// address.
#ifndef INFERD_LOADTEST_INFERLOAD_SERVER_QUERIES_H_
#define INFERD_LOADTEST_INFERLOAD_SERVER_QUERIES_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "inferd/v1/inference.grpc.pb.h"
#include "loadtest/inferload/workload.h"

namespace inferd::inferload {

struct ServedModel {
  std::string name;
  ModelLimits limits;
};

// GetModelInfo with a deadline of `timeout_s`; FAILED_PRECONDITION when the
// model's context is below 2 tokens.
absl::StatusOr<ServedModel> FetchServedModel(v1::Inference::Stub& stub, const std::string& addr,
                                             double timeout_s);

// A TokenCounter over the Tokenize call (BOS/EOS added as Generate would for
// a text prompt). `stub` must outlive it.
TokenCounter RemoteTokenCounter(v1::Inference::Stub& stub, const std::string& addr,
                                double timeout_s);

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_SERVER_QUERIES_H_
