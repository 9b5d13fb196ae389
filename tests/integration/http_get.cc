// tests/integration/http_get.cc
#include "tests/integration/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace inferd::testing {

namespace {

// Closes the descriptor when it goes out of scope.
class Socket {
 public:
  Socket() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

std::optional<HttpResponse> HttpGet(int port, const std::string& target, std::string* error,
                                    std::chrono::milliseconds timeout) {
  Socket sock;
  if (sock.fd() < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return std::nullopt;
  }
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(sock.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(sock.fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  const sockaddr_in addr = Loopback(port);
  if (connect(sock.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    *error = "connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno);
    return std::nullopt;
  }
  const std::string request = "GET " + target +
                              " HTTP/1.0\r\nHost: 127.0.0.1:" + std::to_string(port) +
                              "\r\nConnection: close\r\n\r\n";
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(sock.fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      *error = std::string("send: ") + std::strerror(errno);
      return std::nullopt;
    }
    sent += static_cast<size_t>(n);
  }
  std::string raw;  // HTTP/1.0: the server closes the connection after the body
  char buffer[16384];
  while (true) {
    const ssize_t n = recv(sock.fd(), buffer, sizeof(buffer), 0);
    if (n == 0) break;
    if (n < 0) {
      *error = std::string("recv: ") + std::strerror(errno);
      return std::nullopt;
    }
    raw.append(buffer, static_cast<size_t>(n));
  }
  const size_t end_of_headers = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/", 0) != 0 || end_of_headers == std::string::npos) {
    *error = "not an HTTP response: " + raw.substr(0, 200);
    return std::nullopt;
  }
  HttpResponse response;
  const size_t space = raw.find(' ');
  response.status = std::atoi(raw.c_str() + space + 1);
  response.body = raw.substr(end_of_headers + 4);
  return response;
}

std::string UrlEncode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

int FreeLocalPort() {
  Socket sock;
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof(addr);
  if (sock.fd() < 0 || bind(sock.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(sock.fd(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 0;
  }
  return ntohs(addr.sin_port);
}

}  // namespace inferd::testing
