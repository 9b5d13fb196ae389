// tools/inferctl/tokenize_command.cc — `inferctl tokenize TEXT`: the ids,
// comma-separated (the format `inferd generate --prompt-ids` reads).
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "inferd/v1/inference.grpc.pb.h"
#include "tools/inferctl/commands.h"
#include "tools/inferctl/connection.h"

namespace inferd::inferctl {

namespace {
constexpr double kTimeoutSeconds = 10;
}  // namespace

int RunTokenize(const cli::ParsedArgs& args) {
  if (args.positional.size() != 1) {
    absl::FPrintF(stderr, "inferctl tokenize: give the text as one argument\n");
    return 2;
  }
  auto stub = v1::Inference::NewStub(Connect());
  v1::TokenizeRequest request;
  request.set_text(args.positional[0]);
  v1::TokenizeResponse response;
  grpc::Status status = stub->Tokenize(MakeContext(kTimeoutSeconds).get(), request, &response);
  if (!status.ok()) return ReportRpcError("tokenize", "Tokenize", status);
  absl::PrintF("%s\n", absl::StrJoin(response.token_ids(), ","));
  return 0;
}

}  // namespace inferd::inferctl
