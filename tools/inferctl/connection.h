// tools/inferctl/connection.h — the channel to an inferd server and the
// per-call context (deadline), plus how a failed call is reported.
#ifndef INFERD_TOOLS_INFERCTL_CONNECTION_H_
#define INFERD_TOOLS_INFERCTL_CONNECTION_H_

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"

namespace inferd::inferctl {

// A channel to --addr: plaintext, or TLS and API key as --tls-ca, --tls-cert,
// --tls-key, --api-key, --api-key-file say (tools/client_security). A bad
// security flag or file is reported on stderr and exits 2.
std::shared_ptr<grpc::Channel> Connect();

// A context with the --timeout deadline, or `default_seconds` when --timeout
// is 0 (0 there too: no deadline).
std::unique_ptr<grpc::ClientContext> MakeContext(double default_seconds);

// Prints "inferctl <command>: <what> failed: CODE: message" (naming the
// address when it is unreachable) to stderr; returns the exit code 1.
int ReportRpcError(const std::string& command, const std::string& what, const grpc::Status& status);

}  // namespace inferd::inferctl

#endif  // INFERD_TOOLS_INFERCTL_CONNECTION_H_
