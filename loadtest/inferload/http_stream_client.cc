// loadtest/inferload/http_stream_client.cc
#include "loadtest/inferload/http_stream_client.h"

#include <array>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "boost/asio.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "loadtest/inferload/openai_stream.h"
#include "nlohmann/json.hpp"

namespace inferd::inferload {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr int kOk = 0;
constexpr int kCancelled = static_cast<int>(absl::StatusCode::kCancelled);
constexpr int kUnavailable = static_cast<int>(absl::StatusCode::kUnavailable);
constexpr int kInternal = static_cast<int>(absl::StatusCode::kInternal);
// An error response's body is kept up to this size for its message.
constexpr size_t kMaxErrorBodyBytes = 64 << 10;

// What a connection needs of the client (HttpStreamClient::Impl).
class Pool {
 public:
  virtual ~Pool() = default;
  virtual double Now() const = 0;
  virtual const tcp::resolver::results_type& endpoints() const = 0;
  virtual const std::string& host() const = 0;
  virtual const std::string& address() const = 0;  // "HOST:PORT" for messages
  // The request ends: `record` to the owner, `reusable` (null: closed) back
  // to the idle connections. Once, on the I/O thread.
  virtual void Finish(uint64_t id, RequestRecord record, bool reusable) = 0;
  // A reused connection failed before any byte of the response: send the
  // request again on a fresh one.
  virtual void Retry(uint64_t id, std::string request, RequestRecord record) = 0;
};

class Connection {
 public:
  virtual ~Connection() = default;
  // Sends `request` (the whole HTTP request) and reads its response.
  virtual void Begin(uint64_t id, std::string request, RequestRecord record) = 0;
  // Closes the connection: the request in flight ends CANCELLED.
  virtual void Cancel() = 0;
  // Closes an idle connection.
  virtual void Close() = 0;
};

// One connection; Stream is PlainStream or TlsStream. I/O thread only.
template <class Stream>
class StreamConnection final : public Connection,
                               public std::enable_shared_from_this<StreamConnection<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  StreamConnection(asio::io_context& ioc, asio::ssl::context* tls, Pool* pool)
      : stream_(MakeStream(ioc, tls)), pool_(pool) {}

  void Begin(uint64_t id, std::string request, RequestRecord record) override {
    id_ = id;
    request_ = std::move(request);
    record_ = std::move(record);
    active_ = true;
    cancelled_ = false;
    reused_ = connected_;
    response_started_ = false;
    saw_done_ = false;
    http_status_ = 0;
    text_chunks_ = 0;
    error_body_.clear();
    error_code_.reset();
    error_message_.clear();
    sse_ = SseReader();
    if (connected_) return Send();
    Connect();
  }

  void Cancel() override {
    cancelled_ = true;
    Close();
  }

  void Close() override {
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
    connected_ = false;
  }

 private:
  static Stream MakeStream(asio::io_context& ioc, asio::ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(ioc, *tls);
    } else {
      return Stream(ioc);
    }
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void Connect() {
    Lowest().async_connect(pool_->endpoints(), [self = this->shared_from_this()](
                                                   beast::error_code ec, const tcp::endpoint&) {
      self->OnConnect(ec);
    });
  }

