// tests/fuzz/http_request_fuzz.cc — arbitrary bytes as an HTTP/1.1 request to
// the OpenAI-compatible API: parsed as server/http/http_server.cc parses them
// (Beast's request_parser with the server's header limit and a body limit),
// and a request that parses is routed by OpenAiService (no engine: the model
// is "loading"; with API keys on every other input). Parsing ends with a
// request or an error, never a crash; every reply is 401, 404, 405 or 503
// (nothing is ready without an engine) with a JSON body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "boost/asio/buffer.hpp"
#include "boost/beast/http.hpp"
#include "nlohmann/json.hpp"
#include "server/auth/api_key_set.h"
#include "server/http/http_server.h"
#include "server/http/openai_service.h"
#include "server/metrics/prometheus_metrics.h"

namespace {

namespace bhttp = boost::beast::http;
namespace http = inferd::server::http;

constexpr int64_t kBodyLimit = 64 << 10;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* metrics = new inferd::server::PrometheusMetrics("fuzz");
  static auto* keys = new inferd::server::ApiKeySet(
      *inferd::server::ApiKeySet::Parse("fuzz-key-0123456789abcdef\n", "keys"));
  static auto* open = new http::OpenAiService(metrics, nullptr, 0);
  static auto* keyed = [] {
    auto* service = new http::OpenAiService(metrics, nullptr, 0);
    service->SetApiKeys(keys);
    return service;
  }();

  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(http::kMaxHeaderBytes));
  parser.body_limit(kBodyLimit);
  parser.eager(true);
  boost::beast::error_code ec;
  // As http::async_read feeds it: the bytes so far; after need_more, only
  // more bytes (here: none, the end of the stream) may follow.
  size_t offset = 0;
  while (offset < size && !parser.is_done()) {
    const size_t used = parser.put(boost::asio::buffer(data + offset, size - offset), ec);
    offset += used;
    if (ec == bhttp::error::need_more) {
      ec = {};
      parser.put_eof(ec);  // the client closed: complete only a body that ends there
      break;
    }
    if (ec) return 0;  // the server answers 400, 413 or 431 and closes
    if (used == 0) break;
  }
  if (ec) return 0;
  if (!parser.is_done()) return 0;  // incomplete: the server waits, then times out
  const bhttp::request<bhttp::string_body>& request = parser.get();
  const std::string method(request.method_string());
  const std::string target(request.target());
  const boost::beast::string_view auth = request[bhttp::field::authorization];
  const http::HttpRequestView view{method, target, request.body(),
                                   absl::string_view(auth.data(), auth.size())};
  http::OpenAiService* service = (size % 2 == 0) ? open : keyed;
  const http::Reply reply = service->Handle(view, [] {});
  if (!reply.channels.empty()) abort();  // no engine: nothing can be admitted
  switch (reply.status) {                // nothing is ready or admitted without an engine
    case 401:
    case 404:
    case 405:
    case 503:
      break;
    default:
      abort();
  }
  if (!nlohmann::json::accept(reply.body)) abort();
  return 0;
}
