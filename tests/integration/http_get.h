// tests/integration/http_get.h — a blocking HTTP/1.0 GET for tests (the
// daemon's /metrics, Prometheus' HTTP API), and a free local TCP port.
// Plain sockets: libcurl is not a dependency.
#ifndef INFERD_TESTS_INTEGRATION_HTTP_GET_H_
#define INFERD_TESTS_INTEGRATION_HTTP_GET_H_

#include <chrono>
#include <optional>
#include <string>

namespace inferd::testing {

struct HttpResponse {
  int status = 0;    // 200, 404, ...
  std::string body;  // without the headers
};

// GET http://127.0.0.1:<port><target> ("/metrics", "/api/v1/query?query=up"),
// each socket operation bounded by `timeout`. nullopt, with the reason in
// *error, when it cannot connect or the answer is not HTTP.
std::optional<HttpResponse> HttpGet(int port, const std::string& target, std::string* error,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Percent-encodes `text` for a query string value.
std::string UrlEncode(const std::string& text);

// A TCP port free on 127.0.0.1 when called (for a child told which port to
// use); 0 when none could be found.
int FreeLocalPort();

}  // namespace inferd::testing

#endif  // INFERD_TESTS_INTEGRATION_HTTP_GET_H_