  void OnConnect(beast::error_code ec) {
    if (ec) return Fail(ec, "cannot connect to");
    beast::error_code ignored;
    Lowest().socket().set_option(tcp::no_delay(true), ignored);
    if constexpr (kTls) {
      const std::string& host = pool_->host();
      beast::error_code not_an_address;
      asio::ip::make_address(host, not_an_address);
      // SNI names a host, never an address (RFC 6066).
      if (not_an_address) SSL_set_tlsext_host_name(stream_.native_handle(), host.c_str());
      stream_.set_verify_callback(asio::ssl::host_name_verification(host));
      stream_.async_handshake(asio::ssl::stream_base::client,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->Fail(ec, "TLS handshake failed with");
                                self->connected_ = true;
                                self->Send();
                              });
    } else {
      connected_ = true;
      Send();
    }
  }

  void Send() {
    asio::async_write(stream_, asio::buffer(request_),
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->Fail(ec, "cannot send to");
                        self->parser_.emplace();
                        self->parser_->body_limit(std::numeric_limits<uint64_t>::max());
                        self->ReadSome();
                      });
  }

  void ReadSome() {
    parser_->get().body().data = body_.data();
    parser_->get().body().size = body_.size();
    bhttp::async_read_some(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::need_buffer) ec = {};  // the body buffer is full: drain it
    if (ec) return Fail(ec, "connection lost to");
    const double now = pool_->Now();
    response_started_ = true;
    const size_t n = body_.size() - parser_->get().body().size;
    if (http_status_ == 0 && parser_->is_header_done()) http_status_ = parser_->get().result_int();
    if (http_status_ != 200) {
      error_body_.append(body_.data(), std::min(n, kMaxErrorBodyBytes - error_body_.size()));
    } else if (n > 0) {
      events_.clear();
      if (absl::Status s = sse_.Feed(absl::string_view(body_.data(), n), &events_); !s.ok()) {
        return End(kInternal, std::string(s.message()));
      }
      for (const std::string& data : events_) {
        absl::StatusOr<CompletionEvent> event = ReadCompletionEvent(data);
        if (!event.ok()) return End(kInternal, std::string(event.status().message()));
        if (event->has_text) {
          record_.chunks.push_back({now, 1});
          ++text_chunks_;
        }
        if (event->completion_tokens.has_value()) {
          record_.has_usage = true;
          record_.prompt_tokens = *event->prompt_tokens;
          record_.completion_tokens = *event->completion_tokens;
          record_.cached_tokens = event->cached_tokens;
        }
        if (event->error_code.has_value() && !error_code_.has_value()) {
          error_code_ = event->error_code;
          error_message_ = std::move(event->error_message);
        }
        if (event->done) saw_done_ = true;
      }
    }
    if (!parser_->is_done()) return ReadSome();
    if (http_status_ != 200) return End(CodeForHttpStatus(http_status_), ErrorText());
    if (error_code_.has_value()) return End(*error_code_, error_message_);
    if (!saw_done_) {
      return End(kInternal,
                 absl::StrCat("the event stream from ", pool_->address(), " ended without [DONE]"));
    }
    // With the usage the server's count; without, one token per text chunk.
    record_.output_tokens = record_.has_usage ? record_.completion_tokens : text_chunks_;
    End(kOk, "", parser_->get().keep_alive());
  }

  // "HTTP 401: <the error object's message>" (or the body's start).
  std::string ErrorText() const {
    const nlohmann::json json = nlohmann::json::parse(error_body_, nullptr, false);
    std::string message;
    if (json.is_object() && json.contains("error") && json["error"].is_object() &&
        json["error"].contains("message") && json["error"]["message"].is_string()) {
      message = json["error"]["message"].get<std::string>();
    } else {
      message = error_body_.substr(0, 200);
    }
    return absl::StrCat("HTTP ", http_status_, " from ", pool_->address(), ": ", message);
  }

  void Fail(beast::error_code ec, const char* what) {
    if (!active_) return;
    if (cancelled_) return End(kCancelled, "cancelled by inferload");
    if (reused_ && !response_started_) {
      // The server closed the idle connection first: try a fresh one.
      active_ = false;
      Close();
      return pool_->Retry(id_, std::move(request_), std::move(record_));
    }
    End(kUnavailable, absl::StrCat(what, " ", pool_->address(), ": ", ec.message()));
  }

  void End(int code, std::string message, bool reusable = false) {
    if (!active_) return;
    active_ = false;
    record_.end_s = pool_->Now();
    record_.status_code = code;
    record_.error_message = std::move(message);
    if (!reusable) Close();
    pool_->Finish(id_, std::move(record_), reusable);
  }

  Stream stream_;
  Pool* const pool_;
  bool connected_ = false;
  beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  std::array<char, 16 << 10> body_;
  std::vector<std::string> events_;
  // The request in flight.
  uint64_t id_ = 0;
  std::string request_;
  RequestRecord record_;
  bool active_ = false;
  bool cancelled_ = false;
  bool reused_ = false;
  bool response_started_ = false;
  bool saw_done_ = false;
  int http_status_ = 0;
  int64_t text_chunks_ = 0;
  SseReader sse_;
  std::string error_body_;
  std::optional<int> error_code_;
  std::string error_message_;
};

