// tools/inferctl/info_command.cc — `inferctl info`: GetModelInfo as JSON.
#include "absl/strings/str_format.h"
#include "inferd/v1/inference.grpc.pb.h"
#include "tools/inferctl/commands.h"
#include "tools/inferctl/connection.h"
#include "tools/inferctl/proto_json.h"

namespace inferd::inferctl {

namespace {
constexpr double kTimeoutSeconds = 10;
}  // namespace

int RunInfo(const cli::ParsedArgs& args) {
  auto stub = v1::Inference::NewStub(Connect());
  v1::GetModelInfoResponse response;
  grpc::Status status =
      stub->GetModelInfo(MakeContext(kTimeoutSeconds).get(), v1::GetModelInfoRequest(), &response);
  if (!status.ok()) return ReportRpcError("info", "GetModelInfo", status);
  absl::PrintF("%s\n", ToJson(response).dump(2));
  return 0;
}

}  // namespace inferd::inferctl
