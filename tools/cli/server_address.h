// tools/cli/server_address.h — checks a client's --addr before gRPC sees it.
//
// gRPC takes "127.0.0.1:99999" and dials port 99999 mod 65536 (34463): a
// typo reaches another service. Clients (inferctl, inferload) check the port
// themselves.
#ifndef INFERD_TOOLS_CLI_SERVER_ADDRESS_H_
#define INFERD_TOOLS_CLI_SERVER_ADDRESS_H_

#include <string>

#include "absl/status/status.h"

namespace inferd::cli {

// OK for HOST:PORT and [IPv6]:PORT with PORT in 1..65535, and for gRPC target
// URIs with a scheme (dns:///HOST:PORT, ipv4:, ipv6:, unix:PATH), whose port,
// when present, is checked the same way. INVALID_ARGUMENT naming `flag`.
absl::Status CheckServerAddress(const char* flag, const std::string& address);

}  // namespace inferd::cli

#endif  // INFERD_TOOLS_CLI_SERVER_ADDRESS_H_
