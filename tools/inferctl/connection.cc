// tools/inferctl/connection.cc
#include "tools/inferctl/connection.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "tools/cli/server_address.h"
#include "tools/cli/subcommand_flags.h"
#include "tools/client_security/channel_credentials.h"
#include "tools/inferctl/flags.h"

namespace inferd::inferctl {

namespace {

const char* CodeName(grpc::StatusCode code) {
  constexpr const char* kNames[] = {"OK",
                                    "CANCELLED",
                                    "UNKNOWN",
                                    "INVALID_ARGUMENT",
                                    "DEADLINE_EXCEEDED",
                                    "NOT_FOUND",
                                    "ALREADY_EXISTS",
                                    "PERMISSION_DENIED",
                                    "RESOURCE_EXHAUSTED",
                                    "FAILED_PRECONDITION",
                                    "ABORTED",
                                    "OUT_OF_RANGE",
                                    "UNIMPLEMENTED",
                                    "INTERNAL",
                                    "UNAVAILABLE",
                                    "DATA_LOSS",
                                    "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < static_cast<int>(std::size(kNames)) ? kNames[index] : "UNKNOWN";
}

}  // namespace

std::shared_ptr<grpc::Channel> Connect() {
  if (absl::Status s = cli::CheckServerAddress("--addr", absl::GetFlag(FLAGS_addr)); !s.ok()) {
    absl::FPrintF(stderr, "inferctl: %s\n", s.message());
    std::exit(2);
  }
  constexpr double kMaxTimeout = cli::kMaxDurationFlagSeconds;
  if (const double timeout = absl::GetFlag(FLAGS_timeout);
      !(timeout >= 0 && timeout <= kMaxTimeout)) {
    absl::FPrintF(stderr, "inferctl: --timeout must be a number of seconds in [0, %g], got %g\n",
                  kMaxTimeout, timeout);
    std::exit(2);
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      client_security::MakeChannelCredentials(client_security::ClientSecurityFromFlags());
  if (!credentials.ok()) {
    absl::FPrintF(stderr, "inferctl: %s\n", credentials.status().message());
    std::exit(2);
  }
  return grpc::CreateChannel(absl::GetFlag(FLAGS_addr), *credentials);
}

std::unique_ptr<grpc::ClientContext> MakeContext(double default_seconds) {
  auto context = std::make_unique<grpc::ClientContext>();
  double seconds = absl::GetFlag(FLAGS_timeout);
  if (seconds <= 0) seconds = default_seconds;
  if (seconds > 0) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::duration_cast<std::chrono::system_clock::duration>(
                              std::chrono::duration<double>(seconds)));
  }
  return context;
}

int ReportRpcError(const std::string& command, const std::string& what,
                   const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    absl::FPrintF(stderr, "inferctl %s: inferd at %s is unavailable: %s\n", command,
                  absl::GetFlag(FLAGS_addr), status.error_message());
  } else {
    absl::FPrintF(stderr, "inferctl %s: %s failed: %s: %s\n", command, what,
                  CodeName(status.error_code()), status.error_message());
  }
  return 1;
}

}  // namespace inferd::inferctl
