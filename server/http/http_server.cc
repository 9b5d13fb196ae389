// server/http/http_server.cc
#include "server/http/http_server.h"

#include <chrono>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "server/http/http_error.h"
#include "server/request_log.h"
#include "server/status_mapping.h"

namespace inferd::server::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

// Posts to the server thread while it runs; the engine thread's notify hooks
// go through it, so none can post to an io_context being destroyed.
class Poster {
 public:
  explicit Poster(asio::io_context* ioc) : ioc_(ioc) {}
  template <class F>
  void Post(F f) {
    absl::MutexLock lock(&mu_);
    if (ioc_ != nullptr) asio::post(*ioc_, std::move(f));
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    ioc_ = nullptr;
  }

 private:
  absl::Mutex mu_;
  asio::io_context* ioc_ ABSL_GUARDED_BY(mu_);
};

std::string StatusLine(int status) {
  return absl::StrCat("HTTP/1.1 ", status, " ",
                      std::string(bhttp::obsolete_reason(static_cast<bhttp::status>(status))),
                      "\r\n");
}

// One piece of a chunked body.
std::string Chunk(const std::string& data) {
  if (data.empty()) return "";
  return absl::StrCat(absl::Hex(data.size()), "\r\n", data, "\r\n");
}

std::string CompleteResponse(int status, const std::string& content_type, const std::string& body,
                             bool close, const std::string& allow, bool head) {
  std::string out = StatusLine(status);
  absl::StrAppend(&out, "Content-Type: ", content_type, "\r\nContent-Length: ", body.size(),
                  "\r\n");
  if (!allow.empty()) absl::StrAppend(&out, "Allow: ", allow, "\r\n");
  if (close) absl::StrAppend(&out, "Connection: close\r\n");
  absl::StrAppend(&out, "\r\n");
  if (!head) absl::StrAppend(&out, body);
  return out;
}

