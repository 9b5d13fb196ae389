// server/listen_preflight.h — before `inferd serve` opens anything, try each
// address it will listen on, so that a taken port, an address that is not
// this machine's or a host name that does not resolve is one line naming the
// flag, the address and the OS's reason (gRPC and civetweb report these as
// "cannot listen" and "null context when constructing CivetServer").
//
// A trial bind is a check, not a reservation: another process may still take
// the port in between, and then the servers' own errors stand.
#ifndef INFERD_SERVER_LISTEN_PREFLIGHT_H_
#define INFERD_SERVER_LISTEN_PREFLIGHT_H_

#include <string>

#include "absl/status/status.h"

namespace inferd::server {

// Resolves `host` (an IP literal or a name; brackets around IPv6 allowed) and
// binds a TCP socket to each resolved address on `port` (0: any free port),
// then closes it. INVALID_ARGUMENT "--host H: cannot resolve: ..." or
// UNAVAILABLE "--<port_flag> P: cannot listen on H:P: <strerror> (<hint>)".
absl::Status CheckCanListen(const std::string& host, int port, const char* port_flag);

}  // namespace inferd::server

#endif  // INFERD_SERVER_LISTEN_PREFLIGHT_H_
