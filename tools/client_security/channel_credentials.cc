// tools/client_security/channel_credentials.cc
#include "tools/client_security/channel_credentials.h"

#include <map>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/regular_file.h"

ABSL_FLAG(std::string, tls_ca, "",
          "Connect with TLS: PEM file of the CA(s) that signed the server's certificate");
ABSL_FLAG(std::string, tls_cert, "",
          "Mutual TLS: PEM file with this client's certificate (with --tls-key and --tls-ca)");
ABSL_FLAG(std::string, tls_key, "", "Mutual TLS: PEM file with the private key of --tls-cert");
ABSL_FLAG(std::string, api_key, "",
          "API key sent as 'authorization: Bearer <key>' on every call (needs --tls-ca); "
          "prefer --api-key-file, which keeps the key out of the process list");
ABSL_FLAG(std::string, api_key_file, "",
          "File whose first key line ('#' comments and blank lines skipped) is the API key");

namespace inferd::client_security {

namespace {

constexpr int64_t kMaxFileBytes = 1 << 20;

absl::StatusOr<std::string> ReadFile(const char* flag, const std::string& path) {
  absl::StatusOr<std::string> text = ReadRegularFile(path, kMaxFileBytes);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", text.status().message()));
  }
  return text;
}

absl::StatusOr<std::string> ReadPem(const char* flag, const std::string& path, const char* kind) {
  absl::StatusOr<std::string> text = ReadFile(flag, path);
  if (!text.ok()) return text.status();
  if (!absl::StrContains(*text, "-----BEGIN ")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " ", path, ": no PEM ", kind, " (-----BEGIN ...) in the file"));
  }
  return text;
}

// The first line that is neither blank nor a '#' comment.
absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile("api-key-file", path);
  if (!text.ok()) return text.status();
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty() && line.front() != '#') return std::string(line);
  }
  return absl::InvalidArgumentError(absl::StrCat("--api-key-file ", path, ": no key in the file"));
}

// Adds the key to every call.
class BearerKeyPlugin final : public grpc::MetadataCredentialsPlugin {
 public:
  explicit BearerKeyPlugin(std::string key) : value_(absl::StrCat("Bearer ", key)) {}
  bool IsBlocking() const override { return false; }
  const char* GetType() const override { return "inferd-api-key"; }
  grpc::Status GetMetadata(grpc::string_ref /*service_url*/, grpc::string_ref /*method_name*/,
                           const grpc::AuthContext& /*channel_auth_context*/,
                           std::multimap<std::string, std::string>* metadata) override {
    metadata->emplace("authorization", value_);
    return grpc::Status::OK;
  }
  // Shown in gRPC's debug output: never the key.
  std::string DebugString() override { return "BearerKeyPlugin"; }

 private:
  const std::string value_;
};

}  // namespace

ClientSecurity ClientSecurityFromFlags() {
  return {.tls_ca = absl::GetFlag(FLAGS_tls_ca),
          .tls_cert = absl::GetFlag(FLAGS_tls_cert),
          .tls_key = absl::GetFlag(FLAGS_tls_key),
          .api_key = absl::GetFlag(FLAGS_api_key),
          .api_key_file = absl::GetFlag(FLAGS_api_key_file)};
}

absl::StatusOr<ClientSecrets> LoadClientSecrets(const ClientSecurity& s) {
  const bool has_key = !s.api_key.empty() || !s.api_key_file.empty();
  if (!s.api_key.empty() && !s.api_key_file.empty()) {
    return absl::InvalidArgumentError("give --api-key or --api-key-file, not both");
  }
  if (s.tls_cert.empty() != s.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  ClientSecrets secrets;
  if (s.tls_ca.empty()) {
    if (!s.tls_cert.empty()) {
      return absl::InvalidArgumentError("--tls-cert needs --tls-ca (mutual TLS is TLS first)");
    }
    if (has_key) {
      return absl::InvalidArgumentError(
          "--api-key and --api-key-file need --tls-ca: the key is only sent over TLS");
    }
    return secrets;
  }
  secrets.tls = true;
  absl::StatusOr<std::string> ca = ReadPem("tls-ca", s.tls_ca, "certificate");
  if (!ca.ok()) return ca.status();
  secrets.ca_pem = *std::move(ca);
  if (!s.tls_cert.empty()) {
    absl::StatusOr<std::string> cert = ReadPem("tls-cert", s.tls_cert, "certificate");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem("tls-key", s.tls_key, "private key");
    if (!key.ok()) return key.status();
    secrets.cert_pem = *std::move(cert);
    secrets.key_pem = *std::move(key);
  }
  secrets.api_key = s.api_key;
  if (secrets.api_key.empty() && !s.api_key_file.empty()) {
    absl::StatusOr<std::string> from_file = ReadKeyFile(s.api_key_file);
    if (!from_file.ok()) return from_file.status();
    secrets.api_key = *std::move(from_file);
  }
  return secrets;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ClientSecurity& s) {
  absl::StatusOr<ClientSecrets> secrets = LoadClientSecrets(s);
  if (!secrets.ok()) return secrets.status();
  if (!secrets->tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = std::move(secrets->ca_pem);
  options.pem_cert_chain = std::move(secrets->cert_pem);
  options.pem_private_key = std::move(secrets->key_pem);
  std::shared_ptr<grpc::ChannelCredentials> channel = grpc::SslCredentials(options);
  if (secrets->api_key.empty()) return channel;
  return grpc::CompositeChannelCredentials(
      channel, grpc::MetadataCredentialsFromPlugin(
                   std::make_unique<BearerKeyPlugin>(std::move(secrets->api_key))));
}

}  // namespace inferd::client_security
