// server/status_mapping.h — absl::Status (engine, tokenizer) -> grpc::Status.
//
// The engine speaks absl::Status; gRPC types live only in server/. Both use
// the canonical status codes, so the mapping keeps the code and the message.
#ifndef INFERD_SERVER_STATUS_MAPPING_H_
#define INFERD_SERVER_STATUS_MAPPING_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace inferd::server {

// Same code (INVALID_ARGUMENT -> INVALID_ARGUMENT, ...), same message.
grpc::Status ToGrpcStatus(const absl::Status& status);
grpc::StatusCode ToGrpcCode(absl::StatusCode code);

// "OK", "CANCELLED", ..., "UNAUTHENTICATED": the canonical name of a code
// (metric labels); "UNKNOWN" for a value outside the enum.
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace inferd::server

#endif  // INFERD_SERVER_STATUS_MAPPING_H_
