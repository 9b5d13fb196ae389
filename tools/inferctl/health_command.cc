// tools/inferctl/health_command.cc — `inferctl health`: grpc.health.v1 Check.
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tools/inferctl/commands.h"
#include "tools/inferctl/connection.h"
#include "tools/inferctl/flags.h"

namespace inferd::inferctl {

namespace {
constexpr double kTimeoutSeconds = 10;
}  // namespace

int RunHealth(const cli::ParsedArgs& args) {
  using grpc::health::v1::HealthCheckRequest;
  using grpc::health::v1::HealthCheckResponse;
  auto stub = grpc::health::v1::Health::NewStub(Connect());
  HealthCheckRequest request;
  request.set_service(absl::GetFlag(FLAGS_service));
  HealthCheckResponse response;
  grpc::Status status = stub->Check(MakeContext(kTimeoutSeconds).get(), request, &response);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    // The server answered: it does not know this service name.
    absl::PrintF("SERVICE_UNKNOWN\n");
    return 0;
  }
  if (!status.ok()) return ReportRpcError("health", "Check", status);
  absl::PrintF("%s\n", HealthCheckResponse::ServingStatus_Name(response.status()));
  return 0;
}

}  // namespace inferd::inferctl