std::string Bracketed(const std::string& host) {
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]") : host;
}

}  // namespace

struct HttpStreamClient::Impl final : Pool {
  Impl(const LoadClient* owner, const HttpEndpoint& endpoint, SamplingOptions sampling)
      : owner(owner),
        host_(endpoint.host),
        address_(absl::StrCat(Bracketed(endpoint.host), ":", endpoint.port)),
        sampling(sampling) {
    head = absl::StrCat("POST /v1/completions HTTP/1.1\r\nHost: ", address_,
                        "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n");
    if (!endpoint.api_key.empty()) {
      absl::StrAppend(&head, "Authorization: Bearer ", endpoint.api_key, "\r\n");
    }
  }

  double Now() const override { return owner->Now(); }
  const tcp::resolver::results_type& endpoints() const override { return endpoints_; }
  const std::string& host() const override { return host_; }
  const std::string& address() const override { return address_; }

  std::string Request(const std::string& body) const {
    return absl::StrCat(head, "Content-Length: ", body.size(), "\r\n\r\n", body);
  }

  // I/O thread.
  void Begin(uint64_t id, std::string request, RequestRecord record) {
    std::shared_ptr<Connection> connection;
    if (!idle.empty()) {
      connection = std::move(idle.back());
      idle.pop_back();
    } else if (tls.has_value()) {
      connection = std::make_shared<StreamConnection<TlsStream>>(ioc, &*tls, this);
    } else {
      connection = std::make_shared<StreamConnection<PlainStream>>(ioc, nullptr, this);
    }
    running[id] = connection;
    connection->Begin(id, std::move(request), std::move(record));
  }

  void Finish(uint64_t id, RequestRecord record, bool reusable) override {
    auto it = running.find(id);
    if (reusable) idle.push_back(std::move(it->second));
    running.erase(it);
    // Notify under the lock: the owner may destroy the client once it has
    // collected the last record.
    std::lock_guard<std::mutex> lock(mu);
    finished.push_back(std::move(record));
    cv.notify_one();
  }

  void Retry(uint64_t id, std::string request, RequestRecord record) override {
    // The failed connection stays alive in its handler until this returns.
    running.erase(id);
    asio::post(ioc, [this, id, request = std::move(request), record = std::move(record)]() mutable {
      // No idle connection is taken: they may be as stale as the last one.
      std::shared_ptr<Connection> connection;
      if (tls.has_value()) {
        connection = std::make_shared<StreamConnection<TlsStream>>(ioc, &*tls, this);
      } else {
        connection = std::make_shared<StreamConnection<PlainStream>>(ioc, nullptr, this);
      }
      running[id] = connection;
      connection->Begin(id, std::move(request), std::move(record));
    });
  }

  const LoadClient* const owner;
  const std::string host_;
  const std::string address_;
  const SamplingOptions sampling;
  std::string head;  // the request line and headers up to Content-Length
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ioc);
  tcp::resolver::results_type endpoints_;
  std::optional<asio::ssl::context> tls;
  std::thread thread;
  uint64_t next_id = 0;  // owner thread
  // I/O thread only.
  std::vector<std::shared_ptr<Connection>> idle;
  std::map<uint64_t, std::shared_ptr<Connection>> running;
  // Shared with the owner.
  mutable std::mutex mu;
  std::condition_variable cv;
  std::vector<RequestRecord> finished;  // guarded by mu
  int64_t in_flight = 0;                // guarded by mu: started, not yet collected
};

