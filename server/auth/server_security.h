// server/auth/server_security.h — the credentials of the gRPC port from the
// security flags of `inferd serve`:
//
//   (none)                              plaintext, no authentication
//   --tls-cert F --tls-key F            TLS
//   ... --tls-client-ca F               mutual TLS: clients present a
//                                       certificate signed by that CA
//   ... --api-key-file F                every call but grpc.health.v1.Health
//                                       needs `authorization: Bearer <key>`
//
// --tls-cert and --tls-key go together; --tls-client-ca and --api-key-file
// need them (api_key_authenticator.h says why keys need TLS). Every file is
// read and checked here, before the port opens.
#ifndef INFERD_SERVER_AUTH_SERVER_SECURITY_H_
#define INFERD_SERVER_AUTH_SERVER_SECURITY_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace inferd::server {

struct SecurityFlags {
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string api_key_file;
};

struct ServerSecurity {
  std::shared_ptr<grpc::ServerCredentials> credentials;  // for AddListeningPort
  bool tls = false;
  bool mutual_tls = false;
  size_t num_api_keys = 0;  // 0: no API keys required
  bool certificate_expired = false;
};

// The flags as given on the command line.
SecurityFlags SecurityFlagsFromCommandLine();

// Checks the combination, loads the files, builds the credentials.
// `on_auth_failure` runs once per call refused for its API key (may be
// empty). INVALID_ARGUMENT naming the flag (and file) otherwise.
absl::StatusOr<ServerSecurity> LoadServerSecurity(const SecurityFlags& flags,
                                                  std::function<void()> on_auth_failure);

}  // namespace inferd::server

#endif  // INFERD_SERVER_AUTH_SERVER_SECURITY_H_
