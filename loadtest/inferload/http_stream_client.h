// loadtest/inferload/http_stream_client.h — the OpenAI-protocol LoadClient:
// each request is `POST /v1/completions` with `stream: true`
// (openai_stream.h) over an HTTP/1.1 keep-alive connection, many at once on
// one I/O thread (Boost.Beast/Asio), without a thread per stream.
//
// A request takes an idle connection or opens one (TCP_NODELAY; TLS with
// the server's certificate checked against the CA and the host, optionally
// a client certificate; `Authorization: Bearer KEY` with a key). The body
// is read as it arrives: each read that completes an event carrying text is
// one chunk, stamped with the time the read returned, as the gRPC client
// stamps each message; the usage event gives the token counts. The
// connection returns to the pool after `[DONE]` and the end of the body.
//
// Errors: a failed connect, reset or early close is UNAVAILABLE naming the
// address; a status other than 200 maps as CodeForHttpStatus with the error
// object's message; an error event as CodeForErrorType; bytes that are not
// the event stream, or a body that ends without `[DONE]`, INTERNAL;
// CancelAll closes the connections in flight (CANCELLED).
#ifndef INFERD_LOADTEST_INFERLOAD_HTTP_STREAM_CLIENT_H_
#define INFERD_LOADTEST_INFERLOAD_HTTP_STREAM_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadtest/inferload/load_client.h"

namespace inferd::inferload {

struct HttpEndpoint {
  std::string host;  // a name or an address (IPv6 without brackets)
  int port = 0;
  // TLS when set: the PEM CA certificate(s) the server's certificate must
  // chain to; cert/key: this client's (mutual TLS).
  bool tls = false;
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
  std::string api_key;  // empty: no Authorization header
};

class HttpStreamClient final : public LoadClient {
 public:
  // Resolves the host (UNAVAILABLE naming it when that fails), sets up TLS
  // (INVALID_ARGUMENT for PEM text OpenSSL rejects) and starts the I/O
  // thread. Record times are seconds since `start`.
  static absl::StatusOr<std::unique_ptr<HttpStreamClient>> Create(const HttpEndpoint& endpoint,
                                                                  Clock::time_point start,
                                                                  SamplingOptions sampling);
  // Cancels what is in flight, waits for it, and stops the thread.
  ~HttpStreamClient() override;
  HttpStreamClient(const HttpStreamClient&) = delete;
  HttpStreamClient& operator=(const HttpStreamClient&) = delete;

  void Start(const RequestSpec& spec, RequestRecord record) override;
  void WaitForFinished(Clock::time_point deadline, std::vector<RequestRecord>* out) override;
  int64_t in_flight() const override;
  void CancelAll() override;

  struct Impl;  // the Asio side (http_stream_client.cc)

 private:
  HttpStreamClient(Clock::time_point start, std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd::inferload

#endif  // INFERD_LOADTEST_INFERLOAD_HTTP_STREAM_CLIENT_H_
