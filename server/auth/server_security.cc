// server/auth/server_security.cc
#include "server/auth/server_security.h"

#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "server/auth/api_key_authenticator.h"
#include "server/auth/api_key_set.h"
#include "server/auth/tls_credentials.h"
#include "server/flags.h"

namespace inferd::server {

SecurityFlags SecurityFlagsFromCommandLine() {
  return {.tls_cert = absl::GetFlag(FLAGS_tls_cert),
          .tls_key = absl::GetFlag(FLAGS_tls_key),
          .tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca),
          .api_key_file = absl::GetFlag(FLAGS_api_key_file)};
}

absl::StatusOr<ServerSecurity> LoadServerSecurity(const SecurityFlags& flags,
                                                  std::function<void()> on_auth_failure) {
  const bool tls = !flags.tls_cert.empty() || !flags.tls_key.empty();
  if (tls && (flags.tls_cert.empty() || flags.tls_key.empty())) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key go together: give both (the server certificate and its "
        "private key) or neither");
  }
  if (!tls && !flags.tls_client_ca.empty()) {
    return absl::InvalidArgumentError(
        "--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first");
  }
  if (!tls && !flags.api_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--api-key-file needs --tls-cert and --tls-key: a bearer key sent over plaintext can "
        "be read and replayed by anyone on the path");
  }
  ServerSecurity security;
  if (!tls) {
    security.credentials = grpc::InsecureServerCredentials();
    return security;
  }
  absl::StatusOr<TlsConfig> config = LoadTlsConfig({.cert_path = flags.tls_cert,
                                                    .key_path = flags.tls_key,
                                                    .client_ca_path = flags.tls_client_ca});
  if (!config.ok()) return config.status();
  security.tls = true;
  security.mutual_tls = !config->client_ca_pem.empty();
  security.certificate_expired = config->certificate_expired;
  security.credentials = MakeTlsServerCredentials(*config);
  if (!flags.api_key_file.empty()) {
    absl::StatusOr<ApiKeySet> keys = ApiKeySet::LoadFile(flags.api_key_file);
    if (!keys.ok()) return keys.status();
    security.num_api_keys = keys->size();
    security.credentials->SetAuthMetadataProcessor(
        std::make_shared<ApiKeyAuthenticator>(*std::move(keys), std::move(on_auth_failure)));
  }
  return security;
}

}  // namespace inferd::server
