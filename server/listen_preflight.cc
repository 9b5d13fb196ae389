// server/listen_preflight.cc
#include "server/listen_preflight.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace inferd::server {

namespace {

std::string Hint(int error, const char* port_flag) {
  switch (error) {
    case EADDRINUSE:
      // --metrics-port and --http-port (default 8000, which other servers
      // like to take too) can also be turned off.
      return absl::StrCat("another process listens there: stop it, or choose another ", port_flag,
                          std::strcmp(port_flag, "--port") == 0 ? " (0: any free port)"
                                                                : " (0: any free port; -1: none)");
    case EADDRNOTAVAIL:
      return "the address is not one of this machine's: use 127.0.0.1, 0.0.0.0 (all IPv4 "
             "interfaces), :: or an address of a local interface";
    case EACCES:
      return "ports below 1024 need root or CAP_NET_BIND_SERVICE";
    default:
      return "";
  }
}

}  // namespace

absl::Status CheckCanListen(const std::string& host, int port, const char* port_flag) {
  std::string name = host;
  if (absl::StartsWith(name, "[") && absl::EndsWith(name, "]")) {
    name = name.substr(1, name.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = absl::StrCat(port);
  if (const int rc = getaddrinfo(name.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--host ", host,
        ": cannot resolve: ", rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc)));
  }
  absl::Status status = absl::OkStatus();
  for (addrinfo* a = found; a != nullptr && status.ok(); a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;  // e.g. IPv6 disabled: the servers skip it too
    const int one = 1;
    // SO_REUSEADDR as every server sets it (a port in TIME_WAIT is free);
    // not SO_REUSEPORT, so a port another process listens on is refused.
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0) {
      const int error = errno;
      const std::string hint = Hint(error, port_flag);
      status = absl::UnavailableError(absl::StrCat(
          error == EADDRNOTAVAIL ? "--host " : absl::StrCat(port_flag, " "),
          error == EADDRNOTAVAIL ? host : service, ": cannot listen on ",
          absl::StrContains(name, ':') ? absl::StrCat("[", name, "]") : name, ":", port, ": ",
          std::strerror(error), hint.empty() ? "" : absl::StrCat(" (", hint, ")")));
    }
    ::close(fd);
  }
  freeaddrinfo(found);
  return status;
}

}  // namespace inferd::server
