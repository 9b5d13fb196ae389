// server/auth/tls_credentials.cc
#include "server/auth/tls_credentials.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/auth/secret_file.h"

namespace inferd::server {

namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Never prompts for a passphrase (OpenSSL would read the terminal): an
// encrypted key fails to load.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return -1; }

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Leaves the thread's OpenSSL error queue empty on every path (gRPC's TLS
// code reads the same per-thread queue).
struct ClearOpenSslErrors {
  ~ClearOpenSslErrors() { ERR_clear_error(); }
};

// Every certificate of a PEM text, in order. INVALID_ARGUMENT naming `what`
// when there is none or one is corrupt.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(const std::string& pem,
                                                       const std::string& what) {
  ClearOpenSslErrors clear;
  BioPtr bio = MemoryBio(pem);
  std::vector<X509Ptr> certs;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    if (cert == nullptr) break;
    certs.push_back(std::move(cert));
  }
  // The loop ends at the end of the text (no further BEGIN line) or at a
  // block that does not parse.
  const unsigned long error = ERR_peek_last_error();
  const bool at_end =
      ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE;
  if (!at_end && error != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, "certificate ", certs.size() + 1, " is not a valid PEM certificate (",
                     ERR_reason_error_string(error) != nullptr ? ERR_reason_error_string(error)
                                                               : "unknown error",
                     ")"));
  }
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, "no PEM certificate (-----BEGIN CERTIFICATE-----) in the file"));
  }
  return certs;
}

absl::StatusOr<PkeyPtr> ParsePrivateKey(const std::string& pem, const std::string& what) {
  ClearOpenSslErrors clear;
  BioPtr bio = MemoryBio(pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key != nullptr) return key;
  if (absl::StrContains(pem, "ENCRYPTED")) {
    return absl::InvalidArgumentError(
        absl::StrCat(what,
                     "the private key is encrypted; inferd needs it unencrypted (protect the file "
                     "instead: a Kubernetes secret mounted read-only)"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, "no PEM private key (-----BEGIN PRIVATE KEY-----) in the file"));
}

}  // namespace

absl::StatusOr<TlsConfig> LoadTlsConfig(const TlsFiles& files) {
  TlsConfig config;
  absl::StatusOr<std::string> cert = ReadSecretFile("tls-cert", files.cert_path);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadSecretFile("tls-key", files.key_path);
  if (!key.ok()) return key.status();
  const std::string cert_what = absl::StrCat("--tls-cert ", files.cert_path, ": ");
  const std::string key_what = absl::StrCat("--tls-key ", files.key_path, ": ");
  absl::StatusOr<std::vector<X509Ptr>> chain = ParseCertificates(*cert, cert_what);
  if (!chain.ok()) return chain.status();
  absl::StatusOr<PkeyPtr> pkey = ParsePrivateKey(*key, key_what);
  if (!pkey.ok()) return pkey.status();
  {
    ClearOpenSslErrors clear;
    X509* leaf = chain->front().get();
    if (X509_check_private_key(leaf, pkey->get()) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(key_what, "the key does not match the certificate of --tls-cert ",
                       files.cert_path, " (the server certificate must come first in that file)"));
    }
    config.certificate_expired = X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0;
  }
  config.cert_chain_pem = *std::move(cert);
  config.private_key_pem = *std::move(key);
  if (!files.client_ca_path.empty()) {
    absl::StatusOr<std::string> ca = ReadSecretFile("tls-client-ca", files.client_ca_path);
    if (!ca.ok()) return ca.status();
    absl::StatusOr<std::vector<X509Ptr>> roots =
        ParseCertificates(*ca, absl::StrCat("--tls-client-ca ", files.client_ca_path, ": "));
    if (!roots.ok()) return roots.status();
    config.client_ca_pem = *std::move(ca);
  }
  return config;
}

std::shared_ptr<grpc::ServerCredentials> MakeTlsServerCredentials(const TlsConfig& config) {
  const bool mutual = !config.client_ca_pem.empty();
  grpc::SslServerCredentialsOptions options(
      mutual ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
             : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_root_certs = config.client_ca_pem;
  options.pem_key_cert_pairs.push_back({config.private_key_pem, config.cert_chain_pem});
  return grpc::SslServerCredentials(options);
}

}  // namespace inferd::server