// What the server needs of a connection of either kind.
class Closable {
 public:
  virtual ~Closable() = default;
  virtual void Close() = 0;  // the server is stopping
};

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection; Stream is PlainStream or TlsStream.
template <class Stream>
class Session final : public Closable, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  // `tls` is null for a plain stream.
  Session(tcp::socket socket, asio::ssl::context* tls, OpenAiService* service,
          const HttpServerOptions& options, std::shared_ptr<Poster> poster)
      : stream_(MakeStream(std::move(socket), tls)),
        service_(service),
        options_(options),
        poster_(std::move(poster)) {}

  ~Session() { EndGeneration(/*abort=*/true); }

  void Start() {
    if constexpr (kTls) {
      Lowest().expires_after(ToChrono(kRequestReadTimeout));
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->Shutdown();  // not TLS, no client cert, ...
                                self->ReadHeader();
                              });
    } else {
      ReadHeader();
    }
  }

  void Close() override { ClientGone(); }

 private:
  static Stream MakeStream(tcp::socket socket, asio::ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(kMaxHeaderBytes));
    parser_->body_limit(static_cast<uint64_t>(options_.max_body_bytes));
    Lowest().expires_after(ToChrono(kRequestReadTimeout));
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  // Answers a read error; true when there was one.
  bool ReadFailed(beast::error_code ec) {
    if (!ec) return false;
    if (ec == bhttp::error::header_limit) {
      SendError(MakeError(
          431, absl::StrCat("the request header is larger than ", kMaxHeaderBytes, " bytes"),
          "request_header_too_large"));
    } else if (ec == bhttp::error::body_limit) {
      SendError(MakeError(413,
                          absl::StrCat("the request body is larger than --max-request-bytes (",
                                       options_.max_body_bytes, " bytes)"),
                          "request_too_large"));
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
               ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      SendError(MakeError(400, absl::StrCat("malformed HTTP request: ", ec.message())));
    } else {
      Shutdown();  // closed, reset or timed out: nobody to answer
    }
    return true;
  }

  void OnHeader(beast::error_code ec) {
    if (ReadFailed(ec)) return;
    if (beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
      out_ = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(out_),
                        [self = this->shared_from_this()](beast::error_code ec, size_t) {
                          if (ec) return self->Shutdown();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        if (self->ReadFailed(ec)) return;
                        self->Lowest().expires_never();
                        self->Dispatch();
                      });
  }

  void Dispatch() {
    const bhttp::request<bhttp::string_body>& request = parser_->get();
    keep_alive_ = request.keep_alive();
    // HTTP/1.0 has no chunked encoding: its stream is the bare events, ended
    // by closing the connection.
    chunked_ = request.version() >= 11;
    if (!chunked_) keep_alive_ = false;
    head_ = request.method() == bhttp::verb::head;
    const std::string method(request.method_string());
    const std::string target(request.target());
    const beast::string_view auth = request[bhttp::field::authorization];
    std::weak_ptr<Session> weak = this->weak_from_this();
    Reply reply = service_->Handle(
        {method, target, request.body(), absl::string_view(auth.data(), auth.size())},
        [weak, poster = poster_] {
          poster->Post([weak] {
            if (std::shared_ptr<Session> self = weak.lock()) self->Pump();
          });
        });
    parser_.reset();
    if (reply.channels.empty()) {
      Send(CompleteResponse(reply.status, reply.content_type, reply.body, !keep_alive_, reply.allow,
                            head_));
      return;
    }
    generating_ = true;
    start_ = std::chrono::steady_clock::now();
    first_output_.reset();
    channels_ = std::move(reply.channels);
    responder_ = std::move(reply.responder);
    request_ids_ = std::move(reply.request_ids);
    streaming_ = reply.stream;
    if (streaming_) {
      std::string head = StatusLine(200);
      absl::StrAppend(&head, "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n",
                      chunked_ ? "Transfer-Encoding: chunked\r\n" : "",
                      keep_alive_ ? "" : "Connection: close\r\n", "\r\n",
                      Frame(responder_->Start()));
      Write(std::move(head));
    }
    Watch();
    Pump();
  }

  // A piece of a streamed body as sent: a chunk, or bare bytes (HTTP/1.0).
  std::string Frame(const std::string& data) const { return chunked_ ? Chunk(data) : data; }

  // A complete response; then the next request, or a close.
  void Send(std::string bytes) {
    out_ = std::move(bytes);
    Lowest().expires_after(ToChrono(kRequestReadTimeout));
    asio::async_write(stream_, asio::buffer(out_),
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        self->Lowest().expires_never();
                        if (ec || !self->keep_alive_) return self->Shutdown();
                        self->ReadHeader();
                      });
  }

  void SendError(const HttpError& error) {
    keep_alive_ = false;
    Send(CompleteResponse(error.status, "application/json", ErrorJson(error), true, "", false));
  }

  // A read kept pending while the engine runs the request: the client
  // closing the connection ends it. Bytes that arrive (a pipelined request)
  // are kept for the next parse.
  void Watch() {
    if (watching_ || gone_ || buffer_.size() > static_cast<size_t>(kMaxHeaderBytes)) return;
    watching_ = true;
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              self->OnWatch(ec, n);
                            });
  }

  void OnWatch(beast::error_code ec, size_t n) {
    watching_ = false;
    if (!ec) buffer_.commit(n);
    if (generating_) {
      if (ec) return ClientGone();
      return Watch();
    }
    if (resume_) {  // the response is written: on to the next request
      resume_ = false;
      if (ec && ec != asio::error::operation_aborted) return Shutdown();
      ReadHeader();
    }
  }

  // Engine output -> bytes on the wire, one write at a time.
  void Pump() {
    if (!generating_ || writing_) return;
    std::string bytes;
    for (size_t i = 0; i < channels_.size(); ++i) {
      const int index = static_cast<int>(i);
      while (!responder_->finished(index)) {
        std::optional<engine::RequestOutput> output = channels_[i]->TryPop();
        if (!output.has_value()) break;
        if (!first_output_.has_value() && !output->token_ids.empty()) {
          first_output_ = std::chrono::steady_clock::now();
        }
        std::string piece = responder_->Consume(index, *output);
        absl::StrAppend(&bytes, streaming_ ? Frame(piece) : piece);
      }
    }
    if (gone_) {
      if (responder_->finished()) EndGeneration(/*abort=*/false);
      return;
    }
    if (responder_->finished()) {
      final_written_ = true;
      if (streaming_) {
        if (chunked_) absl::StrAppend(&bytes, "0\r\n\r\n");
      } else {
        bytes = CompleteResponse(responder_->status(), "application/json", bytes, !keep_alive_, "",
                                 head_);
      }
    }
    if (!bytes.empty()) Write(std::move(bytes));
  }

  void Write(std::string bytes) {
    writing_ = true;
    out_ = std::move(bytes);
    if (options_.write_timeout > absl::ZeroDuration()) {
      Lowest().expires_after(ToChrono(options_.write_timeout));
    }
    asio::async_write(
        stream_, asio::buffer(out_),
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(beast::error_code ec) {
    writing_ = false;
    Lowest().expires_never();
    if (ec) {
      if (ec == beast::error::timeout) service_->CountStreamWriteTimeout();
      return ClientGone();
    }
    if (!final_written_) return Pump();
    final_written_ = false;
    EndGeneration(/*abort=*/false);
    if (!keep_alive_) return Shutdown();
    if (watching_) {
      resume_ = true;  // OnWatch reads the next request
      beast::error_code ignored;
      Lowest().socket().cancel(ignored);
      return;
    }
    ReadHeader();
  }

  // The client went away (or the server stops): abort the request and close.
  void ClientGone() {
    if (gone_) return;
    gone_ = true;
    if (generating_) AbortUnfinished();
    Shutdown();
    if (generating_) Pump();  // drops what is pending; ends when the final chunk was seen
  }

  void EndGeneration(bool abort) {
    if (!generating_) return;
    if (abort) AbortUnfinished();
    if (RequestLog* log = service_->request_log(); log != nullptr) {
      const auto now = std::chrono::steady_clock::now();
      for (size_t i = 0; i < request_ids_.size(); ++i) {
        const int index = static_cast<int>(i);
        RequestRecord record;
        record.request_id = request_ids_[i];
        const engine::Usage& usage = responder_->usage(index);
        record.prompt_tokens = usage.prompt_tokens;
        record.completion_tokens = usage.completion_tokens;
        record.cached_tokens = usage.cached_tokens;
        record.finish_reason = responder_->finish_reason(index);
        // As a gRPC call would end: the request's error, or CANCELLED when
        // the client went first.
        record.code = !responder_->finished(index) || gone_
                          ? grpc::StatusCode::CANCELLED
                          : ToGrpcCode(responder_->status(index).code());
        if (first_output_.has_value()) {
          record.ttft_s = std::chrono::duration<double>(*first_output_ - start_).count();
        }
        record.e2e_s = std::chrono::duration<double>(now - start_).count();
        log->Add(std::move(record));
      }
    }
    generating_ = false;
    channels_.clear();
    responder_.reset();
    service_->streams()->Remove();
  }

  void AbortUnfinished() {
    for (size_t i = 0; i < request_ids_.size(); ++i) {
      if (!responder_->finished(static_cast<int>(i))) service_->Abort(request_ids_[i]);
    }
  }

  void Shutdown() {
    gone_ = true;
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().socket().close(ignored);
  }

  Stream stream_;
  OpenAiService* const service_;
  const HttpServerOptions options_;
  const std::shared_ptr<Poster> poster_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string out_;  // the bytes being written
  bool keep_alive_ = true;
  bool chunked_ = true;  // HTTP/1.1: streamed bodies are chunked
  bool head_ = false;
  // The generation in flight.
  bool generating_ = false;
  bool streaming_ = false;
  std::vector<std::shared_ptr<engine::OutputChannel>> channels_;  // one per choice
  std::unique_ptr<OpenAiResponder> responder_;
  std::vector<std::string> request_ids_;
  bool writing_ = false;
  bool final_written_ = false;  // the last write of the response is in flight
  bool watching_ = false;
  bool resume_ = false;  // read the next request once the watch read returns
  bool gone_ = false;
  // For the request log.
  std::chrono::steady_clock::time_point start_;
  std::optional<std::chrono::steady_clock::time_point> first_output_;
};

// The server side of TLS from the PEM files (already checked by
// server/auth): TLS 1.2 or later; with a client CA, a client certificate
// signed by it is required.
absl::StatusOr<asio::ssl::context> TlsContext(const HttpServerOptions& options) {
  asio::ssl::context context(asio::ssl::context::tls_server);
  beast::error_code ec;
  context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                          asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                          asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                      ec);
  if (!ec) context.use_certificate_chain_file(options.tls_cert, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--tls-cert: ", ec.message()));
  context.use_private_key_file(options.tls_key, asio::ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--tls-key: ", ec.message()));
  if (!options.tls_client_ca.empty()) {
    context.load_verify_file(options.tls_client_ca, ec);
    if (!ec) {
      context.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
    }
    if (ec) return absl::InvalidArgumentError(absl::StrCat("--tls-client-ca: ", ec.message()));
  }
  return context;
}

}  // namespace

struct HttpServer::State {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer retry{ioc};
  OpenAiService* service = nullptr;
  HttpServerOptions options;
  std::shared_ptr<Poster> poster = std::make_shared<Poster>(&ioc);
  std::optional<asio::ssl::context> tls;          // TLS on the port
  std::vector<std::weak_ptr<Closable>> sessions;  // server thread only
  std::thread thread;
  int port = 0;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {  // out of descriptors, ...: try again shortly
        retry.expires_after(std::chrono::milliseconds(50));
        retry.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec) Accept();
        });
        return;
      }
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::erase_if(sessions, [](const std::weak_ptr<Closable>& s) { return s.expired(); });
      if (tls.has_value()) {
        auto session = std::make_shared<Session<TlsStream>>(std::move(socket), &*tls, service,
                                                            options, poster);
        sessions.push_back(session);
        session->Start();
      } else {
        auto session = std::make_shared<Session<PlainStream>>(std::move(socket), nullptr, service,
                                                              options, poster);
        sessions.push_back(session);
        session->Start();
      }
      Accept();
    });
  }
};

