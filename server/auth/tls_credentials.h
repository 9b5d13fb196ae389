// server/auth/tls_credentials.h — the gRPC port's TLS: the PEM files of
// --tls-cert, --tls-key and --tls-client-ca, read and checked at start-up, and
// the grpc::ServerCredentials made from them.
//
// Everything is checked before the port opens, with OpenSSL (the library
// gRPC itself links): the certificate file holds at least one certificate
// (the server's first, then its chain), the key file one unencrypted private
// key that matches it, the client CA file at least one certificate. Errors
// name the flag and the file; file contents never appear in a message.
//
// With a client CA (mutual TLS) every client must present a certificate
// signed by it; without one, clients are not asked for a certificate.
// Certificates are read once: rotating them takes a restart (a rolling
// restart on Kubernetes).
#ifndef INFERD_SERVER_AUTH_TLS_CREDENTIALS_H_
#define INFERD_SERVER_AUTH_TLS_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace inferd::server {

struct TlsFiles {
  std::string cert_path;       // --tls-cert
  std::string key_path;        // --tls-key
  std::string client_ca_path;  // --tls-client-ca; empty: no client certificates
};

// The checked PEM texts.
struct TlsConfig {
  std::string cert_chain_pem;
  std::string private_key_pem;
  std::string client_ca_pem;         // empty: no mutual TLS
  bool certificate_expired = false;  // the server certificate's notAfter has passed
};

// Reads and checks the files. INVALID_ARGUMENT naming the flag and the file
// when one is unreadable, holds no PEM block of the right kind, or when the
// key does not match the certificate.
absl::StatusOr<TlsConfig> LoadTlsConfig(const TlsFiles& files);

// SslServerCredentials from a checked config (mutual TLS when it has a client
// CA: REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY).
std::shared_ptr<grpc::ServerCredentials> MakeTlsServerCredentials(const TlsConfig& config);

}  // namespace inferd::server

#endif  // INFERD_SERVER_AUTH_TLS_CREDENTIALS_H_