absl::StatusOr<std::unique_ptr<HttpStreamClient>> HttpStreamClient::Create(
    const HttpEndpoint& endpoint, Clock::time_point start, SamplingOptions sampling) {
  std::unique_ptr<HttpStreamClient> client(new HttpStreamClient(start, nullptr));
  auto impl = std::make_unique<Impl>(client.get(), endpoint, sampling);
  beast::error_code ec;
  tcp::resolver resolver(impl->ioc);
  impl->endpoints_ = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (ec || impl->endpoints_.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", impl->address(), ": ", ec ? ec.message() : "no address"));
  }
  if (endpoint.tls) {
    asio::ssl::context context(asio::ssl::context::tls_client);
    context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                            asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                            asio::ssl::context::no_tlsv1_1,
                        ec);
    if (!ec) context.add_certificate_authority(asio::buffer(endpoint.ca_pem), ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("--tls-ca: ", ec.message()));
    context.set_verify_mode(asio::ssl::verify_peer, ec);
    if (!endpoint.cert_pem.empty()) {
      context.use_certificate_chain(asio::buffer(endpoint.cert_pem), ec);
      if (ec) return absl::InvalidArgumentError(absl::StrCat("--tls-cert: ", ec.message()));
      context.use_private_key(asio::buffer(endpoint.key_pem), asio::ssl::context::pem, ec);
      if (ec) return absl::InvalidArgumentError(absl::StrCat("--tls-key: ", ec.message()));
    }
    impl->tls.emplace(std::move(context));
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->ioc.run(); });
  client->impl_ = std::move(impl);
  return client;
}

HttpStreamClient::HttpStreamClient(Clock::time_point start, std::unique_ptr<Impl> impl)
    : LoadClient(start), impl_(std::move(impl)) {}

HttpStreamClient::~HttpStreamClient() {
  if (impl_ == nullptr) return;
  CancelAll();
  std::vector<RequestRecord> ignored;
  while (in_flight() > 0) WaitForFinished(Clock::now() + std::chrono::seconds(1), &ignored);
  Impl* impl = impl_.get();
  asio::post(impl->ioc, [impl] {
    for (const std::shared_ptr<Connection>& connection : impl->idle) connection->Close();
    impl->idle.clear();
  });
  impl->work.reset();
  impl->thread.join();
}

void HttpStreamClient::Start(const RequestSpec& spec, RequestRecord record) {
  Impl* impl = impl_.get();
  std::string request = impl->Request(CompletionRequestBody(spec, impl->sampling));
  {
    std::lock_guard<std::mutex> lock(impl->mu);
    ++impl->in_flight;
  }
  const uint64_t id = impl->next_id++;
  record.send_s = Now();
  asio::post(impl->ioc,
             [impl, id, request = std::move(request), record = std::move(record)]() mutable {
               impl->Begin(id, std::move(request), std::move(record));
             });
}

void HttpStreamClient::WaitForFinished(Clock::time_point deadline,
                                       std::vector<RequestRecord>* out) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->cv.wait_until(lock, deadline, [this] { return !impl_->finished.empty(); });
  impl_->in_flight -= static_cast<int64_t>(impl_->finished.size());
  for (RequestRecord& record : impl_->finished) out->push_back(std::move(record));
  impl_->finished.clear();
}

int64_t HttpStreamClient::in_flight() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->in_flight;
}

void HttpStreamClient::CancelAll() {
  Impl* impl = impl_.get();
  asio::post(impl->ioc, [impl] {
    for (auto& [id, connection] : impl->running) connection->Cancel();
  });
}

}  // namespace inferd::inferload
