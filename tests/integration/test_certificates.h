// tests/integration/test_certificates.h — real X.509 material for the TLS
// tests, made at run time by the `openssl` command line in a fresh temporary
// directory (removed by the destructor):
//
//   ca.crt / ca.key                 the test CA
//   server.crt / server.key         signed by it; SAN IP:127.0.0.1, DNS:localhost
//   client.crt / client.key         signed by it (mutual TLS)
//   other_ca.crt                    a second CA nobody trusts
//   untrusted_client.crt / .key     signed by other_ca
//
// EC P-256 keys (fast to make); certificates valid for two days.
#ifndef INFERD_TESTS_INTEGRATION_TEST_CERTIFICATES_H_
#define INFERD_TESTS_INTEGRATION_TEST_CERTIFICATES_H_

#include <memory>
#include <string>
#include <vector>

#include "grpcpp/security/credentials.h"

namespace inferd::testing {

class TestCertificates {
 public:
  // Null, with the reason in *error, when openssl is missing or fails.
  static std::unique_ptr<TestCertificates> Create(std::string* error);
  ~TestCertificates();
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;

  // <dir>/<name>: "ca.crt", "server.key", ...
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& dir() const { return dir_; }

  // The server flags: --tls-cert server.crt --tls-key server.key.
  std::vector<std::string> ServerTlsArgs() const;

  // A client trusting ca.crt; with a client certificate when `cert`/`key`
  // name one ("client.crt", "client.key").
  std::shared_ptr<grpc::ChannelCredentials> ClientCredentials(const std::string& cert = "",
                                                              const std::string& key = "") const;

 private:
  explicit TestCertificates(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// True when `openssl` is on PATH.
bool HaveOpenssl();

// A channel of its own (its own TCP connection: no subchannel shared with
// other channels of the process) to `address`.
std::shared_ptr<grpc::Channel> NewConnection(const std::string& address,
                                             std::shared_ptr<grpc::ChannelCredentials> credentials);

}  // namespace inferd::testing

#endif  // INFERD_TESTS_INTEGRATION_TEST_CERTIFICATES_H_
