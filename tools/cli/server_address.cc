// tools/cli/server_address.cc
#include "tools/cli/server_address.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace inferd::cli {

namespace {

absl::Status Bad(const char* flag, const std::string& address, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(flag, " ", address, ": ", why));
}

// "HOST:PORT" or "[V6]:PORT" (authority part only).
absl::Status CheckHostPort(const char* flag, const std::string& address,
                           absl::string_view host_port) {
  size_t colon = host_port.rfind(':');
  if (absl::StartsWith(host_port, "[")) {
    const size_t close = host_port.find(']');
    if (close == absl::string_view::npos) return Bad(flag, address, "unclosed '[' in the host");
    colon = close + 1 < host_port.size() && host_port[close + 1] == ':' ? close + 1
                                                                        : absl::string_view::npos;
  } else if (colon != absl::string_view::npos && host_port.find(':') != colon) {
    return Bad(flag, address, "an IPv6 address needs brackets: [::1]:50051");
  }
  if (colon == absl::string_view::npos || colon == 0) {
    return Bad(flag, address, "expected HOST:PORT (e.g. 127.0.0.1:50051)");
  }
  const absl::string_view port_text = host_port.substr(colon + 1);
  int64_t port = 0;
  bool digits = !port_text.empty() && port_text.size() <= 10;
  for (char c : port_text) digits = digits && absl::ascii_isdigit(static_cast<unsigned char>(c));
  if (!digits || !absl::SimpleAtoi(port_text, &port)) {
    return Bad(flag, address, absl::StrCat("port \"", port_text, "\" is not a number"));
  }
  if (port < 1 || port > 65535) {
    return Bad(flag, address, absl::StrCat("port ", port, " is outside 1..65535"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckServerAddress(const char* flag, const std::string& address) {
  if (address.empty()) return Bad(flag, address, "empty (expected HOST:PORT)");
  // gRPC target URIs: unix sockets have no port; the others name one.
  if (absl::StartsWith(address, "unix:") || absl::StartsWith(address, "unix-abstract:")) {
    return absl::OkStatus();
  }
  for (absl::string_view scheme : {"dns:", "ipv4:", "ipv6:"}) {
    if (!absl::StartsWith(address, scheme)) continue;
    absl::string_view rest = absl::string_view(address).substr(scheme.size());
    if (absl::StartsWith(rest, "//")) {  // dns://AUTHORITY/HOST:PORT
      const size_t slash = rest.find('/', 2);
      if (slash == absl::string_view::npos) return Bad(flag, address, "expected dns:///HOST:PORT");
      rest = rest.substr(slash + 1);
    }
    // ipv4:/ipv6: may list several addresses separated by commas.
    for (size_t start = 0; start <= rest.size();) {
      size_t comma = rest.find(',', start);
      if (comma == absl::string_view::npos) comma = rest.size();
      if (absl::Status s = CheckHostPort(flag, address, rest.substr(start, comma - start));
          !s.ok()) {
        return s;
      }
      start = comma + 1;
    }
    return absl::OkStatus();
  }
  return CheckHostPort(flag, address, address);
}

}  // namespace inferd::cli