HttpServer::HttpServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& host, int port,
                                                              OpenAiService* service,
                                                              HttpServerOptions options) {
  auto state = std::make_unique<State>();
  state->service = service;
  state->options = options;
  if (!options.tls_cert.empty()) {
    absl::StatusOr<asio::ssl::context> tls = TlsContext(options);
    if (!tls.ok()) return tls.status();
    state->tls.emplace(*std::move(tls));
  }
  const std::string where = absl::StrCat(host, ":", port);
  beast::error_code ec;
  tcp::resolver resolver(state->ioc);
  const std::string bare_host = host.size() > 2 && host.front() == '[' && host.back() == ']'
                                    ? host.substr(1, host.size() - 2)
                                    : host;
  tcp::resolver::results_type endpoints =
      resolver.resolve(bare_host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", where,
        " (--http-port): cannot resolve the host: ", ec ? ec.message() : "no address"));
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  tcp::acceptor& acceptor = state->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", where, " (--http-port): ", ec.message()));
  }
  state->port = acceptor.local_endpoint().port();
  state->Accept();
  State* raw = state.get();
  state->thread = std::thread([raw] { raw->ioc.run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

HttpServer::~HttpServer() {
  State* state = state_.get();
  state->poster->Close();
  asio::post(state->ioc, [state] {
    beast::error_code ignored;
    state->acceptor.close(ignored);
    state->retry.cancel();
    for (const std::weak_ptr<Closable>& weak : state->sessions) {
      if (std::shared_ptr<Closable> session = weak.lock()) session->Close();
    }
    state->ioc.stop();
  });
  state->thread.join();
  // ~State destroys the handlers left in the io_context, and with them the
  // sessions (each aborts its request).
}

int HttpServer::port() const { return state_->port; }

}  // namespace inferd::server::http
