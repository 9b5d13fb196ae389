// tools/client_security/channel_credentials.h — the client side of inferd's
// TLS and API keys, shared by inferctl and inferload: their flags and the
// grpc::ChannelCredentials made from them.
//
//   (none)                        plaintext
//   --tls-ca FILE                 TLS; the server's certificate must be signed
//                                 by a CA in FILE and name the host of --addr
//   --tls-cert F --tls-key F      mutual TLS: this client's certificate
//   --api-key KEY | --api-key-file FILE
//                                 every call carries `authorization: Bearer
//                                 KEY` (the first key line of FILE: blank
//                                 lines and '#' comments skipped); TLS only
//
// The key rides as gRPC call credentials, which gRPC sends over secure
// channels only: hence --api-key needs --tls-ca.
#ifndef INFERD_TOOLS_CLIENT_SECURITY_CHANNEL_CREDENTIALS_H_
#define INFERD_TOOLS_CLIENT_SECURITY_CHANNEL_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"

ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, api_key);
ABSL_DECLARE_FLAG(std::string, api_key_file);

namespace inferd::client_security {

struct ClientSecurity {
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string api_key;
  std::string api_key_file;
};

ClientSecurity ClientSecurityFromFlags();

// What the flags name, read and checked: the PEM texts and the key. For a
// client that makes its own TLS connections (inferload's HTTP client).
struct ClientSecrets {
  bool tls = false;      // --tls-ca given
  std::string ca_pem;    // tls
  std::string cert_pem;  // mutual TLS; empty otherwise
  std::string key_pem;
  std::string api_key;  // empty: none
};

// The files read and the combination checked, with the errors of
// MakeChannelCredentials.
absl::StatusOr<ClientSecrets> LoadClientSecrets(const ClientSecurity& security);

// Reads the files and builds the credentials. INVALID_ARGUMENT naming the
// flag (and file) when a file cannot be read, holds no PEM block, has no key,
// or the combination is wrong; never quotes a key.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientSecurity& security);

}  // namespace inferd::client_security

#endif  // INFERD_TOOLS_CLIENT_SECURITY_CHANNEL_CREDENTIALS_H_
