// server/http/http_server.h — the HTTP/1.1 transport of the OpenAI-compatible
// API (openai_service.h), on Boost.Beast/Asio (docs/openai-api.md: why).
//
// One thread runs every connection's asynchronous reads and writes: a
// connection costs a socket and its buffers, not a thread, so many
// long-lived SSE streams are held with one thread. The engine thread only
// posts to it (an output channel's notify hook); all connection state is
// touched on the server thread alone.
//
// Per connection: keep-alive; a request's header is read (at most
// kMaxHeaderBytes: more is 431), `Expect: 100-continue` is answered, then the
// body (more than `max_body_bytes`, --max-request-bytes, is 413 before it is
// read); a request that does not arrive whole within kRequestReadTimeout
// (slow or idle clients) closes the connection; bytes that are not HTTP/1.x
// get 400 and a close. Every error body is OpenAI's error object.
//
// While a generation runs, the connection keeps a read pending: the client
// closing or resetting it aborts the engine request (Engine::Abort, which
// frees its KV blocks), as a gRPC cancel does; so does a failed write, and a
// write that stays pending for `write_timeout` (--stream-write-timeout: a
// client that stopped reading).
//
// With TLS, each connection first completes a TLS handshake (1.2 or later;
// with a client CA, mutual TLS) within kRequestReadTimeout; a client that
// fails it is closed.
#ifndef INFERD_SERVER_HTTP_HTTP_SERVER_H_
#define INFERD_SERVER_HTTP_HTTP_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/http/openai_service.h"

namespace inferd::server::http {

inline constexpr int64_t kMaxHeaderBytes = 16 << 10;
inline constexpr absl::Duration kRequestReadTimeout = absl::Seconds(30);

struct HttpServerOptions {
  int64_t max_body_bytes = 4 << 20;
  absl::Duration write_timeout = absl::ZeroDuration();  // zero: none
  // TLS as on the gRPC port (--tls-cert, --tls-key, --tls-client-ca): PEM
  // files; an empty tls_cert is plain HTTP.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
};

class HttpServer {
 public:
  // Listens on host:port (0: a free port) and starts the server thread.
  // UNAVAILABLE naming the address when it cannot listen. `service` must
  // outlive the server.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& host, int port,
                                                           OpenAiService* service,
                                                           HttpServerOptions options);
  // Closes the listener and every connection (aborting their requests) and
  // joins the thread.
  ~HttpServer();

  int port() const;

  struct State;  // the Asio side (http_server.cc)

 private:
  explicit HttpServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace inferd::server::http

#endif  // INFERD_SERVER_HTTP_HTTP_SERVER_H_
